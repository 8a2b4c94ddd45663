"""The signed inbound results route: POST /inbound/thermostat."""

import io
import json
import time

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.models import InboundDelivery, SurveyResult, Ticket
from helpdesk.results.signing import sign
from helpdesk.thermostat.services import ensure_push_secret, get_integration
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import make_ticket, soup

URL = "/inbound/thermostat"


@pytest.fixture
def secret(app):
    value = ensure_push_secret(get_integration())
    db.session.commit()
    return value


def result(rid=555, score=9, xrequest=None, **extra):
    body = {"id": rid, "survey_id": 1, "score": score, "feedback": "Quick and friendly help",
            "type": "nps", "created_at": "2026-06-26 14:03:26",
            "updated_at": "2026-06-26 14:05:10", "email": "pat@example.com",
            "custom_fields": {"xrequest": str(xrequest)} if xrequest is not None else {}}
    body.update(extra)
    return body


def push(client, secret, payload, timestamp=None, raw=None, signature=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    header = signature if signature is not None else sign(secret, body, timestamp)
    return client.post(URL, data=body, headers={"X-Signature": header,
                                                "Content-Type": "application/json"})


def stored():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(SurveyResult)),
            db.session.scalar(select(func.count()).select_from(InboundDelivery)))


def test_single_object_is_stored_and_shown_on_the_request(client, seeded, secret):
    ticket = make_ticket()
    response = push(client, secret, result(xrequest=ticket.id))
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "received": 1, "created": 1, "updated": 0,
                                   "unchanged": 0}
    row = db.session.scalar(select(SurveyResult))
    assert (row.response_id, row.score, row.rating, row.ticket_id) == (
        "555", 9, "promoter", ticket.id)
    from tests.helpers import login

    login(client)
    page = soup(client.get(f"/requests/{ticket.id}"))
    assert page.select_one(".result .badge").get_text(strip=True) == "Promoter 9"
    assert page.select_one(".result .feedback").get_text(strip=True) == "Quick and friendly help"


def test_array_is_stored_with_counts(client, seeded, secret):
    ticket = make_ticket()
    payload = [result(1, 3, ticket.id), result(2, 8, 99999),
               result("abc-3", 2, None, type="csat", survey_id=2, feedback=None)]
    response = push(client, secret, payload)
    assert response.status_code == 200
    assert response.get_json()["received"] == 3 and response.get_json()["created"] == 3
    db.session.expire_all()
    rows = {r.response_id: r for r in db.session.scalars(select(SurveyResult))}
    assert rows["1"].ticket_id == ticket.id
    assert rows["2"].ticket_id is None and rows["abc-3"].ticket_id is None
    assert (rows["abc-3"].survey_type, rows["abc-3"].rating) == ("csat", "dissatisfied")
    assert db.session.get(Ticket, ticket.id).survey_rating == "detractor"


def test_same_body_with_a_new_signature_is_idempotent(client, seeded, secret):
    ticket = make_ticket()
    payload = result(xrequest=ticket.id)
    now = int(time.time())
    assert push(client, secret, payload, timestamp=now - 1).get_json()["created"] == 1
    again = push(client, secret, payload, timestamp=now)
    assert again.status_code == 200
    assert again.get_json() == {"ok": True, "received": 1, "created": 0, "updated": 0,
                                "unchanged": 1}
    assert stored() == (1, 2)


def test_changed_comment_updates_the_same_row(client, seeded, secret):
    ticket = make_ticket()
    push(client, secret, result(xrequest=ticket.id, feedback=None), timestamp=int(time.time()) - 1)
    changed = push(client, secret, result(xrequest=ticket.id, feedback="Later comment",
                                          updated_at="2026-06-26 14:09:00"))
    assert changed.get_json()["updated"] == 1
    assert stored()[0] == 1
    assert db.session.scalar(select(SurveyResult)).feedback == "Later comment"


def test_replayed_signature_is_refused(client, seeded, secret):
    body = json.dumps(result()).encode()
    header = sign(secret, body)
    first = push(client, secret, None, raw=body, signature=header)
    assert first.status_code == 200
    replay = push(client, secret, None, raw=body, signature=header)
    assert replay.status_code == 409
    assert "replay" in replay.get_json()["error"]
    assert stored() == (1, 1)


@pytest.mark.parametrize("make_header,needle", [
    (lambda secret, body: None, "missing X-Signature"),
    (lambda secret, body: "", "missing X-Signature"),
    (lambda secret, body: "garbage", "no valid t="),
    (lambda secret, body: "t=abc,v1=00", "no valid t="),
    (lambda secret, body: f"t={int(time.time())}", "does not match"),
    (lambda secret, body: f"t={int(time.time())},v1=zz", "does not match"),
    (lambda secret, body: sign("another-secret", body), "does not match"),
    (lambda secret, body: sign(secret, body + b" "), "does not match"),
    (lambda secret, body: sign(secret, body, int(time.time()) - 301), "window"),
    (lambda secret, body: sign(secret, body, int(time.time()) - 3600), "window"),
    (lambda secret, body: sign(secret, body, int(time.time()) + 3600), "window"),
])
def test_bad_signatures_are_401(client, seeded, secret, make_header, needle):
    body = json.dumps(result()).encode()
    headers = {"Content-Type": "application/json"}
    header = make_header(secret, body)
    if header is not None:
        headers["X-Signature"] = header
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["ok"] is False and needle in response.get_json()["error"]
    assert stored() == (0, 0)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2", b"[]"])
def test_malformed_json_is_400(client, seeded, secret, raw):
    response = push(client, secret, None, raw=raw)
    assert response.status_code == 400
    assert response.get_json()["ok"] is False
    assert stored() == (0, 0)


@pytest.mark.parametrize("item,needle", [
    (result(score=11), "score 11 is outside the NPS scale 0-10"),
    (result(score=-1), "outside the NPS scale"),
    (result(score=0, type="csat", survey_id=2), "score 0 is outside the CSAT scale 1-5"),
    (result(score=6, type="csat", survey_id=2), "outside the CSAT scale"),
    ({k: v for k, v in result().items() if k != "id"}, "id is required"),
    (result(rid=""), "id is required"),
    (result(rid=True), "id is required"),
    (result(rid=[1]), "id is required"),
    (result(score="9"), "score must be a whole number"),
    (result(score=9.5), "score must be a whole number"),
    (result(score=True), "score must be a whole number"),
    ({k: v for k, v in result().items() if k != "score"}, "score must be a whole number"),
    (result(type="ces"), "type must be 'nps' or 'csat'"),
    (result(type=None, survey_id=12345), "type must be 'nps' or 'csat'"),
    (result(survey_id="1"), "survey_id must be a number"),
    (result(survey_id=2**31), "survey_id must be a number from 1 to 2147483647"),
    (result(survey_id=-1), "survey_id must be a number from 1 to 2147483647"),
    (result(rid="\x00"), "id is required"),
    (result(feedback=5), "feedback must be text or null"),
    (result(email=["pat@example.com"]), "email must be text"),
    (result(custom_fields=["xrequest", "1"]), "custom_fields must be an object"),
    (result(created_at=1234567890), "created_at must be a string"),
    (result(updated_at="yesterday"), "is not a time"),
    ("a string", "each result must be a JSON object"),
    (42, "each result must be a JSON object"),
])
def test_invalid_results_are_422_and_nothing_is_stored(client, seeded, secret, item, needle):
    ticket = make_ticket()
    good = result(rid=1, xrequest=ticket.id)
    for payload, index in ((item, 0), ([good, item, result(rid=2)], 1)):
        response = push(client, secret, payload)
        assert response.status_code == 422
        body = response.get_json()
        assert body["ok"] is False and "nothing was stored" in body["error"]
        assert [e["index"] for e in body["results"]] == [index]
        assert needle in body["results"][0]["error"]
    assert stored() == (0, 0)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).survey_score is None


def test_text_no_column_can_hold_is_cleaned_and_odd_request_ids_are_unmatched(
        client, seeded, secret):
    """A NUL or a lone surrogate in a comment (valid JSON, refused by PostgreSQL and by any
    UTF-8 column) is dropped or replaced, and the rest kept; a blank comment is no comment;
    a request id too large for any row, or in non-ASCII digits, is unmatched, not an error."""
    ticket = make_ticket()
    raw = ('[{"id": 1, "type": "nps", "score": 3, "feedback": "slow\\u0000 reply \\ud800!", '
           '"email": "p\\u0000at@example.com", "custom_fields": {"xrequest": "%d", '
           '"note\\u0000": "a\\udfffb"}}, '
           '{"id": 2, "type": "nps", "score": 9, "feedback": " \\n\\t ", '
           '"custom_fields": {"xrequest": "99999999999"}}, '
           '{"id": 3, "type": "nps", "score": 9, "custom_fields": {"xrequest": "\\u00b2"}}]'
           % ticket.id).encode()
    response = push(client, secret, None, raw=raw)
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = {r.response_id: r for r in db.session.scalars(select(SurveyResult))}
    assert (rows["1"].feedback, rows["1"].email, rows["1"].custom_fields) == (
        "slow reply ?!", "pat@example.com", {"xrequest": str(ticket.id), "note": "a?b"})
    assert rows["1"].ticket_id == ticket.id
    assert rows["2"].feedback is None and rows["2"].ticket_id is None
    assert rows["3"].ticket_id is None and rows["3"].xrequest == "\u00b2"


def test_every_invalid_item_is_named(client, seeded, secret):
    response = push(client, secret, [result(rid=1, score=11), result(rid=2),
                                     result(rid=3, score="x")])
    assert response.status_code == 422
    assert [e["index"] for e in response.get_json()["results"]] == [0, 2]
    assert stored() == (0, 0)


def test_body_over_the_limit_is_413(client, seeded, secret, app):
    limit = app.config["INBOUND_MAX_BYTES"]
    item = result(feedback="x" * limit)
    response = push(client, secret, item)
    assert response.status_code == 413
    assert str(limit) in response.get_json()["error"]
    assert stored() == (0, 0)


def test_body_over_the_limit_without_content_length_is_413(client, seeded, secret, app,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_MAX_BYTES", 2000)
    body = json.dumps(result(feedback="y" * 3000)).encode()
    # a chunked upload: no Content-Length, the server reads until the stream ends
    response = client.post(URL, input_stream=io.BytesIO(body),
                           environ_overrides={"wsgi.input_terminated": True,
                                              "CONTENT_LENGTH": ""},
                           headers={"X-Signature": sign(secret, body),
                                    "Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"})
    assert response.request.content_length is None
    assert response.status_code == 413
    assert stored() == (0, 0)


def test_no_secret_configured_is_403(client, seeded):
    body = json.dumps(result()).encode()
    response = client.post(URL, data=body, headers={"X-Signature": sign("anything", body),
                                                    "Content-Type": "application/json"})
    assert response.status_code == 403
    assert "push secret" in response.get_json()["error"]
    assert stored() == (0, 0)


def test_works_without_login_and_without_csrf_token_when_csrf_is_on(client, seeded, secret, app):
    app.config["WTF_CSRF_ENABLED"] = True
    response = push(client, secret, result())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert stored() == (1, 1)
    # the same app refuses a tokenless form post elsewhere (CSRF really is on)
    assert client.post("/login", data={"email": "admin@example.com",
                                       "password": "admin-password"}).status_code == 400


def test_inbound_errors_are_json_even_for_wrong_methods(client, seeded):
    response = client.get(URL)
    assert response.status_code == 405
    assert response.get_json() == {"ok": False, "error": "That action is not allowed here."}
