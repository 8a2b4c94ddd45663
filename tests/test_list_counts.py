"""Saved filters' counts: never on the list page itself, always counted when asked for.

The list page is sent without the sidebar's counts so its rows never wait for them; the
page's script fetches them from /filters/counts, and /filters shows them without JavaScript.
Every count is taken afresh, so a change shows at the next fetch. These tests drive the real
app on the real database (SQLite, or PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from helpdesk.extensions import db
from helpdesk.models import CustomField, SavedFilter, Status, Ticket, User
from tests.helpers import login, make_ticket, soup


class Counts:
    """The count(*) statements run while the block is open."""

    def __enter__(self):
        self.seen: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def _record(self, conn, cursor, statement, params, context, executemany):
        if "count(" in statement.lower():
            self.seen.append(statement)

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)


@pytest.fixture
def tickets(seeded):
    """Six requests, three of them open."""
    return [make_ticket(subject=f"Request {n}", email=f"c{n}@example.com",
                        is_open=n % 2 == 0) for n in range(6)]


def admin_id() -> int:
    return db.session.scalar(select(User.id).where(User.email == "admin@example.com"))


def add_filter(name: str, query: str, owner_id: int, shared: bool = False) -> int:
    saved = SavedFilter(name=name, query=query, owner_id=owner_id, shared=shared)
    db.session.add(saved)
    db.session.commit()
    return saved.id


def fetched(client) -> dict[str, int | None]:
    response = client.get("/filters/counts")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()["counts"]


def test_the_list_page_counts_only_its_own_list(app, client, tickets):
    login(client)
    for n in range(10):
        add_filter(f"Filter {n}", "state=closed", admin_id())
    with Counts() as page_counts:
        page = soup(client.get("/"))
    assert len(page_counts.seen) == 1  # the list's total, not the ten saved filters
    spans = page.select("ul.saved-filters li[data-filter-id] .count")
    assert len(spans) == 10
    assert all(s.has_attr("data-pending") and s.get_text(strip=True) == "…" for s in spans)
    assert page.find("script", src="/static/sidebar-counts.js") is not None
    with Counts() as json_counts:
        assert set(fetched(client).values()) == {3}
    assert len(json_counts.seen) == 10


def test_counts_follow_a_change_at_once(app, client, tickets):
    login(client)
    closed = add_filter("Closed", "state=closed", admin_id())
    assert fetched(client) == {str(closed): 3}
    open_one = next(t for t in tickets if t.is_open)
    solved = db.session.scalar(select(Status.id).where(Status.name == "Problem Solved"))
    db.session.rollback()
    response = client.post(f"/requests/{open_one.id}/update",
                           data={"status_id": solved, "category_id": 0, "assignee_id": 0,
                                 "close": "Close request"})
    assert response.status_code == 302
    assert fetched(client) == {str(closed): 4}
    assert db.session.scalar(select(Ticket.is_open).where(Ticket.id == open_one.id)) is False


def test_the_counts_route_needs_a_login_and_gives_only_the_users_filters(app, client, tickets):
    response = client.get("/filters/counts")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    add_filter("Admin's own", "state=open", admin_id())
    shared_id = add_filter("Shared", "state=closed", admin_id(), shared=True)
    login(client, "agent@example.com", "agent-password")
    assert fetched(client) == {str(shared_id): 3}


def test_a_filter_naming_a_deleted_field_counts_as_invalid(app, client, tickets):
    field = CustomField(name="Renewal code", field_type="text")
    db.session.add(field)
    db.session.commit()
    broken = add_filter("Renewals", f"c=custom:{field.id}:is:R-1", admin_id())
    fine = add_filter("Open", "state=open", admin_id())
    db.session.delete(db.session.get(CustomField, field.id))
    db.session.commit()
    login(client)
    assert fetched(client) == {str(broken): None, str(fine): 3}
    row = soup(client.get("/filters")).select_one(f"tr[data-filter-id='{broken}'] td.count")
    assert row.get_text(strip=True).startswith("invalid")
    # and opening it says what is wrong instead of failing
    response = client.get(f"/?c=custom:{field.id}:is:R-1")
    assert response.status_code == 400
    assert f"custom field #{field.id} no longer exists" in soup(response).get_text()


def test_one_filter_that_cannot_be_counted_leaves_the_others_counted(app, client, tickets,
                                                                      monkeypatch):
    """A filter stored before its value was refused (an id no column holds) is 'invalid', and
    saving one now is refused; a count the database itself fails (here: a table that does not
    exist, inside its own savepoint) is 'invalid' too, and the rest are counted."""
    from sqlalchemy import func, table

    from helpdesk.tickets import listing

    poison = add_filter("Poison", "c=status:is:99999999999999999999", admin_id(), shared=True)
    fine = add_filter("Open", "state=open", admin_id())
    failing = add_filter("Closed", "state=closed", admin_id())
    login(client)
    assert fetched(client) == {str(poison): None, str(fine): 3, str(failing): 3}
    response = client.post("/filters", data={"name": "Again",
                                             "query": "c=status:is:99999999999999999999"},
                           follow_redirects=True)
    assert db.session.scalar(select(func.count()).select_from(SavedFilter)
                             .where(SavedFilter.name == "Again")) == 0
    assert ("This filter cannot be saved: Status: '99999999999999999999' is not a valid "
            "choice") in soup(response).get_text()

    real = listing.count_query

    def count_query(q, schema, now):
        if q.state == "closed":
            return select(func.count()).select_from(table("no_such_table"))
        return real(q, schema, now)

    monkeypatch.setattr(listing, "count_query", count_query)
    assert fetched(client) == {str(poison): None, str(fine): 3, str(failing): None}


def test_the_saved_filters_page_shows_counts_without_javascript(app, client, tickets):
    own = add_filter("My open", "state=open", admin_id())
    shared = add_filter("Everyone's closed", "state=closed", admin_id(), shared=True)
    agent = db.session.scalar(select(User.id).where(User.email == "agent@example.com"))
    add_filter("Agent's private", "state=open", agent)
    login(client)
    page = soup(client.get("/"))
    link = page.find("a", string="All saved filters, with counts")
    assert link["href"] == "/filters"
    listing = soup(client.get("/filters"))
    rows = {tr["data-filter-id"]: [td.get_text(" ", strip=True) for td in tr.find_all("td")]
            for tr in listing.select("#saved-filters tbody tr[data-filter-id]")}
    assert rows == {str(own): ["My open", "3", "personal", "Ada Admin", "Delete filter My open"],
                    str(shared): ["Everyone's closed", "3", "shared", "Ada Admin",
                                  "Delete filter Everyone's closed"]}
    assert listing.select_one(f"tr[data-filter-id='{own}'] a")["href"] == "/?state=open"
