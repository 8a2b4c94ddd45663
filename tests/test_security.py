"""Security: CSRF on every kind of form, staff accounts and their sessions, login throttling,
production settings, secret rotation, and the headers of every HTML page.

The admin guard walk and the `next` table live in test_auth_and_admin.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from helpdesk.extensions import db
from helpdesk.models import Integration, Rule, Ticket, TicketEvent, User
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import login, make_ticket, soup, text_of

ROOT = Path(__file__).resolve().parent.parent
SESSION_ENDED = "Your session has ended"


@pytest.fixture(autouse=True)
def fresh_g_per_request(app):
    """Give every test-client request its own `g`, as in production.

    The shared `app` fixture holds an app context for the whole test, and Flask reuses it for
    each request, so `g` (Flask-Login's cached user, Flask-WTF's token) would carry over
    from one client's request to another's. These tests use several sessions at once.
    """
    from flask import g

    def reset():
        for name in ("_login_user", "csrf_token"):
            g.pop(name, None)

    app.before_request_funcs.setdefault(None, []).insert(0, reset)


def _client_as(app, email="admin@example.com", password="admin-password"):
    """A new client (its own cookie jar, so its own session) logged in."""
    client = app.test_client()
    login(client, email, password)
    return client


def _page_token(client, url="/") -> str:
    """The CSRF token a page of this session renders (the logout form is on every page)."""
    return soup(client.get(url)).select_one("form[action='/logout'] input[name=csrf_token]")[
        "value"]


def _users() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User))


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


# --- CSRF ------------------------------------------------------------------------------------

def _setup_update(ids):
    from helpdesk.models import Status

    solved = db.session.scalar(select(Status).where(Status.name == "Problem Solved"))
    url = f"/requests/{ids['ticket']}/update"
    return url, {"status_id": solved.id, "category_id": 0, "assignee_id": 0,
                 "close": "Save and close"}


def _state_update(ids):
    ticket = db.session.get(Ticket, ids["ticket"])
    events = db.session.scalar(select(func.count()).select_from(TicketEvent)
                               .where(TicketEvent.ticket_id == ids["ticket"]))
    return ticket.is_open, ticket.status.name, events


def _setup_token(ids):
    return "/admin/integrations/thermostat/token", {"token": ""}  # empty token disconnects


def _state_token(ids):
    integ = db.session.get(Integration, ids["integration"])
    return integ.state, integ.token_encrypted


def _setup_staff(ids):
    return "/admin/staff/new", {"name": "Mallory", "email": "mallory@example.com",
                                "role": "admin", "password": "mallory-password-123"}


def _state_staff(ids):
    return tuple(db.session.scalars(select(User.email).order_by(User.id)))


def _setup_toggle(ids):
    return f"/admin/rules/{ids['rule']}/toggle", {}


def _state_toggle(ids):
    return db.session.get(Rule, ids["rule"]).enabled


def _setup_logout(ids):
    return "/logout", {}


def _state_logout(ids):
    return ids["client"].get("/").status_code  # 200 while the session lives


FORGED = {
    "update request": (_setup_update, _state_update),
    "save token": (_setup_token, _state_token),
    "staff create": (_setup_staff, _state_staff),
    "rule toggle": (_setup_toggle, _state_toggle),
    "logout": (_setup_logout, _state_logout),
}


@pytest.fixture
def csrf_world(app, seeded):
    """An admin session and a second session, both logged in; then CSRF switched on."""
    from helpdesk.crypto import encrypt
    from helpdesk.thermostat.services import get_integration

    ticket = make_ticket()
    integ = get_integration()
    integ.token_encrypted = encrypt("a-stored-token-0123456789")
    integ.state = "connected"
    rule = db.session.scalar(select(Rule))
    db.session.commit()
    victim = _client_as(app)
    other = _client_as(app, "agent@example.com", "agent-password")
    app.config["WTF_CSRF_ENABLED"] = True
    return {"client": victim, "other": other, "ticket": ticket.id, "integration": integ.id,
            "rule": rule.id}


@pytest.mark.parametrize("forgery", ["no token", "another session's token", "garbage token"])
@pytest.mark.parametrize("route", list(FORGED))
def test_a_forged_post_is_refused_and_changes_nothing(csrf_world, route, forgery):
    setup, state = FORGED[route]
    client = csrf_world["client"]
    url, data = setup(csrf_world)
    if forgery == "another session's token":
        data = {**data, "csrf_token": _page_token(csrf_world["other"])}
    elif forgery == "garbage token":
        data = {**data, "csrf_token": "IjVmYz.forged.token"}
    db.session.expire_all()
    before = state(csrf_world)

    response = client.post(url, data=data)

    assert response.status_code == 400, (route, forgery)
    assert "The form expired or was not sent from this site" in text_of(response)
    db.session.expire_all()
    assert state(csrf_world) == before, (route, forgery)
    # the same post with this session's own token goes through: the refusal was the token
    accepted = client.post(url, data={**data, "csrf_token": _page_token(client)})
    assert accepted.status_code == 302, (route, accepted.get_data(as_text=True)[:300])
    db.session.expire_all()
    assert state(csrf_world) != before, route


def test_the_signed_inbound_route_needs_no_csrf_token(csrf_world):
    import json

    from helpdesk.results.signing import sign
    from helpdesk.thermostat.services import ensure_push_secret, get_integration

    secret = ensure_push_secret(get_integration())
    db.session.commit()
    body = json.dumps({"id": 901, "survey_id": 1, "score": 10, "type": "nps",
                       "custom_fields": {"xrequest": str(csrf_world["ticket"])}}).encode()
    response = csrf_world["client"].post("/inbound/thermostat", data=body, headers={
        "X-Signature": sign(secret, body), "Content-Type": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Ticket, csrf_world["ticket"]).survey_score == 10


# --- staff management ------------------------------------------------------------------------

def _create(client, **overrides):
    data = {"name": "Sam Support", "email": "sam@example.com", "role": "agent",
            "password": "correct-horse-battery"}
    data.update(overrides)
    return client.post("/admin/staff/new", data=data)


def _field_errors(response, name: str) -> list[str]:
    field = soup(response).find(attrs={"name": name}).find_parent(class_="field")
    return [p.get_text(strip=True) for p in field.select(".error")]


def test_admin_sees_staff_in_the_nav_and_the_list(admin_client):
    nav = {a.get_text(strip=True): a["href"] for a in soup(admin_client.get("/")).select(
        "header nav a")}
    assert nav["Staff"] == "/admin/staff/"
    rows = soup(admin_client.get("/admin/staff/")).select("#staff tr[data-user-id]")
    listed = {r.find_all("td")[1].get_text(strip=True): r.select_one(".role").get_text()
              for r in rows}
    assert listed == {"admin@example.com": "admin", "agent@example.com": "agent"}


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_admin_creates_an_account_that_can_log_in(app, admin_client, role):
    response = _create(admin_client, role=role, email="  Sam@Example.COM ")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/staff/"
    assert "Sam Support <sam@example.com> created." in text_of(admin_client.get("/admin/staff/"))
    user = _user("sam@example.com")
    assert (user.name, user.role, user.active) == ("Sam Support", role, True)
    assert user.password_hash != "correct-horse-battery"
    sam = _client_as(app, "sam@example.com", "correct-horse-battery")
    assert sam.get("/").status_code == 200
    assert (sam.get("/admin/staff/").status_code == 200) is (role == "admin")


@pytest.mark.parametrize("email", ["agent@example.com", "AGENT@example.com", " agent@Example.com "])
def test_a_duplicate_email_is_refused_on_the_field(admin_client, email):
    before = _users()
    response = _create(admin_client, email=email)
    assert response.status_code == 400
    assert _field_errors(response, "email") == ["agent@example.com already has an account"]
    assert _users() == before
    assert soup(response).find(attrs={"name": "password"}).get("value") in (None, "")


@pytest.mark.parametrize("overrides,field,message", [
    ({"password": "eleven-char"}, "password", "Use 12 to 200 characters"),
    ({"password": ""}, "password", "This field is required."),
    ({"email": "not-an-email"}, "email", "Invalid email address."),
    ({"name": ""}, "name", "This field is required."),
    ({"role": "owner"}, "role", "Not a valid choice."),
])
def test_invalid_accounts_are_refused_with_the_reason(admin_client, overrides, field, message):
    before = _users()
    response = _create(admin_client, **overrides)
    assert response.status_code == 400
    assert _field_errors(response, field) == [message]
    assert _users() == before


def test_a_twelve_character_password_is_enough(admin_client):
    assert _create(admin_client, password="twelve-chars").status_code == 302
    assert _user("sam@example.com") is not None


def _session_ended(client) -> None:
    """The next request of an ended session lands on the login page with the reason."""
    response = client.get("/requests/new")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    page = client.get("/login")
    assert SESSION_ENDED in text_of(page)
    assert client.get("/").status_code == 302  # and it stays logged out


def test_a_password_reset_logs_out_the_other_sessions(app, admin_client, seeded):
    agent_here = _client_as(app, "agent@example.com", "agent-password")
    agent_there = _client_as(app, "agent@example.com", "agent-password")
    agent_id = seeded["agent"].id
    response = admin_client.post(f"/admin/staff/{agent_id}/password", data={
        "password": "a-brand-new-password", "confirm": "a-brand-new-password"})
    assert response.status_code == 302
    assert "Password of Alex Agent reset" in text_of(admin_client.get(response.headers["Location"]))
    _session_ended(agent_here)
    _session_ended(agent_there)
    assert "Wrong email or password." in text_of(agent_here.post(
        "/login", data={"email": "agent@example.com", "password": "agent-password"}))
    fresh = _client_as(app, "agent@example.com", "a-brand-new-password")
    assert fresh.get("/").status_code == 200
    assert admin_client.get("/").status_code == 200  # the admin's session is untouched


def test_resetting_your_own_password_keeps_this_session_only(app, admin_client, seeded):
    elsewhere = _client_as(app)
    response = admin_client.post(f"/admin/staff/{seeded['admin'].id}/password", data={
        "password": "my-own-new-password", "confirm": "my-own-new-password"})
    assert response.status_code == 302
    assert admin_client.get("/").status_code == 200
    _session_ended(elsewhere)


@pytest.mark.parametrize("data,field,message", [
    ({"password": "short", "confirm": "short"}, "password", "Use 12 to 200 characters"),
    ({"password": "a-brand-new-password", "confirm": "a-different-password"}, "confirm",
     "The two passwords differ"),
])
def test_a_bad_reset_changes_nothing(app, admin_client, seeded, data, field, message):
    agent = _client_as(app, "agent@example.com", "agent-password")
    response = admin_client.post(f"/admin/staff/{seeded['agent'].id}/password", data=data)
    assert response.status_code == 400
    assert _field_errors(response, field) == [message]
    assert agent.get("/").status_code == 200
    assert _user("agent@example.com").session_version == 0


def test_deactivation_ends_the_session_and_reactivation_does_not_revive_it(app, admin_client,
                                                                            seeded):
    agent = _client_as(app, "agent@example.com", "agent-password")
    dormant = _client_as(app, "agent@example.com", "agent-password")  # no request until later
    agent_id = seeded["agent"].id
    response = admin_client.post(f"/admin/staff/{agent_id}/deactivate")
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"])
    assert "Alex Agent deactivated and logged out." in text_of(page)
    assert soup(page).select_one("#account .state").get_text() == "deactivated"
    _session_ended(agent)
    assert "Wrong email or password." in text_of(agent.post(
        "/login", data={"email": "agent@example.com", "password": "agent-password"}))

    assert admin_client.post(f"/admin/staff/{agent_id}/reactivate").status_code == 302
    assert _user("agent@example.com").active is True
    _session_ended(dormant)  # the session from before the deactivation stays ended
    assert _client_as(app, "agent@example.com", "agent-password").get("/").status_code == 200


def test_an_admin_cannot_deactivate_themself(admin_client, seeded):
    admin_id = seeded["admin"].id
    page = soup(admin_client.get(f"/admin/staff/{admin_id}"))
    assert page.find("button", string=re.compile("Deactivate")) is None
    response = admin_client.post(f"/admin/staff/{admin_id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in text_of(response)
    assert _user("admin@example.com").active is True
    assert admin_client.get("/").status_code == 200


def test_the_last_active_admin_cannot_be_deactivated(app, admin_client, seeded):
    from helpdesk.staff.services import StaffError, create_staff, deactivate_staff

    second = create_staff("Bea Boss", "bea@example.com", "admin", "bea-password-123")
    db.session.commit()
    # with two admins, one may deactivate the other
    assert admin_client.post(f"/admin/staff/{second.id}/deactivate").status_code == 302
    assert _user("bea@example.com").active is False
    # now Ada is the only active admin: nobody can deactivate her (the form never offers it to
    # herself; the service refuses it whoever asks)
    with pytest.raises(StaffError, match="last active admin"):
        deactivate_staff(_user("admin@example.com"), _user("agent@example.com"))
    db.session.rollback()
    assert _user("admin@example.com").active is True
    # an agent is never "the last admin": deactivating one works
    assert admin_client.post(f"/admin/staff/{seeded['agent'].id}/deactivate").status_code == 302


def test_a_session_of_an_unknown_account_ends_with_the_message(app, seeded):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "999:0"
        session["_fresh"] = True
    _session_ended(client)


# --- login throttling (real Redis) -----------------------------------------------------------

@pytest.fixture
def throttled(app, seeded, redis_url):
    """The app with the login limits switched on, counting in the test Redis."""
    from helpdesk.extensions import limiter

    app.config["RATELIMIT_ENABLED"] = True
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
    limiter.init_app(app)
    yield app


def _attempt(client, ip, email="admin@example.com", password="not-the-password"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_the_eleventh_bad_login_in_a_minute_is_429(throttled, redis_url):
    client = throttled.test_client()
    for attempt in range(10):
        response = _attempt(client, "203.0.113.7")
        assert response.status_code == 200, attempt
        assert "Wrong email or password." in text_of(response)
    blocked = _attempt(client, "203.0.113.7")
    assert blocked.status_code == 429
    assert soup(blocked).find("p").get_text() == \
        "Too many login attempts; try again in 1 minute."
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    # even the right password waits, and the page itself still opens
    assert _attempt(client, "203.0.113.7", password="admin-password").status_code == 429
    assert client.get("/login", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 200
    # the counters live in Redis, shared by every web worker
    assert Redis.from_url(redis_url).keys("*helpdesk-limits*")
    # from another address the right password still works
    other = throttled.test_client()
    ok = _attempt(other, "198.51.100.2", password="admin-password")
    assert ok.status_code == 302
    assert other.get("/").status_code == 200


def test_behind_a_trusted_proxy_the_throttle_counts_each_client(throttled):
    """TRUSTED_PROXIES=1: the address is the proxy's X-Forwarded-For, so one client's bad
    logins do not lock out everyone else behind the same proxy."""
    from helpdesk import create_app
    from helpdesk.config import TestingConfig

    same = ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI", "WTF_CSRF_ENABLED",
            "RATELIMIT_ENABLED", "THERMOSTAT_BASE_URL")
    proxied = create_app(TestingConfig, {**{k: throttled.config[k] for k in same},
                                         "TRUSTED_PROXIES": 1})
    client = proxied.test_client()

    def via_proxy(client_ip, password="not-the-password"):
        return client.post("/login", data={"email": "admin@example.com", "password": password},
                           environ_base={"REMOTE_ADDR": "10.0.0.2"},
                           headers={"X-Forwarded-For": client_ip})

    for attempt in range(10):
        assert via_proxy("203.0.113.9").status_code == 200, attempt
    assert via_proxy("203.0.113.9").status_code == 429
    assert via_proxy("198.51.100.9", password="admin-password").status_code == 302
    with proxied.app_context():
        db.engine.dispose()


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(throttled):
    client = throttled.test_client()
    for attempt in range(10):
        response = client.post("/login", data={"email": "admin@example.com", "password": "x"},
                               environ_base={"REMOTE_ADDR": "203.0.113.10"},
                               headers={"X-Forwarded-For": f"198.51.100.{attempt}"})
        assert response.status_code == 200, attempt
    assert _attempt(client, "203.0.113.10", password="admin-password").status_code == 429


def test_successful_logins_do_not_count(throttled):
    for _ in range(12):
        client = throttled.test_client()
        assert _attempt(client, "203.0.113.8", password="admin-password").status_code == 302


def test_one_account_is_throttled_across_addresses(throttled):
    client = throttled.test_client()
    for attempt in range(20):
        ip = f"192.0.2.{attempt // 2 + 1}"  # two tries per address: never the per-IP limit
        assert _attempt(client, ip, email=" Agent@Example.com").status_code == 200, attempt
    blocked = _attempt(client, "192.0.2.200", email="agent@example.com",
                       password="agent-password")
    assert blocked.status_code == 429
    assert re.fullmatch(r"Too many login attempts; try again in \d+ minutes?\.",
                        soup(blocked).find("p").get_text())
    # another account from the same fresh address is not affected
    assert _attempt(client, "192.0.2.200", password="admin-password").status_code == 302


def test_the_limits_are_off_unless_enabled(client, seeded):
    for _ in range(15):
        assert _attempt(client, "203.0.113.9").status_code == 200


# --- production settings ---------------------------------------------------------------------

GOOD_KEY = Fernet.generate_key().decode()
GOOD_SECRET = "x" * 48


@pytest.mark.parametrize("overrides,needle", [
    ({"SECRET_KEY": "dev-only-secret-key-change-me", "ENCRYPTION_KEYS": GOOD_KEY}, "SECRET_KEY"),
    ({"SECRET_KEY": "", "ENCRYPTION_KEYS": GOOD_KEY}, "SECRET_KEY"),
    ({"SECRET_KEY": "too-short-a-secret", "ENCRYPTION_KEYS": GOOD_KEY}, "SECRET_KEY"),
    ({"SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS"),
])
def test_production_refuses_to_start_without_real_secrets(tmp_path, overrides, needle):
    from helpdesk import create_app
    from helpdesk.config import Config

    with pytest.raises(RuntimeError, match=needle):
        create_app(Config, {"PRODUCTION": True, "SQLALCHEMY_DATABASE_URI":
                            f"sqlite:///{tmp_path / 'p.sqlite'}", **overrides})


def _production_config(tmp_path, **env) -> dict:
    """Start the app as `flask` would, in a fresh interpreter with this environment."""
    code = ("import json; from helpdesk import create_app; c = create_app().config; "
            "print(json.dumps({k: c[k] for k in ('SESSION_COOKIE_SECURE', "
            "'REMEMBER_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'REMEMBER_COOKIE_HTTPONLY', "
            "'SESSION_COOKIE_SAMESITE', 'REMEMBER_COOKIE_SAMESITE', 'SQLALCHEMY_ENGINE_OPTIONS')}))")
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SESSION_", "REMEMBER_", "HELPDESK_", "DB_"))}
    base.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite'}", **env})
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, env=base, capture_output=True,
                          text=True, timeout=60)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    import json

    return json.loads(done.stdout)


def test_production_cookies_are_secure_httponly_and_lax(tmp_path):
    prod = _production_config(tmp_path, HELPDESK_PRODUCTION="1", SECRET_KEY=GOOD_SECRET,
                              ENCRYPTION_KEYS=GOOD_KEY, DB_POOL_SIZE="7", DB_MAX_OVERFLOW="3")
    assert prod["SESSION_COOKIE_SECURE"] is True and prod["REMEMBER_COOKIE_SECURE"] is True
    assert prod["SESSION_COOKIE_HTTPONLY"] is True and prod["REMEMBER_COOKIE_HTTPONLY"] is True
    assert prod["SESSION_COOKIE_SAMESITE"] == "Lax" and prod["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert prod["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True, "pool_size": 7,
                                                 "max_overflow": 3}
    dev = _production_config(tmp_path)
    assert dev["SESSION_COOKIE_SECURE"] is False and dev["SESSION_COOKIE_HTTPONLY"] is True
    assert dev["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert dev["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    refused = _production_config(tmp_path, HELPDESK_PRODUCTION="1")
    assert "SECRET_KEY must be a random value" in refused["error"]


# --- secret rotation -------------------------------------------------------------------------

@pytest.fixture
def stored_secrets(app):
    """A token and a push secret stored with key 1 only."""
    from helpdesk.crypto import encrypt
    from helpdesk.thermostat.services import ensure_push_secret, get_integration

    keys = [Fernet.generate_key().decode() for _ in range(2)]
    app.config["ENCRYPTION_KEYS"] = keys[0]
    integ = get_integration()
    integ.token_encrypted = encrypt("the-thermostat-token-0123")
    push = ensure_push_secret(integ)
    db.session.commit()
    return {"keys": keys, "push": push, "before": (integ.token_encrypted,
                                                   integ.push_secret_encrypted)}


def _readable(app, keys: str):
    from helpdesk.crypto import decrypt
    from helpdesk.thermostat.services import current_token, get_integration

    app.config["ENCRYPTION_KEYS"] = keys
    db.session.expire_all()
    integ = get_integration()
    return current_token(integ), decrypt(integ.push_secret_encrypted)


def test_rotate_secrets_reencrypts_with_the_newest_key(app, stored_secrets):
    old, new = stored_secrets["keys"]
    app.config["ENCRYPTION_KEYS"] = f"{new},{old}"
    result = app.test_cli_runner().invoke(args=["rotate-secrets"])
    assert result.exit_code == 0, result.output
    assert "2 secret(s) re-encrypted with the newest key" in result.output
    assert _readable(app, new) == ("the-thermostat-token-0123", stored_secrets["push"])
    assert _readable(app, old) == (None, None)  # really re-encrypted, not merely readable


def test_dropping_the_old_key_before_rotating_loses_the_secrets(app, stored_secrets):
    old, new = stored_secrets["keys"]
    assert _readable(app, f"{new},{old}") == ("the-thermostat-token-0123",
                                               stored_secrets["push"])
    assert _readable(app, new) == (None, None)
    result = app.test_cli_runner().invoke(args=["rotate-secrets"])
    assert result.exit_code == 1
    assert "cannot be decrypted with any key in ENCRYPTION_KEYS: nothing was changed" in \
        result.output
    db.session.expire_all()
    integ = db.session.scalar(select(Integration))
    assert (integ.token_encrypted, integ.push_secret_encrypted) == stored_secrets["before"]
    assert _readable(app, old) == ("the-thermostat-token-0123", stored_secrets["push"])


def test_rotate_secrets_with_nothing_stored(app):
    result = app.test_cli_runner().invoke(args=["rotate-secrets"])
    assert result.exit_code == 0 and "0 secret(s) re-encrypted" in result.output


# --- headers of every HTML page ---------------------------------------------------------------

def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def _html_pages(app):
    """Every GET page of the app (int arguments 1, others 'x'), plus the error pages."""
    from flask import url_for

    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in {"static", "health"}:
                continue
            values = {a: 1 if isinstance(rule._converters[a], IntegerConverter) else "x"
                      for a in rule.arguments}
            urls.append(url_for(rule.endpoint, **values))
    return sorted(set(urls)) + ["/no/such/page", "/requests/999999"]


def test_every_html_page_has_a_strict_csp_and_no_inline_script(app, admin_client):
    make_ticket()
    checked = 0
    for url in _html_pages(app):
        response = admin_client.get(url)
        if response.mimetype != "text/html":
            continue
        csp = _csp(response)
        assert csp["script-src"] == ["'self'"], url
        assert csp["frame-ancestors"] == ["'none'"], url
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"], url
        assert response.headers["X-Frame-Options"] == "DENY", url
        page = soup(response)
        # the CSP would block inline code: the pages must not rely on any
        assert all(s.get("src") for s in page.find_all("script")), url
        assert not [t.name for t in page.find_all(True)
                    if any(a.lower().startswith("on") for a in t.attrs)], url
        assert not page.find_all(style=True), url
        checked += 1
    assert checked >= 10


def test_the_login_and_429_pages_have_the_headers_too(throttled):
    client = throttled.test_client()
    for _ in range(11):
        response = _attempt(client, "203.0.113.50")
    assert response.status_code == 429
    for answer in (response, client.get("/login")):
        assert _csp(answer)["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
