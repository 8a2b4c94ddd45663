"""Triggers and automation rules through the admin UI, then made to happen for real.

Each example of the issue is built by POSTing the builder form as a browser would, checked in
the list (`.rule-description`), set off for real (a close, a survey answer through the
emulator and the poll, an automation run), and then checked in its effects, in the run log
(each condition ✔/✘, each action's outcome) and in the dry run (each condition true/false,
the rendered email, and no rows written).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.mail.models import OutboundEmail
from helpdesk.models import (CustomField, Dispatch, Rule, RuleRun, RuleTicketRun, Status,
                             SurveyResult, ThermostatSurvey, Ticket, TicketEvent,
                             TicketFieldValue, utcnow)
from helpdesk.thermostat.jobs import poll_results
from scripts.stack import free_port
from tests.helpers import make_ticket, run_worker, soup, text_of
from tests.test_mail import mail, sink  # noqa: F401  (the SMTP sink process and its fixture)

SURVEY_KEY = "5f2b1c0d9e8a7b61"  # the emulator's "Support NPS" (declares xrequest, plan)
SEEDED_NAME = "Survey customers when a request is solved"


# ---------------------------------------------------------------- helpers


def rule_form(name: str, *, kind: str = "trigger", event: str = "updated", schedule: str = "1h",
              match: str = "all", conditions=(), actions=(), enabled: bool = True,
              run_once: bool = True, max_runs: int | None = 1, group_a: str = "any",
              group_b: str = "any") -> dict:
    """The builder's form data, as a browser submits it (unchecked boxes are absent).

    A condition is (field, op, value) or (group, field, op, value); an action is a dict with
    kind and, as the action needs, target, subject, body.
    """
    data = {"name": name, "match": match, "group_a_match": group_a, "group_b_match": group_b,
            "save": "Save rule"}
    if kind == "trigger":
        data["event"] = event
    else:
        data["schedule"] = schedule
        if run_once:
            data["run_once"] = "y"
        data["max_runs"] = "" if max_runs is None else str(max_runs)
    if enabled:
        data["enabled"] = "y"
    rows = list(conditions) or [("", "", "")]
    for i, cond in enumerate(rows):
        group, field, op, value = cond if len(cond) == 4 else ("", *cond)
        data.update({f"conditions-{i}-group": group, f"conditions-{i}-field": field,
                     f"conditions-{i}-op": op, f"conditions-{i}-value": value})
    for i, action in enumerate(list(actions) or [{}]):
        for key in ("kind", "target", "subject", "body"):
            data[f"actions-{i}-{key}"] = action.get(key, "")
    return data


def build(client, name: str, kind: str = "trigger", **form) -> Rule:
    """Build a rule through the builder; it must be saved (302 to the list)."""
    response = client.post(f"/admin/rules/new/{kind}", data=rule_form(name, kind=kind, **form))
    assert response.status_code == 302, text_of(response)[:2000]
    assert response.headers["Location"].endswith("/admin/rules/")
    db.session.expire_all()
    rule = db.session.scalar(select(Rule).where(Rule.name == name))
    assert rule is not None and rule.kind == kind
    return rule


def listed(client) -> dict[int, dict]:
    """The rule list: per rule id its description, problems, state and table."""
    page = soup(client.get("/admin/rules/"))
    rows = {}
    for table_id, heading in (("triggers", "triggers-h"), ("automations", "automations-h")):
        section = page.find(id=heading).find_parent("section")
        for position, tr in enumerate(section.select("tr[data-rule-id]"), start=1):
            rows[int(tr["data-rule-id"])] = {
                "table": table_id, "position": position,
                "name": tr.select("td")[1].get_text(strip=True),
                "description": tr.select_one(".rule-description").get_text(" ", strip=True),
                "problems": [p.get_text(" ", strip=True) for p in tr.select(".rule-problem")],
                "state": tr.select("td")[3].get_text(strip=True),
                "flagged": "flagged" in (tr.get("class") or []),
            }
    return rows


def click(client, rule: Rule, what: str, direction: str | None = None):
    """Press a row button of the rule list (Move up/down, Disable/Enable, Delete, Run now)."""
    path = {"move": f"/admin/rules/{rule.id}/move/{direction}",
            "toggle": f"/admin/rules/{rule.id}/toggle", "delete": f"/admin/rules/{rule.id}/delete",
            "run": f"/admin/rules/{rule.id}/run"}[what]
    page = soup(client.get("/admin/rules/"))
    assert page.find("form", attrs={"action": path}) is not None, f"no button posting to {path}"
    response = client.post(path)
    assert response.status_code == 302
    db.session.expire_all()
    return response


def status_id(name: str) -> int:
    return db.session.scalar(select(Status.id).where(Status.name == name))


def update(client, ticket_id: int, status: str, close: bool = False, urgent: bool = False,
           assignee_id: int = 0):
    """Submit the request page's update form (Save, or Save and close)."""
    data = {"status_id": status_id(status), "category_id": 0, "assignee_id": assignee_id}
    if urgent:
        data["urgent"] = "y"
    data["close" if close else "save"] = "Save and close" if close else "Save"
    response = client.post(f"/requests/{ticket_id}/update", data=data)
    assert response.status_code == 302, text_of(response)[:1000]
    db.session.expire_all()
    return response


def seeded_rule() -> Rule:
    return db.session.scalar(select(Rule).where(Rule.name == SEEDED_NAME))


def counts() -> dict[str, int]:
    """Rows of every table a rule can write to."""
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Dispatch, OutboundEmail, TicketEvent, RuleRun, RuleTicketRun,
                          TicketFieldValue, SurveyResult)}


def log_rows(client, rule: Rule) -> list[dict]:
    """The run log page of a rule, newest first."""
    page = soup(client.get(f"/admin/rules/{rule.id}/log"))
    rows = []
    for tr in page.select("#runs tr[data-run-id]"):
        cells = tr.select("td")
        rows.append({
            "request": cells[1].get_text(strip=True), "event": cells[2].get_text(strip=True),
            "result": tr.select_one(".fired").get_text(" ", strip=True),
            "why": [li.get_text(" ", strip=True) for li in tr.select(".why li")],
            "actions": [li.get_text(" ", strip=True) for li in cells[5].select("li")],
        })
    return rows


def dry_run(client, rule: Rule, ticket_id: int) -> dict:
    """The dry run page against a request; asserts it changed nothing."""
    db.session.expire_all()
    before = counts()
    ticket_before = db.session.execute(select(Ticket.status_id, Ticket.is_open,
                                              Ticket.assignee_id, Ticket.updated_at)
                                       .where(Ticket.id == ticket_id)).one()
    response = client.get(f"/admin/rules/{rule.id}/test?request_id={ticket_id}")
    assert response.status_code == 200
    db.session.expire_all()
    assert counts() == before, "a dry run wrote rows"
    assert db.session.execute(select(Ticket.status_id, Ticket.is_open, Ticket.assignee_id,
                                     Ticket.updated_at)
                              .where(Ticket.id == ticket_id)).one() == ticket_before
    page = soup(response)
    section = page.select_one("#dry-run")
    assert section is not None
    return {
        "verdict": (section.select_one(".verdict") or section.select_one(".error"))
        .get_text(" ", strip=True),
        "why": [li.get_text(" ", strip=True) for li in section.select(".why li")],
        "actions": [li.get_text(" ", strip=True) for li in section.select("ol li")],
        "emails": [{"to": e.select_one("h3").get_text(strip=True),
                    "subject": e.select_one(".email-subject").get_text(),
                    "body": e.select_one(".email-body").get_text()}
                   for e in section.select(".rendered-email")],
    }


def field_errors(page, control_id: str) -> list[str]:
    """The errors shown in the `.field` wrapper of one control (by the control's id)."""
    control = page.find(id=control_id)
    assert control is not None, f"no control #{control_id}"
    wrapper = control.find_parent(class_="field")
    return [p.get_text(" ", strip=True) for p in wrapper.select(".error")]


def events(ticket_id: int, kind: str | None = None) -> list[str]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    return [e.body for e in db.session.scalars(query) if kind is None or e.kind == kind]


# ---------------------------------------------------------------- example 1: the seeded trigger


def test_example_1_close_with_problem_solved_sends_the_survey(admin_client, connected, app):
    admin = admin_client
    click(admin, seeded_rule(), "delete")  # built again below, from scratch, in the builder
    assert seeded_rule() is None

    rule = build(admin, "Survey on solved", conditions=[
        ("status", "changed_to", "Problem Solved"), ("is_open", "is", "no")],
        actions=[{"kind": "thermostat_send", "target": "Support NPS"}])
    assert rule.conditions == [
        {"field": "status", "op": "changed_to", "value": status_id("Problem Solved")},
        {"field": "is_open", "op": "is", "value": False}]
    assert rule.actions == [{"type": "thermostat_send", "survey_id": 1,
                             "survey_name": "Support NPS"}]
    shown = listed(admin)[rule.id]
    assert shown["description"] == ("When a request is updated, if all: status changed to "
                                    "Problem Solved, request is closed: Send a Thermostat "
                                    "Survey (Support NPS)")
    assert shown["problems"] == [] and shown["state"] == "Enabled"

    ticket = make_ticket(email="pat@example.com")
    other = make_ticket(email="sam@example.com")
    tid, other_id = ticket.id, other.id
    # the dry run before the close: not closed yet, so it would not act
    before = dry_run(admin, rule, tid)
    assert before["verdict"] == "The rule would not act."
    assert before["why"] == ["✘ false: status changed to Problem Solved",
                             "✘ false: request is closed"]
    assert before["actions"] == ["Send a Thermostat Survey (Support NPS)"]

    update(admin, tid, "Problem Solved", close=True)
    update(admin, other_id, "Escalated")  # an update that does not fire: not logged
    [dispatch] = db.session.scalars(select(Dispatch)).all()
    assert (dispatch.ticket_id, dispatch.survey_id, dispatch.rule_id, dispatch.state) == (
        tid, 1, rule.id, "pending")
    run_worker(app)
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).state == "sent"
    [sent] = connected.state()["sends"]
    assert sent["email"] == "pat@example.com" and str(sent["custom_fields"]["xrequest"]) == str(tid)
    assert "Survey 'Support NPS' sent to pat@example.com" in text_of(admin.get(f"/requests/{tid}"))

    [run] = log_rows(admin, rule)
    assert run["request"] == f"#{tid}" and run["event"] == "updated" and run["result"] == "acted"
    assert run["why"] == ["✔ status changed to Problem Solved", "✔ request is closed"]
    assert run["actions"] == [f"queued send #{dispatch.id}"]

    after = dry_run(admin, rule, tid)
    assert after["verdict"] == "The rule would act."
    assert after["why"] == ["✔ true: status changed to Problem Solved",
                            "✔ true: request is closed"]
    assert dry_run(admin, rule, other_id)["why"] == [
        "✘ false: status changed to Problem Solved", "✘ false: request is closed"]
    assert len(connected.state()["sends"]) == 1  # the dry runs sent nothing


# ---------------------------------------------------------------- example 2: a detractor answers


def test_example_2_a_detractor_result_reopens_assigns_and_notes(admin_client, connected, app,
                                                                 seeded):
    admin = admin_client
    agent = seeded["agent"]
    rule = build(admin, "Detractor follow-up", event="result",
                 conditions=[("survey_rating", "is", "detractor")],
                 actions=[{"kind": "reopen"},
                          {"kind": "set_assignee", "target": agent.name},
                          {"kind": "add_private_note",
                           "body": "Detractor: call the customer within a day."}])
    assert rule.event == "result"
    assert rule.actions[1] == {"type": "set_assignee", "user_id": agent.id}
    assert listed(admin)[rule.id]["description"] == (
        "When a survey result arrives, if all: Thermostat rating is detractor: Reopen the "
        f"request; Assign to: {agent.name}; Add a private note")

    unhappy, happy = make_ticket(email="pat@example.com"), make_ticket(email="sam@example.com")
    unhappy_id, happy_id = unhappy.id, happy.id
    update(admin, unhappy_id, "Problem Solved", close=True)  # the seeded trigger surveys them
    update(admin, happy_id, "Problem Solved", close=True)
    run_worker(app)
    links = {str(s["custom_fields"]["xrequest"]): s["link"] for s in connected.state()["sends"]}
    connected.answer(links[str(unhappy_id)], 3, "Three days for an answer").raise_for_status()
    connected.answer(links[str(happy_id)], 10, "Great").raise_for_status()
    assert poll_results()["created"] == 2

    db.session.expire_all()
    t = db.session.get(Ticket, unhappy_id)
    assert (t.is_open, t.status.name, t.assignee_id, t.survey_rating) == (
        True, "Active", agent.id, "detractor")
    assert "Detractor: call the customer within a day." in events(unhappy_id, "note_private")
    h = db.session.get(Ticket, happy_id)
    assert (h.is_open, h.assignee_id, h.survey_rating) == (False, None, "promoter")
    assert events(happy_id, "note_private") == []
    page = text_of(admin.get(f"/requests/{unhappy_id}"))
    assert "Reopened by rule 'Detractor follow-up'" in page
    assert f"Assigned to {agent.name} by rule 'Detractor follow-up'" in page

    [run] = log_rows(admin, rule)  # the promoter held no condition: nothing to log
    assert (run["request"], run["event"], run["result"]) == (f"#{unhappy_id}", "result", "acted")
    assert run["why"] == ["✔ Thermostat rating is detractor"]
    assert run["actions"] == ["reopened", f"assigned to {agent.name}", "private note added"]

    assert dry_run(admin, rule, unhappy_id)["why"] == ["✔ true: Thermostat rating is detractor"]
    huge = admin.get(f"/admin/rules/{rule.id}/test?request_id={'9' * 20}")  # no such row
    assert huge.status_code == 200 and "No request has that number." in text_of(huge)
    promoter = dry_run(admin, rule, happy_id)
    assert promoter["why"] == ["✘ false: Thermostat rating is detractor"]
    assert promoter["verdict"] == "The rule would not act."


def test_example_2_through_ingest_a_trigger_acts_once_per_response(admin_client, seeded, app):
    """Fed by the ingestion function directly. The comment added after the score arrives as
    an update of the same response: a trigger that acted on the score does not act again
    (no second note, no second email); one that needs the comment acts on the update; a
    second response from the customer is a new arrival."""
    from helpdesk.thermostat.ingest import ingest_batch

    admin = admin_client
    every = build(admin, "Detractor follow-up", event="result",
                  conditions=[("survey_rating", "is", "detractor")],
                  actions=[{"kind": "reopen"}, {"kind": "add_private_note", "body": "Call them"},
                           {"kind": "email_customer", "subject": "Sorry, ##REQUESTID##",
                            "body": "We will call you."}])
    once = build(admin, "New detractor", event="result",
                 conditions=[("survey_rating", "changed_to", "detractor")],
                 actions=[{"kind": "set_urgent", "target": "yes"}])
    commented = build(admin, "Detractor comment", event="result",
                      conditions=[("survey_rating", "is", "detractor"),
                                  ("survey_has_comment", "is", "yes")],
                      actions=[{"kind": "add_private_note", "body": "Read the comment"}])
    ticket = make_ticket(status="Problem Solved", is_open=False, closed_at=utcnow())
    tid = ticket.id
    raw = {"id": 9001, "survey_id": 1, "type": "nps", "score": 2, "feedback": None,
           "custom_fields": {"xrequest": str(tid)}, "created_at": "2026-01-01 10:00:00",
           "updated_at": "2026-01-01 10:00:00"}
    assert ingest_batch([raw]).created == 1
    db.session.commit()
    raw.update(feedback="Still broken", updated_at="2026-01-01 10:05:00")
    assert ingest_batch([raw]).updated == 1
    db.session.commit()
    raw.update(score=1, updated_at="2026-01-01 10:09:00")  # an edit: still the same response
    assert ingest_batch([raw]).updated == 1
    db.session.commit()
    assert ingest_batch([raw]).unchanged == 1  # the same answer again is no event at all
    db.session.commit()

    def runs(rule):
        return [(r.fired, r.actions) for r in db.session.scalars(
            select(RuleRun).where(RuleRun.rule_id == rule.id).order_by(RuleRun.id))]

    assert runs(every) == [(True, ["reopened", "private note added",
                                   "email to pat@example.com queued"])]
    assert runs(once) == [(True, ["urgent set to yes"])]
    assert runs(commented) == [(True, ["private note added"])]
    assert events(tid, "note_private") == ["Call them", "Read the comment"]
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail).where(
        OutboundEmail.ticket_id == tid)) == 1
    t = db.session.get(Ticket, tid)
    assert (t.is_open, t.urgent, t.survey_score) == (True, True, 1)

    # a second survey answered later is a second response: the trigger acts on it
    raw2 = dict(raw, id=9002, score=3, feedback=None, created_at="2026-02-01 10:00:00",
                updated_at="2026-02-01 10:00:00")
    assert ingest_batch([raw2]).created == 1
    db.session.commit()
    assert len(runs(every)) == 2
    assert events(tid, "note_private") == ["Call them", "Read the comment", "Call them"]


# ---------------------------------------------------------------- example 3: an automation rule


def test_example_3_automation_surveys_requests_closed_over_a_day_ago(admin_client, connected,
                                                                     app):
    admin = admin_client
    now = utcnow()
    # one request surveyed for real (closed, the seeded trigger, the worker), then backdated
    surveyed = make_ticket(email="done@example.com")
    update(admin, surveyed.id, "Problem Solved", close=True)
    run_worker(app)
    db.session.expire_all()
    surveyed = db.session.get(Ticket, surveyed.id)
    surveyed.closed_at = now - timedelta(days=3)
    db.session.commit()
    assert db.session.scalar(select(Dispatch.state)) == "sent"
    click(admin, seeded_rule(), "toggle")  # from here on, surveys come from the automation only

    rule = build(admin, "Survey the unsurveyed", kind="automation", schedule="1h",
                 conditions=[("minutes_since_closed", "gt", "1440"), ("survey_never", "is", "yes")],
                 actions=[{"kind": "thermostat_send", "target": "Support NPS"}])
    assert (rule.event, rule.schedule, rule.run_once, rule.max_runs) == ("schedule", "1h", True, 1)
    assert rule.conditions == [{"field": "minutes_since_closed", "op": "gt", "value": 1440},
                               {"field": "survey_never", "op": "is", "value": True}]
    shown = listed(admin)[rule.id]
    assert shown["table"] == "automations"
    assert shown["description"] == (
        "Every hour, for requests matching all: minutes since closed is greater than 1440 "
        "minutes, never surveyed: yes: Send a Thermostat Survey (Support NPS)")

    old = make_ticket(email="old@example.com", status="Problem Solved", is_open=False,
                      closed_at=now - timedelta(days=2))
    recent = make_ticket(email="recent@example.com", status="Problem Solved", is_open=False,
                         closed_at=now - timedelta(hours=1))
    still_open = make_ticket(email="open@example.com")
    ids = {"old": old.id, "recent": recent.id, "surveyed": surveyed.id, "open": still_open.id}

    plan = dry_run(admin, rule, ids["old"])
    assert plan["why"] == ["✔ true: minutes since closed is greater than 1440 minutes",
                           "✔ true: never surveyed: yes"]
    assert plan["verdict"].startswith("The rule would act.")
    assert "the database selects this request; it was acted on 0 times" in plan["verdict"]
    assert dry_run(admin, rule, ids["recent"])["why"] == [
        "✘ false: minutes since closed is greater than 1440 minutes",
        "✔ true: never surveyed: yes"]
    assert dry_run(admin, rule, ids["surveyed"])["why"] == [
        "✔ true: minutes since closed is greater than 1440 minutes",
        "✘ false: never surveyed: yes"]
    assert "does not select" in dry_run(admin, rule, ids["open"])["verdict"]

    response = click(admin, rule, "run")  # the list's "Run now" button
    assert response.headers["Location"].endswith(f"/admin/rules/{rule.id}/log")
    [dispatch] = db.session.scalars(select(Dispatch).where(Dispatch.state == "pending")).all()
    assert (dispatch.ticket_id, dispatch.rule_id) == (ids["old"], rule.id)
    run_worker(app)
    assert [s["email"] for s in connected.state()["sends"]] == ["done@example.com",
                                                                "old@example.com"]

    from helpdesk.rules.engine import run_automation

    assert run_automation(rule.id) == {"rule": rule.id, "acted": 0}  # once per request
    rows = log_rows(admin, rule)
    assert [r["result"] for r in rows] == ["0 request(s) matched and acted on",
                                           "1 request(s) matched and acted on", "acted"]
    assert rows[2]["request"] == f"#{ids['old']}" and rows[2]["event"] == "schedule"
    assert rows[2]["actions"] == [f"queued send #{dispatch.id}"]
    after = dry_run(admin, rule, ids["old"])
    assert after["why"][1] == "✘ false: never surveyed: yes"
    assert "it was acted on 1 time, and the rule runs once per request" in after["verdict"]
    assert len(connected.state()["sends"]) == 2  # the dry runs and the second run sent nothing


# ---------------------------------------------------------------- example 4: Email Customer


def test_example_4_email_customer_link_brings_the_answer_back(admin_client, connected,
                                                              mail, app):  # noqa: F811
    admin = admin_client
    click(admin, seeded_rule(), "toggle")
    emulator = connected
    link = f"{emulator.url}/s/{SURVEY_KEY}?xrequest=##REQUESTID##&plan=##CUSTOM1##"
    body = f"Dear ##FIRSTNAME##,\n\nHow did we do? {link}\n"
    rule = build(admin, "Email our own survey", conditions=[
        ("status", "changed_to", "Problem Solved")],
        actions=[{"kind": "email_customer", "subject": "How did we do with request ##REQUESTID##?",
                  "body": body}])
    assert rule.actions == [{"type": "email_customer",
                             "subject": "How did we do with request ##REQUESTID##?",
                             "body": body}]
    assert listed(admin)[rule.id]["description"] == (
        "When a request is updated, if all: status changed to Problem Solved: Email Customer: "
        "How did we do with request ##REQUESTID##?")

    plan_field = db.session.scalar(select(CustomField).where(CustomField.name == "Plan"))
    assert plan_field.id == 1
    ticket = make_ticket(first="Robin", email="robin@example.com")
    db.session.add(TicketFieldValue(ticket=ticket, field_id=plan_field.id, value="Enterprise"))
    db.session.commit()
    tid = ticket.id
    expected_link = f"{emulator.url}/s/{SURVEY_KEY}?xrequest={tid}&plan=Enterprise"

    plan = dry_run(admin, rule, tid)
    [email] = plan["emails"]
    assert email["to"] == "Email to robin@example.com"
    assert email["subject"] == f"How did we do with request {tid}?"
    assert expected_link in email["body"] and email["body"].startswith("Dear Robin,")
    assert mail.messages() == []

    update(admin, tid, "Problem Solved", close=True)
    [row] = db.session.scalars(select(OutboundEmail)).all()
    assert (row.ticket_id, row.rule_id, row.to_address, row.state) == (
        tid, rule.id, "robin@example.com", "pending")
    run_worker(app)
    [caught] = mail.messages()
    assert caught.to == "robin@example.com"
    assert caught.subject == f"How did we do with request {tid}?"
    sent_link = re.search(r"https?://\S+", caught.text).group(0)
    assert sent_link == expected_link
    assert emulator.state()["sends"] == []  # the helpdesk's own email, not a Thermostat send

    [run] = log_rows(admin, rule)
    assert run["actions"] == ["email to robin@example.com queued"]
    assert run["why"] == ["✔ status changed to Problem Solved"]

    emulator.answer(sent_link, 8, "Quick and kind").raise_for_status()
    assert poll_results()["created"] == 1
    result = db.session.scalar(select(SurveyResult).where(SurveyResult.ticket_id == tid))
    assert (result.score, result.rating, result.feedback) == (8, "passive", "Quick and kind")
    assert result.custom_fields["plan"] == "Enterprise"
    assert str(result.custom_fields["xrequest"]) == str(tid)
    assert soup(admin.get(f"/requests/{tid}")).select_one(".result .badge").get_text(
        strip=True) == "Passive 8"


# ---------------------------------------------------------------- invalid rules


PRIVATE_NOTE = {"kind": "add_private_note", "body": "note"}
INVALID = [
    # (id, kind, conditions, actions, control with the error, words of the message)
    ("unknown status", "trigger", [("status", "changed_to", "Problem Sovled")], [PRIVATE_NOTE],
     "conditions-0-value", "There is no status named 'Problem Sovled'"),
    ("bad rating", "trigger", [("survey_rating", "is", "grumpy")], [PRIVATE_NOTE],
     "conditions-0-value", "'grumpy' is not a rating"),
    ("operator not for field", "trigger", [("is_open", "is", "no"),
                                          ("minutes_since_closed", "contains", "5")],
     [PRIVATE_NOTE], "conditions-1-op", "Minutes since closed takes: is less than"),
    ("change operator in automation", "automation", [("status", "changed_to", "Escalated")],
     [PRIVATE_NOTE], "conditions-0-op", "Status takes: is, is not"),
    ("event field in automation", "automation", [("note_type", "is", "private")],
     [PRIVATE_NOTE], "conditions-0-field", "Note type only applies to triggers"),
    ("unknown placeholder", "trigger", [("is_open", "is", "no")],
     [{"kind": "email_customer", "subject": "Hello", "body": "Hi ##NOPE##"}],
     "actions-0-body", "Unknown placeholder ##NOPE##"),
    ("unterminated placeholder", "trigger", [("is_open", "is", "no")],
     [{"kind": "email_customer", "subject": "About ##REQUESTID", "body": "Hi"}],
     "actions-0-subject", "Unterminated placeholder '##REQUESTID'"),
    ("webhook not http", "trigger", [("is_open", "is", "no")],
     [PRIVATE_NOTE, {"kind": "webhook", "target": "ftp://x"}],
     "actions-1-target", "Give an http:// or https:// URL"),
    ("custom value not in list", "trigger", [("is_open", "is", "no")],
     [{"kind": "set_custom_field", "target": "Plan=Gold"}],
     "actions-0-target", "Plan takes one of: Free, Pro, Enterprise"),
    ("automation without conditions", "automation", [], [PRIVATE_NOTE],
     "conditions-0-field", "An automation rule needs at least one condition"),
    ("no actions", "trigger", [("is_open", "is", "no")], [],
     "actions-0-kind", "A rule needs at least one action"),
]


@pytest.mark.parametrize("kind, conditions, actions, control, message",
                         [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_an_invalid_rule_is_refused_with_the_error_on_the_wrong_control(
        admin_client, kind, conditions, actions, control, message):
    before = db.session.scalar(select(func.count()).select_from(Rule))
    response = admin_client.post(f"/admin/rules/new/{kind}", data=rule_form(
        "Broken", kind=kind, conditions=conditions, actions=actions))
    assert response.status_code == 400
    page = soup(response)
    errors = field_errors(page, control)
    assert len(errors) == 1 and message in errors[0], errors
    assert page.find(id=control).get("aria-invalid") == "true"
    every = [p for p in page.select(".builder .error")]
    assert len(every) == 1, [p.get_text() for p in every]  # only on that control
    assert page.find(id="name")["value"] == "Broken"  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(Rule)) == before


def test_editing_a_rule_keeps_it_valid_and_shows_errors_the_same_way(admin_client):
    rule = seeded_rule()
    page = soup(admin_client.get(f"/admin/rules/{rule.id}/edit"))
    assert page.find(id="conditions-0-value")["value"] == "Problem Solved"
    assert page.find(id="conditions-1-value")["value"] == "no"
    data = rule_form(rule.name, conditions=[("status", "changed_to", "Solved-ish"),
                                            ("is_open", "is", "no")],
                     actions=[{"kind": "thermostat_send", "target": "#1"}])
    response = admin_client.post(f"/admin/rules/{rule.id}/edit", data=data)
    assert response.status_code == 400
    assert field_errors(soup(response), "conditions-0-value") == [
        "There is no status named 'Solved-ish'"]
    db.session.expire_all()
    assert seeded_rule().conditions[0]["value"] == status_id("Problem Solved")  # unchanged


# ---------------------------------------------------------------- broken references


def test_a_deleted_status_flags_the_rule_and_a_run_logs_why_without_crashing(admin_client, app):
    admin = admin_client
    db.session.add(Status(name="Vendor Wait", position=20))
    db.session.commit()
    broken = build(admin, "Chase vendor", conditions=[("status", "changed_to", "Vendor Wait")],
                   actions=[{"kind": "set_urgent", "target": "yes"}])
    after = build(admin, "Note every change", conditions=[("status", "changed", "")],
                  actions=[{"kind": "add_private_note", "body": "status changed"}])
    gone_id = broken.conditions[0]["value"]
    db.session.delete(db.session.get(Status, gone_id))
    db.session.commit()

    shown = listed(admin)
    assert shown[broken.id]["flagged"] and shown[broken.id]["problems"] == [
        f"Skipped until fixed: Status: the status #{gone_id} no longer exists"]
    assert f"(deleted status #{gone_id})" in shown[broken.id]["description"]
    assert shown[after.id]["problems"] == [] and not shown[after.id]["flagged"]

    ticket = make_ticket()
    tid = ticket.id
    update(admin, tid, "Escalated")  # the run goes on: the later trigger still acts
    assert events(tid, "note_private") == ["status changed"]
    assert db.session.get(Ticket, tid).urgent is False
    [run] = log_rows(admin, broken)
    assert run["result"] == f"Status: the status #{gone_id} no longer exists"
    assert run["actions"] == [] and run["why"] == []
    assert dry_run(admin, broken, tid)["verdict"] == (
        f"The rule is skipped until fixed: Status: the status #{gone_id} no longer exists")


def test_a_deleted_custom_field_flags_an_automation_and_its_run_logs_why(admin_client, app):
    from helpdesk.rules.engine import run_automation

    admin = admin_client
    db.session.add(CustomField(name="Tier", field_type="text"))
    db.session.commit()
    tier = db.session.scalar(select(CustomField).where(CustomField.name == "Tier"))
    rule = build(admin, "Gold customers", kind="automation",
                 conditions=[(f"custom:{tier.id}", "is", "gold")],
                 actions=[{"kind": "set_urgent", "target": "yes"}])
    setter = build(admin, "Set tier", conditions=[("status", "changed", "")],
                   actions=[{"kind": "set_custom_field", "target": "Tier=gold"}])
    fid = tier.id
    db.session.delete(tier)
    db.session.commit()

    shown = listed(admin)
    assert shown[rule.id]["problems"] == [
        f"Skipped until fixed: custom field #{fid} no longer exists"]
    assert shown[setter.id]["problems"] == [
        f"Skipped until fixed: Set a custom field: the custom field #{fid} no longer exists"]
    assert run_automation(rule.id) == {
        "skipped": [f"custom field #{fid} no longer exists"]}
    [run] = log_rows(admin, rule)
    assert run["result"] == f"skipped: custom field #{fid} no longer exists"
    ticket = make_ticket()
    update(admin, ticket.id, "Escalated")  # the trigger is skipped, the update goes through
    assert db.session.get(Ticket, ticket.id).status.name == "Escalated"
    assert log_rows(admin, setter)[0]["result"] == (
        f"Set a custom field: the custom field #{fid} no longer exists")


def test_a_404_from_thermostat_flags_the_rule_and_later_runs_skip_it(admin_client, connected,
                                                                    app):
    admin = admin_client
    rule = seeded_rule()
    first, second = make_ticket(email="a@example.com"), make_ticket(email="b@example.com")
    first_id, second_id = first.id, second.id
    connected.faults(error_status=404, error_count=1)
    update(admin, first_id, "Problem Solved", close=True)
    run_worker(app)
    db.session.expire_all()
    dispatch = db.session.scalar(select(Dispatch))
    assert dispatch.state == "failed" and "no longer exists in Thermostat" in dispatch.last_error
    assert db.session.get(ThermostatSurvey, 1).gone is True

    shown = listed(admin)[rule.id]
    assert shown["flagged"]
    assert shown["description"].endswith(
        "Send a Thermostat Survey (Support NPS) [survey no longer available in Thermostat]")
    assert shown["problems"] == ["Skipped until fixed: Send a Thermostat Survey: the survey "
                                 "'Support NPS' is no longer available in Thermostat"]

    update(admin, second_id, "Problem Solved", close=True)  # skipped, logged, nothing queued
    assert db.session.scalar(select(func.count()).select_from(Dispatch)) == 1
    newest = log_rows(admin, rule)[0]
    assert newest["request"] == f"#{second_id}" and newest["result"] == (
        "Send a Thermostat Survey: the survey 'Support NPS' is no longer available in "
        "Thermostat")
    assert db.session.get(Ticket, second_id).is_open is False  # the close itself went through

    # Thermostat lists the survey again: the next refresh clears the flag
    from helpdesk.thermostat.services import make_client, store_surveys
    from tests.helpers import EMULATOR_TOKEN

    store_surveys(make_client(EMULATOR_TOKEN).surveys())
    db.session.commit()
    assert listed(admin)[rule.id]["problems"] == []


# ---------------------------------------------------------------- order, toggle, delete


def test_triggers_run_in_the_admins_order_and_the_later_write_wins(admin_client, app):
    admin = admin_client
    escalate = build(admin, "Urgent → Escalated", conditions=[("urgent", "changed_to", "yes")],
                     actions=[{"kind": "set_status", "target": "Escalated"}])
    wait = build(admin, "Urgent → Waiting", conditions=[("urgent", "changed_to", "yes")],
                 actions=[{"kind": "set_status", "target": "Waiting for Reply"}])
    seeded = seeded_rule()

    def order():
        rows = listed(admin)
        return [r["name"] for r in sorted((r for r in rows.values() if r["table"] == "triggers"),
                                          key=lambda r: r["position"])]

    assert order() == [SEEDED_NAME, "Urgent → Escalated", "Urgent → Waiting"]
    tickets = [make_ticket(email=f"t{i}@example.com").id for i in range(4)]

    def urgent_update(tid):
        update(admin, tid, "Active", urgent=True)
        return db.session.get(Ticket, tid).status.name

    assert urgent_update(tickets[0]) == "Waiting for Reply"  # the last in order wrote last
    assert [b for b in events(tickets[0], "change") if "by rule" in b] == [
        "Status set to Escalated by rule 'Urgent → Escalated'",
        "Status set to Waiting for Reply by rule 'Urgent → Waiting'"]

    click(admin, wait, "move", "up")
    assert order() == [SEEDED_NAME, "Urgent → Waiting", "Urgent → Escalated"]
    assert urgent_update(tickets[1]) == "Escalated"
    page = soup(admin.get("/admin/rules/"))  # the first cannot move up, the last not down
    assert page.find("form", attrs={"action": f"/admin/rules/{escalate.id}/move/down"}) is None
    assert page.find("form", attrs={"action": f"/admin/rules/{seeded.id}/move/up"}) is None
    assert admin.post(f"/admin/rules/{escalate.id}/move/down").status_code == 302
    assert order() == [SEEDED_NAME, "Urgent → Waiting", "Urgent → Escalated"]
    click(admin, seeded, "move", "down")
    assert order() == ["Urgent → Waiting", SEEDED_NAME, "Urgent → Escalated"]

    click(admin, escalate, "toggle")
    assert listed(admin)[escalate.id]["state"] == "Disabled"
    assert urgent_update(tickets[2]) == "Waiting for Reply"
    assert db.session.scalar(select(func.count()).select_from(RuleRun)
                             .where(RuleRun.rule_id == escalate.id)) == 2

    wait_id = wait.id
    assert db.session.scalar(select(func.count()).select_from(RuleRun)
                             .where(RuleRun.rule_id == wait_id)) == 3
    click(admin, wait, "delete")
    assert db.session.get(Rule, wait_id) is None and wait_id not in listed(admin)
    assert db.session.scalar(select(func.count()).select_from(RuleRun)
                             .where(RuleRun.rule_id == wait_id)) == 0
    assert urgent_update(tickets[3]) == "Active"  # one disabled, one deleted: nothing acts
    click(admin, escalate, "toggle")
    assert listed(admin)[escalate.id]["state"] == "Enabled"


def test_deleting_a_rule_that_queued_surveys_keeps_the_sends(admin_client, connected, app):
    admin = admin_client
    rule = seeded_rule()
    ticket = make_ticket()
    tid = ticket.id
    update(admin, tid, "Problem Solved", close=True)
    run_worker(app)
    click(admin, rule, "delete")
    assert seeded_rule() is None
    dispatch = db.session.scalar(select(Dispatch))
    assert dispatch.state == "sent" and dispatch.ticket_id == tid and dispatch.rule_id is None
    assert "Survey 'Support NPS' sent to" in text_of(admin.get(f"/requests/{tid}"))


# ---------------------------------------------------------------- no loops


def test_a_triggers_own_status_change_does_not_set_off_triggers_again(admin_client, app):
    admin = admin_client
    bounce = build(admin, "Escalated → Waiting", conditions=[("status", "changed_to", "Escalated")],
                   actions=[{"kind": "set_status", "target": "Waiting for Reply"}])
    back = build(admin, "Waiting → Escalated",
                 conditions=[("status", "changed_to", "Waiting for Reply")],
                 actions=[{"kind": "set_status", "target": "Escalated"}])
    note = build(admin, "Note status changes", conditions=[("status", "changed", "")],
                 actions=[{"kind": "add_private_note", "body": "status changed"}])
    ticket = make_ticket()
    tid = ticket.id
    update(admin, tid, "Escalated")
    assert db.session.get(Ticket, tid).status.name == "Waiting for Reply"
    runs = {r.id: db.session.scalar(select(func.count()).select_from(RuleRun)
                                    .where(RuleRun.rule_id == r.id, RuleRun.fired.is_(True)))
            for r in (bounce, back, note)}
    assert runs == {bounce.id: 1, back.id: 0, note.id: 1}
    assert db.session.scalar(select(func.count()).select_from(RuleRun)) == 2
    assert events(tid, "note_private") == ["status changed"]


# ---------------------------------------------------------------- a failing action


def test_a_failing_webhook_does_not_stop_the_other_actions_or_rules(admin_client, app):
    admin = admin_client
    port = free_port()  # nothing listens there
    hook = build(admin, "Tell the dashboard", conditions=[("status", "changed", "")],
                 actions=[{"kind": "webhook", "target": f"http://127.0.0.1:{port}/hook"},
                          {"kind": "add_private_note", "body": "after the webhook"}])
    later = build(admin, "Mark urgent", conditions=[("status", "changed", "")],
                  actions=[{"kind": "set_urgent", "target": "yes"}])
    ticket = make_ticket()
    tid = ticket.id
    update(admin, tid, "Escalated")
    assert events(tid, "note_private") == ["after the webhook"]
    assert db.session.get(Ticket, tid).urgent is True
    run_worker(app)
    db.session.expire_all()
    failed = [b for b in events(tid, "system") if b.startswith("Webhook POST")]
    assert failed == [f"Webhook POST to http://127.0.0.1:{port}/hook by rule 'Tell the "
                      "dashboard': failed (ConnectionError)"]
    assert log_rows(admin, hook)[0]["actions"] == [
        f"webhook POST to http://127.0.0.1:{port}/hook queued", "private note added"]
    assert log_rows(admin, later)[0]["actions"] == ["urgent set to yes"]


def test_an_action_that_raises_is_logged_failed_and_the_rest_still_run(admin_client, app,
                                                                        monkeypatch):
    from helpdesk.history import add_event
    from helpdesk.rules import actions

    def explode(rule, params, ticket, actor):
        add_event(ticket, "system", "half-done work that must be rolled back")
        raise RuntimeError("boom")

    admin = admin_client
    first = build(admin, "Categorise", conditions=[("status", "changed", "")],
                  actions=[{"kind": "set_category", "target": "Billing"},
                           {"kind": "add_private_note", "body": "second action ran"}])
    later = build(admin, "Mark urgent", conditions=[("status", "changed", "")],
                  actions=[{"kind": "set_urgent", "target": "yes"}])
    monkeypatch.setitem(actions.ACTIONS, "set_category", explode)
    ticket = make_ticket()
    tid = ticket.id
    update(admin, tid, "Escalated")
    t = db.session.get(Ticket, tid)
    assert (t.status.name, t.category_id, t.urgent) == ("Escalated", None, True)
    assert events(tid, "note_private") == ["second action ran"]
    assert "half-done work that must be rolled back" not in events(tid)
    assert log_rows(admin, first)[0]["actions"] == ["failed: RuntimeError", "private note added"]
    assert log_rows(admin, later)[0]["actions"] == ["urgent set to yes"]
