"""Outbound email against a real SMTP sink process: queue, send, refuse, retry, the survey link."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from scripts.stack import Stack, free_port
from tests.helpers import make_ticket, run_worker, soup, text_of

SURVEY_KEY = "5f2b1c0d9e8a7b61"  # the emulator's "Support NPS", declares fields xrequest, plan


@dataclass
class Sink:
    port: int
    directory: Path

    def messages(self):
        from helpdesk.mail.sink import list_messages

        return list_messages(self.directory)

    def clear(self) -> None:
        for sub in ("new", "cur", "tmp"):
            for f in (self.directory / sub).glob("*"):
                f.unlink()


@pytest.fixture(scope="module")
def sink(tmp_path_factory, artifacts_dir):
    """The SMTP sink as a process: 550 for bounce@..., 451 for busy@..., stores the rest."""
    stack = Stack(env=dict(os.environ), log_dir=artifacts_dir)
    port = free_port()
    directory = tmp_path_factory.mktemp("mail")
    stack.start_smtp_sink(port, directory, ["--refuse", "^bounce@", "--tempfail", "^busy@",
                                            "--slow", "^slow@", "--slow-seconds", "4"])
    yield Sink(port, directory)
    stack.stop()


@pytest.fixture
def mail(app, sink, seeded):
    """The app sending to the sink, whose Maildir the Mail (dev) page reads; emptied first."""
    sink.clear()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, MAIL_SINK_DIR=str(sink.directory),
                      MAIL_FROM="support@helpdesk.test", SMTP_MAX_ATTEMPTS=3)
    return sink


def _events(ticket) -> list[tuple[str, str | None]]:
    from helpdesk.extensions import db
    from helpdesk.models import TicketEvent

    rows = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                              .order_by(TicketEvent.id))
    return [(e.body, e.outcome) for e in rows if e.kind == "email"]


def _queue(ticket, to="pat@example.com", subject="About your request", body="Hello Pat",
           **kwargs):
    from helpdesk.mail.services import queue_email

    kwargs.setdefault("kind", "customer")
    return queue_email(ticket, to, subject, body, **kwargs)


def test_a_queued_email_is_sent_over_smtp_after_the_commit(app, mail):
    from helpdesk.extensions import db
    from helpdesk.mail.models import OutboundEmail
    from helpdesk.queue import get_queue

    ticket = make_ticket()
    email = _queue(ticket, subject=f"Request #{ticket.id}: we are on it",
                   body="Hello Pat,\nwe are on it.\n")
    assert email.id is not None and email.state == "pending"
    assert get_queue().count == 0  # nothing is enqueued before the commit
    db.session.commit()
    assert get_queue().count == 1
    run_worker(app)

    [caught] = mail.messages()
    assert caught.subject == f"Request #{ticket.id}: we are on it"
    assert caught.to == "pat@example.com"
    assert caught.sender == "support@helpdesk.test"
    assert caught.text == "Hello Pat,\nwe are on it.\n"
    assert caught.html is None
    headers = dict(caught.headers)
    assert headers["X-Helpdesk-Request"] == str(ticket.id)

    email = db.session.get(OutboundEmail, email.id)
    assert (email.state, email.attempts, email.last_error) == ("sent", 1, None)
    assert email.sent_at is not None and headers["Message-ID"] == email.message_id
    assert _events(ticket) == [
        (f"Email to pat@example.com queued: Request #{ticket.id}: we are on it", "queued"),
        (f"Email 'Request #{ticket.id}: we are on it' sent to pat@example.com", "ok"),
    ]


def test_a_rolled_back_email_is_never_sent(app, mail):
    from helpdesk.extensions import db
    from helpdesk.mail.models import OutboundEmail
    from helpdesk.queue import get_queue

    ticket = make_ticket()
    _queue(ticket)
    db.session.rollback()
    assert get_queue().count == 0
    assert db.session.scalars(select(OutboundEmail)).all() == []


def test_an_html_email_goes_as_multipart_alternative(app, mail):
    from helpdesk.extensions import db

    ticket = make_ticket()
    _queue(ticket, body='<p>Hello <b>Pat</b></p><p><a href="https://t.example/s/k?x=1">Rate us</a></p>',
           html=True)
    db.session.commit()
    run_worker(app)
    [caught] = mail.messages()
    assert caught.text.strip() == "Hello Pat\n\nRate us (https://t.example/s/k?x=1)"
    assert '<a href="https://t.example/s/k?x=1">' in caught.html


def test_a_subject_cannot_inject_headers(app, mail):
    from helpdesk.extensions import db

    ticket = make_ticket()
    email = _queue(ticket, subject="Hi\r\nBcc: evil@example.com")
    assert email.subject == "Hi Bcc: evil@example.com"
    db.session.commit()
    run_worker(app)
    [caught] = mail.messages()
    assert "Bcc" not in dict(caught.headers) and caught.to == "pat@example.com"


@pytest.mark.parametrize("to", ["", "not an address", "a@b.c, d@e.f", "x@y\nBcc: z@w"])
def test_queue_email_refuses_malformed_addresses(app, mail, to):
    ticket = make_ticket()
    with pytest.raises(ValueError):
        _queue(ticket, to=to)


def test_a_refused_recipient_fails_with_the_reason_and_is_never_shown_as_sent(app, mail):
    from helpdesk.extensions import db
    from helpdesk.mail.models import OutboundEmail
    from helpdesk.queue import get_queue

    ticket = make_ticket(email="bounce@example.com")
    email = _queue(ticket, to="bounce@example.com", subject="Survey")
    db.session.commit()
    run_worker(app)

    email = db.session.get(OutboundEmail, email.id)
    assert email.state == "failed" and email.attempts == 1 and email.sent_at is None
    assert email.last_error == ("550 5.1.1 <bounce@example.com>: Recipient address rejected "
                                "(sink --refuse)")
    assert mail.messages() == []
    assert get_queue().scheduled_job_registry.count == 0  # a 5xx is not retried
    events = _events(ticket)
    assert events[-1] == (("Email 'Survey' to bounce@example.com failed: 550 5.1.1 "
                          "<bounce@example.com>: Recipient address rejected (sink --refuse)"),
                          "failed")
    assert not any("sent to" in body for body, _ in events)


def test_a_4xx_is_retried_with_backoff_then_fails_after_max_attempts(app, mail):
    from helpdesk.extensions import db
    from helpdesk.mail.jobs import send_email
    from helpdesk.mail.models import OutboundEmail
    from helpdesk.queue import get_queue

    ticket = make_ticket(email="busy@example.com")
    email = _queue(ticket, to="busy@example.com", subject="Survey")
    db.session.commit()
    run_worker(app)

    email = db.session.get(OutboundEmail, email.id)
    assert email.state == "retrying" and email.attempts == 1
    assert email.last_error.startswith("451 4.3.2 <busy@example.com>: Try again later")
    assert email.next_attempt_at is not None
    assert get_queue().scheduled_job_registry.count == 1  # enqueue_in, run by the scheduler
    assert _events(ticket)[-1][1] == "retrying"

    assert send_email(email.id) == "retrying"
    assert send_email(email.id) == "failed"
    db.session.refresh(email)
    assert email.state == "failed" and email.attempts == 3
    assert email.last_error.endswith("(gave up after 3 attempts)")
    assert _events(ticket)[-1][0].startswith("Email 'Survey' to busy@example.com failed: 451 ")


def test_with_the_smtp_server_down_the_email_retries_then_fails(app, mail):
    from helpdesk.extensions import db
    from helpdesk.mail.jobs import send_email
    from helpdesk.mail.models import OutboundEmail

    app.config["SMTP_PORT"] = free_port()  # nothing listens there
    ticket = make_ticket()
    email = _queue(ticket, subject="Survey")
    db.session.commit()
    run_worker(app)
    email = db.session.get(OutboundEmail, email.id)
    assert email.state == "retrying"
    assert email.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"

    assert send_email(email.id) == "retrying"
    assert send_email(email.id) == "failed"
    assert send_email(email.id) == "not claimable"  # a late duplicate job does nothing
    db.session.refresh(email)
    assert email.state == "failed" and email.attempts == 3
    assert email.last_error == ("ConnectionRefusedError: [Errno 111] Connection refused "
                                "(gave up after 3 attempts)")
    events = _events(ticket)
    assert events[-1] == (("Email 'Survey' to pat@example.com failed: ConnectionRefusedError: "
                          "[Errno 111] Connection refused (gave up after 3 attempts)"), "failed")
    assert not any("sent to" in body for body, _ in events)


def test_a_reply_lost_after_the_message_was_handed_over_is_never_sent_twice(app, mail):
    """The sink stores the message, then answers after the sender's timeout: the outcome is
    unknown, so the email fails with that reason instead of being retried (a second copy)."""
    from helpdesk.extensions import db
    from helpdesk.mail.jobs import send_email

    app.config["SMTP_TIMEOUT"] = 1.0
    ticket = make_ticket()
    email = _queue(ticket, to="slow@example.com", subject="Survey")
    db.session.commit()
    assert send_email(email.id) == "failed"
    db.session.refresh(email)
    assert (email.state, email.attempts, email.next_attempt_at) == ("failed", 1, None)
    assert "may or may not have been delivered, so it is not sent again" in email.last_error
    assert [m.to for m in mail.messages()] == ["slow@example.com"]  # it did arrive
    assert send_email(email.id) == "not claimable"
    assert _events(ticket)[-1] == (f"Email 'Survey' to slow@example.com failed: "
                                   f"{email.last_error}", "failed")
    # before the body is handed over the same timeout is an ordinary retry
    app.config["SMTP_PORT"] = free_port()
    other = _queue(ticket, to="pat@example.com", subject="Again")
    db.session.commit()
    assert send_email(other.id) == "retrying"


def test_the_sweep_enqueues_forgotten_emails_and_fails_stuck_ones(app, mail):
    from helpdesk.extensions import db
    from helpdesk.mail.jobs import sweep_emails
    from helpdesk.mail.models import OutboundEmail
    from helpdesk.models import utcnow
    from helpdesk.queue import get_queue

    ticket = make_ticket()
    old = utcnow() - timedelta(minutes=30)
    forgotten = OutboundEmail(ticket=ticket, kind="customer", to_address="pat@example.com",
                              subject="Forgotten", state="pending", created_at=old)
    due = OutboundEmail(ticket=ticket, kind="customer", to_address="pat@example.com",
                        subject="Due", state="retrying", attempts=1, next_attempt_at=old)
    stuck = OutboundEmail(ticket=ticket, kind="customer", to_address="pat@example.com",
                          subject="Stuck", state="sending", attempts=1)
    fresh = OutboundEmail(ticket=ticket, kind="customer", to_address="pat@example.com",
                          subject="Fresh", state="pending")
    db.session.add_all([forgotten, due, stuck, fresh])
    db.session.commit()
    get_queue().empty()  # as if Redis had been down at commit
    stuck.updated_at = old
    db.session.commit()

    assert sweep_emails() == 2
    assert sorted(j.args[0] for j in get_queue().jobs) == sorted([forgotten.id, due.id])
    db.session.refresh(stuck)
    assert stuck.state == "failed" and "may or may not have been delivered" in stuck.last_error
    run_worker(app)
    assert sorted(m.subject for m in mail.messages()) == ["Due", "Forgotten"]


def test_placeholder_values_of_a_request(app, seeded):
    from helpdesk.extensions import db
    from helpdesk.mail.values import placeholder_values
    from helpdesk.models import Category, TicketFieldValue

    category = db.session.scalars(select(Category)).first()
    ticket = make_ticket(category=category, assignee=seeded["agent"])
    ticket.customer.phone = "+1 555 0100"
    db.session.add(TicketFieldValue(ticket=ticket, field_id=1, value="Pro"))
    db.session.commit()
    values = placeholder_values(ticket, "https://help.example.com/")
    assert values == {
        "REQUESTID": str(ticket.id), "FIRSTNAME": "Pat", "LASTNAME": "Smith",
        "FULLNAME": "Pat Smith", "EMAIL": "pat@example.com", "PHONE": "+1 555 0100",
        "CUSTOMERID": str(ticket.customer.id), "STATUS": "Active", "CATEGORY": category.name,
        "ASSIGNEDTO": seeded["agent"].name, "ASSIGNEDTOEMAIL": "agent@example.com",
        "SUBJECT": "Printer on fire",
        "DATEOPENED": ticket.opened_at.strftime("%Y-%m-%d %H:%M UTC"),
        "HELPDESKURL": "https://help.example.com", "CUSTOM1": "Pro",
    }


@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_the_email_customer_survey_link_brings_the_answer_back_to_the_request(
        app, mail, connected, html):
    """The seed's method end to end: render, send, open the link, answer, poll."""
    from helpdesk.extensions import db
    from helpdesk.mail.placeholders import find_errors, render
    from helpdesk.mail.values import placeholder_values
    from helpdesk.models import CustomField, SurveyResult, TicketFieldValue
    from helpdesk.thermostat.jobs import poll_results

    emulator = connected
    assert db.session.get(CustomField, 1).name == "Plan"
    ticket = make_ticket(first="Pat & <Co>")
    db.session.add(TicketFieldValue(ticket=ticket, field_id=1, value="Pro"))
    db.session.commit()

    link_template = f"{emulator.url}/s/{SURVEY_KEY}?xrequest=##REQUESTID##&plan=##CUSTOM1##"
    if html:
        body = (f'<p>Dear ##FIRSTNAME##,</p><p><a href="{link_template.replace("&", "&amp;")}">'
                "How did we do?</a></p>")
    else:
        body = f"Dear ##FIRSTNAME##,\n\nHow did we do? {link_template}\n"
    subject = "How did we do with request ##REQUESTID##?"
    assert find_errors(subject + body, [1]) == []
    values = placeholder_values(ticket, app.config["HELPDESK_URL"])
    from helpdesk.mail.services import queue_email

    queue_email(ticket, ticket.customer.email, render(subject, values, "text"),
                render(body, values, "html" if html else "text"), kind="customer", html=html)
    db.session.commit()
    run_worker(app)

    [caught] = mail.messages()
    assert caught.subject == f"How did we do with request {ticket.id}?"
    expected = f"{emulator.url}/s/{SURVEY_KEY}?xrequest={ticket.id}&plan=Pro"
    if html:
        page = BeautifulSoup(caught.html, "html.parser")
        link = page.find("a")["href"]
        assert page.find("p").get_text() == "Dear Pat & <Co>,"
    else:
        link = re.search(r"https?://\S+", caught.text).group(0)
        assert caught.text.startswith("Dear Pat & <Co>,")
    assert link == expected

    emulator.answer(link, 3, "Slow but fine").raise_for_status()
    poll_results()
    result = db.session.scalar(select(SurveyResult).where(SurveyResult.ticket_id == ticket.id))
    assert result is not None and result.score == 3 and result.feedback == "Slow but fine"
    assert result.custom_fields["plan"] == "Pro"
    assert str(result.custom_fields["xrequest"]) == str(ticket.id)


def test_the_mail_page_shows_caught_mail_as_text_and_the_outbox_states(app, mail, admin_client):
    from helpdesk.extensions import db

    ticket = make_ticket()
    _queue(ticket, subject="Hello <b>there</b>",
           body='<script>alert(1)</script><a href="https://t/?x=1">go</a>', html=True)
    _queue(ticket, to="bounce@example.com", subject="Bounced")
    db.session.commit()
    run_worker(app)

    page = admin_client.get("/admin/mail/")
    assert page.status_code == 200
    doc = soup(page)
    caught = doc.find(id="caught")
    assert [a.get_text() for a in caught.find_all("a")] == ["Hello <b>there</b>"]
    rows = {tr.find_all("td")[3].get_text(): tr for tr in doc.find(id="outbound").tbody.find_all("tr")}
    assert rows["Bounced"].find(class_="state").get_text() == "failed"
    assert "550 5.1.1" in rows["Bounced"].find(class_="reason").get_text()
    assert rows["Hello <b>there</b>"].find(class_="state").get_text() == "sent"
    assert any(a.get_text() == "Mail (dev)" for a in doc.find("nav").find_all("a"))

    show = admin_client.get(caught.find("a")["href"])
    assert show.status_code == 200
    shown = soup(show)
    assert shown.find("script") is None  # the HTML part is shown as source text
    assert shown.find(id="body-html").get_text().startswith("<script>alert(1)</script>")
    assert "go (https://t/?x=1)" in shown.find(id="body-text").get_text()
    assert not any(a.get("href") == "https://t/?x=1" for a in shown.find_all("a"))
    assert admin_client.get("/admin/mail/caught/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert admin_client.get("/admin/mail/caught/nope").status_code == 404


def test_a_failed_email_can_be_retried_from_the_mail_page(app, mail, admin_client):
    from helpdesk.extensions import db
    from helpdesk.mail.models import OutboundEmail

    ticket = make_ticket()
    email = _queue(ticket, to="bounce@example.com", subject="Bounced")
    db.session.commit()
    run_worker(app)
    db.session.refresh(email)
    assert email.state == "failed"
    resp = admin_client.post(f"/admin/mail/outbound/{email.id}/retry")
    assert resp.status_code == 302
    db.session.expire_all()
    email = db.session.get(OutboundEmail, email.id)
    assert email.state == "pending" and email.attempts == 0
    run_worker(app)
    db.session.refresh(email)
    assert email.state == "failed" and email.attempts == 1


def test_the_mail_page_is_for_admins_and_its_link_needs_a_sink(app, mail, agent_client, tmp_path):
    assert agent_client.get("/admin/mail/").status_code == 403
    assert "Mail (dev)" not in text_of(agent_client.get("/"))
    agent_client.post("/logout")
    from tests.helpers import login

    login(agent_client)  # now the admin
    assert "Mail (dev)" in text_of(agent_client.get("/"))
    app.config["MAIL_SINK_DIR"] = str(tmp_path / "no-such-dir")
    assert "Mail (dev)" not in text_of(agent_client.get("/"))
    page = agent_client.get("/admin/mail/")
    assert page.status_code == 200 and "No local SMTP sink here" in text_of(page)


def test_the_sink_stores_a_standard_maildir(app, mail):
    import mailbox

    from helpdesk.extensions import db

    ticket = make_ticket()
    _queue(ticket, subject="Maildir")
    db.session.commit()
    run_worker(app)
    box = mailbox.Maildir(str(mail.directory), factory=None, create=False)
    [msg] = list(box)
    assert msg["Subject"] == "Maildir" and msg["X-Sink-Rcpt-To"] == "pat@example.com"
