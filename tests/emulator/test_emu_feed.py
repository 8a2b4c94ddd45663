"""The results feed GET /api/helpspot: shape and the paging rules of the contract."""

from __future__ import annotations

from datetime import datetime, timezone

from .conftest import AUTH, CSAT_KEY, NPS_KEY, T0, answer, comment_form


def feed(client, since=None):
    """Call the feed and return its JSON body."""
    url = "/api/helpspot" + (f"?since={since}" if since is not None else "")
    resp = client.get(url, headers=AUTH)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def fill(client, clock, at: int, count: int, key: str = NPS_KEY) -> None:
    """Save `count` responses whose updated_at is the second `at`."""
    clock.t = at + 0.5
    for i in range(count):
        assert answer(client, key, i % 5 + 1, query=f"xrequest={at}-{i}").status_code == 200


def ts(text: str) -> int:
    """Parse the contract's UTC time text."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
               .timestamp())


def test_empty_feed_and_bad_since(client):
    """No responses: the asked since comes back (0 when absent); non-integers are 422."""
    assert feed(client) == {"since": 0, "responses": []}
    assert feed(client, 1234) == {"since": 1234, "responses": []}
    for bad in ("abc", "1.5", "1e9", "12abc"):
        resp = client.get(f"/api/helpspot?since={bad}", headers=AUTH)
        assert resp.status_code == 422, bad
        assert isinstance(resp.get_json(), list)


def test_response_object_shape(client, clock):
    """Objects carry exactly the documented keys with UTC times and typed values."""
    answer(client, NPS_KEY, 9, "Quick and friendly help", query="xrequest=12345&plan=pro")
    answer(client, CSAT_KEY, 4, query="xRequest=7")
    body = feed(client, 0)
    assert body["since"] == T0
    nps, csat = body["responses"]
    assert set(nps) == {"id", "survey_id", "score", "feedback", "type", "created_at",
                        "updated_at", "email", "custom_fields"}
    assert nps["survey_id"] == 1 and nps["score"] == 9 and nps["type"] == "nps"
    assert nps["feedback"] == "Quick and friendly help"
    assert nps["created_at"] == nps["updated_at"] == "2026-05-28 20:26:40"
    assert nps["custom_fields"] == {"xrequest": "12345", "plan": "pro"}
    assert nps["email"] is None
    assert csat["type"] == "csat" and csat["score"] == 4 and csat["feedback"] is None
    assert csat["custom_fields"] == {"xrequest": "7"}


def test_paging_never_ends_inside_a_second(client, clock):
    """A page takes every response of the since second, then ~100 later, whole seconds."""
    fill(client, clock, T0, 3)
    fill(client, clock, T0 + 1, 150)
    fill(client, clock, T0 + 2, 2)
    page = feed(client, T0)
    # 3 of the since second, then 100 later ones, stretched to the whole second T0+1.
    assert len(page["responses"]) == 153
    assert page["since"] == T0 + 1
    ids = [r["id"] for r in page["responses"]]
    assert ids == sorted(ids)
    assert [ts(r["updated_at"]) for r in page["responses"]] == [T0] * 3 + [T0 + 1] * 150
    # The cursor's second comes back again (all 150), then the 2 later ones.
    page = feed(client, page["since"])
    assert len(page["responses"]) == 152
    assert page["since"] == T0 + 2
    page = feed(client, page["since"])
    assert [ts(r["updated_at"]) for r in page["responses"]] == [T0 + 2] * 2
    assert page["since"] == T0 + 2


def test_page_of_exactly_100_later_is_extended_to_its_last_second(client, clock):
    """If the 100th later response shares its second with more, all of them come."""
    fill(client, clock, T0 + 10, 99)
    fill(client, clock, T0 + 11, 5)
    fill(client, clock, T0 + 12, 1)
    page = feed(client, T0)
    assert len(page["responses"]) == 104
    assert page["since"] == T0 + 11
    assert ts(page["responses"][-1]["updated_at"]) == T0 + 11
    # Without since, the feed starts from the beginning with the same rule.
    assert len(feed(client)["responses"]) == 104


def test_late_response_in_cursor_second_is_not_lost(client, clock):
    """A response saved later within the cursor's second shows up on the next call."""
    fill(client, clock, T0, 1)
    page = feed(client, T0 - 5)
    assert len(page["responses"]) == 1 and page["since"] == T0
    fill(client, clock, T0, 1)  # same second, after the poll
    page = feed(client, page["since"])
    assert len(page["responses"]) == 2
    assert page["since"] == T0


def test_edited_response_comes_back_with_same_id(client, clock):
    """A comment added later returns the response again: same id, newer updated_at."""
    resp = answer(client, NPS_KEY, 6, query="xrequest=1")
    first = feed(client, T0)["responses"][0]
    clock.advance(65)
    action, data = comment_form(resp)
    data["feedback"] = "Took too long"
    assert client.post(action, data=data).status_code == 200
    page = feed(client, T0 + 1)
    [again] = page["responses"]
    assert again["id"] == first["id"]
    assert again["feedback"] == "Took too long"
    assert ts(again["updated_at"]) == T0 + 65 and again["created_at"] == first["created_at"]
    assert page["since"] == T0 + 65
