"""Login, logout, the login wall, the admin guard, CSRF and security headers."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from helpdesk.extensions import db
from helpdesk.models import Status, Ticket, TicketEvent
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import login, make_ticket, soup, text_of

PUBLIC = {"static", "auth.login", "health"}


def _url(app, rule) -> str:
    """A concrete URL for a rule: int arguments become 1, others 'x'."""
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        values[arg] = 1 if isinstance(converter, IntegerConverter) else "x"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _rules(app, method=None, prefix=None):
    rules = [r for r in app.url_map.iter_rules()
             if (method is None or method in r.methods) and r.endpoint not in PUBLIC]
    if prefix:
        rules = [r for r in rules if r.rule.startswith(prefix)]
    return sorted(rules, key=lambda r: r.rule)


def test_the_walk_finds_the_pages_it_should(app):
    gets = {r.rule for r in _rules(app, "GET")}
    assert {"/", "/requests/new", "/requests/<int:ticket_id>", "/admin/integrations/",
            "/admin/rules/", "/admin/staff/", "/admin/staff/<int:user_id>"} <= gets
    posts = {r.rule for r in _rules(app, "POST", prefix="/admin")}
    assert {"/admin/staff/new", "/admin/staff/<int:user_id>/password",
            "/admin/staff/<int:user_id>/deactivate"} <= posts
    assert "/login" not in gets and "/healthz" not in gets


def test_every_page_redirects_an_anonymous_visitor_to_login(app, client, seeded):
    make_ticket()
    checked = []
    for rule in _rules(app, "GET"):
        url = _url(app, rule)
        response = client.get(url)
        assert response.status_code == 302, url
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login", url
        assert parse_qs(location.query)["next"] == [url], url
        checked.append(url)
    assert len(checked) >= 5


def test_every_post_route_refuses_an_anonymous_visitor(app, client, seeded):
    make_ticket()
    for rule in _rules(app, "POST"):
        if rule.endpoint == "results.inbound":  # signed instead of logged in: see test_inbound
            continue
        response = client.post(_url(app, rule))
        assert response.status_code == 302, rule.rule
        assert urlsplit(response.headers["Location"]).path == "/login", rule.rule
    assert db.session.scalars(select(TicketEvent)).all() == []


@pytest.mark.parametrize("url", ["/login", "/healthz", "/static/app.css"])
def test_public_pages_need_no_login(client, url):
    with client.get(url) as response:  # static files are streamed: close the file
        assert response.status_code == 200


def test_every_admin_route_is_403_for_an_agent(app, agent_client):
    make_ticket()
    rules = _rules(app, prefix="/admin")
    assert any("POST" in r.methods for r in rules) and any("GET" in r.methods for r in rules)
    for rule in rules:
        url = _url(app, rule)
        if "GET" in rule.methods:
            assert agent_client.get(url).status_code == 403, url
        if "POST" in rule.methods:
            assert agent_client.post(url, data={"token": ""}).status_code == 403, url
    # the agent's own pages still work
    assert agent_client.get("/").status_code == 200


def test_an_agent_posting_to_staff_routes_changes_no_account(app, agent_client, seeded):
    from helpdesk.models import User

    admin_id = seeded["admin"].id
    before = [(u.id, u.email, u.role, u.active, u.password_hash, u.session_version)
              for u in db.session.scalars(select(User).order_by(User.id))]
    for url, data in [
        ("/admin/staff/new", {"name": "Eve", "email": "eve@example.com", "role": "admin",
                              "password": "eve-password-1234"}),
        (f"/admin/staff/{admin_id}/password", {"password": "taken-over-12345",
                                               "confirm": "taken-over-12345"}),
        (f"/admin/staff/{admin_id}/deactivate", {}),
    ]:
        assert agent_client.post(url, data=data).status_code == 403, url
    db.session.expire_all()
    assert [(u.id, u.email, u.role, u.active, u.password_hash, u.session_version)
            for u in db.session.scalars(select(User).order_by(User.id))] == before


def test_the_agent_gets_no_admin_links(agent_client):
    page = soup(agent_client.get("/"))
    hrefs = [a["href"] for a in page.select("header nav a")]
    assert hrefs and not any(h.startswith("/admin") for h in hrefs)


def test_every_admin_page_opens_for_the_admin(app, admin_client):
    make_ticket()
    for rule in _rules(app, "GET", prefix="/admin"):
        url = _url(app, rule)
        response = admin_client.get(url)
        assert response.status_code != 403, url
        assert response.status_code < 500, url


@pytest.mark.parametrize("email,password", [
    ("admin@example.com", "wrong-password"),
    ("nobody@example.com", "admin-password"),
    ("admin@example.com", "ADMIN-PASSWORD"),
])
def test_wrong_credentials_show_a_message_and_stay_logged_out(client, seeded, email, password):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 200
    page = soup(response)
    flashes = [f.get_text(strip=True) for f in page.select(".flash")]
    assert flashes == ["Wrong email or password."]
    assert page.select_one("input[name=password]").get("value") in (None, "")
    assert client.get("/").status_code == 302


def test_email_is_matched_without_case(client, seeded):
    response = client.post("/login", data={"email": "  ADMIN@Example.com ",
                                           "password": "admin-password"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_inactive_user_cannot_log_in(client, seeded):
    seeded["agent"].active = False
    db.session.commit()
    response = client.post("/login", data={"email": "agent@example.com",
                                           "password": "agent-password"})
    assert "Wrong email or password." in text_of(response)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target,expected", [
    ("/requests/1", "/requests/1"),
    ("/?rating=detractor&state=closed", "/?rating=detractor&state=closed"),
    ("https://evil.example/", "/"),
    ("http://evil.example/requests/1", "/"),
    ("//evil.example", "/"),
    ("///evil.example", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("/\t/evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("https:evil.example", "/"),
    (" //evil.example", "/"),
    ("\t//evil.example", "/"),
    ("/\r\nSet-Cookie: session=forged", "/"),
    ("/requests/1?x=\nLocation: https://evil.example", "/"),
    ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),  # one path segment on our host
    ("evil.example", "/"),
    ("", "/"),
])
def test_next_only_goes_to_our_own_paths(client, seeded, target, expected):
    response = client.post("/login", query_string={"next": target},
                           data={"email": "admin@example.com", "password": "admin-password"})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_logout_is_post_only(admin_client):
    assert admin_client.get("/logout").status_code == 405
    assert admin_client.get("/").status_code == 200  # a GET did not log us out
    response = admin_client.post("/logout")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert admin_client.get("/").status_code == 302


def test_the_logout_button_carries_a_csrf_token(admin_client, app):
    app.config["WTF_CSRF_ENABLED"] = True
    page = soup(admin_client.get("/"))
    form = page.select_one("form[action='/logout']")
    token = form.select_one("input[name=csrf_token]")["value"]
    assert admin_client.post("/logout", data={}).status_code == 400
    assert admin_client.get("/").status_code == 200
    assert admin_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert admin_client.get("/").status_code == 302


def test_update_without_csrf_token_is_refused_and_changes_nothing(admin_client, app):
    ticket = make_ticket()
    solved = db.session.scalar(select(Status).where(Status.name == "Problem Solved"))
    app.config["WTF_CSRF_ENABLED"] = True
    data = {"status_id": solved.id, "category_id": 0, "assignee_id": 0,
            "close": "Save and close"}
    response = admin_client.post(f"/requests/{ticket.id}/update", data=data)
    assert response.status_code == 400
    assert "The form expired or was not sent from this site" in text_of(response)
    db.session.expire_all()
    unchanged = db.session.get(Ticket, ticket.id)
    assert unchanged.is_open is True and unchanged.status.name == "Active"
    assert db.session.scalars(select(TicketEvent)).all() == []
    # a wrong token is refused too
    bad = admin_client.post(f"/requests/{ticket.id}/update", data={**data, "csrf_token": "x"})
    assert bad.status_code == 400
    # with the page's own token it goes through
    page = soup(admin_client.get(f"/requests/{ticket.id}"))
    token = page.select_one("form[action$='/update'] input[name=csrf_token]")["value"]
    ok = admin_client.post(f"/requests/{ticket.id}/update", data={**data, "csrf_token": token})
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).is_open is False


def test_login_form_needs_csrf_when_enabled(client, seeded, app):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"email": "admin@example.com",
                                           "password": "admin-password"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("method,url,logged_in", [
    ("get", "/login", False),
    ("get", "/", True),
    ("get", "/requests/12345", True),      # an error page
    ("get", "/admin/integrations/", True),
    ("post", "/inbound/thermostat", False),  # JSON answer
    ("get", "/healthz", False),
])
def test_security_headers_on_every_kind_of_answer(client, seeded, method, url, logged_in):
    if logged_in:
        login(client)
    response = getattr(client, method)(url)
    csp = response.headers["Content-Security-Policy"]
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_and_samesite(client, seeded):
    response = login(client)
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    assert re.search(r"(?i);\s*HttpOnly", session)
    assert re.search(r"(?i);\s*SameSite=Lax", session)


def test_an_id_larger_than_any_row_is_a_404_not_a_database_error(admin_client):
    """Every <int:...> in a route stops at 2**31 - 1 (PostgreSQL's integer)."""
    for url in ("/requests/2147483647", "/requests/2147483648", "/requests/99999999999999999999",
                "/admin/rules/99999999999/edit"):
        assert admin_client.get(url).status_code == 404, url
