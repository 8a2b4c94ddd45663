"""RQ jobs for outbound email: send one email over SMTP, sweep the email outbox.

Like the Thermostat jobs: take an id, claim the row atomically, hold no transaction open
during the SMTP conversation, record the outcome on the row and in the request history.
Temporary failures (connection refused, timeouts, 4xx replies) are retried with backoff;
5xx replies fail at once with the server's reason. Nothing is ever recorded as sent unless
the server accepted the message.
"""

from __future__ import annotations

import logging
import random
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app

from ..extensions import db
from ..history import add_event
from ..outbox import claim
from ..queue import get_queue
from ..tasks import job
from .models import OutboundEmail, utcnow

log = logging.getLogger(__name__)

STUCK_SENDING_SECONDS = 600  # well past the send job's 120 s timeout


@dataclass
class SendError(Exception):
    """Why an SMTP send did not happen, and whether trying again may help."""

    message: str
    temporary: bool

    def __str__(self) -> str:
        return self.message


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: about base, 2×base, 4×base... capped at an hour."""
    base = current_app.config["SMTP_RETRY_BASE"]
    delay = min(base * (2 ** (attempt - 1)), 3600.0)
    return delay / 2 + random.uniform(0, delay / 2)


def build_message(email: OutboundEmail, sender: str) -> EmailMessage:
    """The MIME message of an outbox row (multipart/alternative when it has an HTML body)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = email.to_address
    msg["Subject"] = email.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = email.message_id
    if email.ticket_id is not None:
        msg["X-Helpdesk-Request"] = str(email.ticket_id)
    msg.set_content(email.body_text or "")
    if email.body_html:
        msg.add_alternative(email.body_html, subtype="html")
    return msg


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}".strip()


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP that knows when the whole message has been handed over.

    After the body's closing "." the server may already have taken the message: a timeout or
    a dropped connection while waiting for its reply leaves the outcome unknown, and a retry
    could send the customer a second copy."""

    body_sent = False

    def send(self, s) -> None:
        super().send(s)
        data = s if isinstance(s, bytes) else str(s).encode("ascii", "replace")
        if data.endswith(b"\r\n.\r\n"):  # smtplib.SMTP.data ends the body with this
            self.body_sent = True


UNCERTAIN = ("the connection was lost after the whole message was handed to the SMTP server, "
             "before it answered: it may or may not have been delivered, so it is not sent "
             "again (retry it from Admin > Mail if the customer did not get it)")


def deliver(msg: EmailMessage, to: str) -> None:
    """Hand one message to the configured SMTP server; raises SendError when it is not taken."""
    cfg = current_app.config
    smtp = None
    try:
        smtp = _SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"])
        if cfg["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["SMTP_USER"]:
            smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
        refused = smtp.send_message(msg, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients
    except smtplib.SMTPResponseException as exc:  # greeting, MAIL FROM, DATA, AUTH refused
        raise SendError(_reply_text(exc.smtp_code, exc.smtp_error),
                        temporary=400 <= exc.smtp_code < 500) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise SendError(f"the SMTP server does not support this: {exc}", temporary=False) from exc
    except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, dropped
        if smtp is not None and smtp.body_sent:
            raise SendError(f"{type(exc).__name__}: {UNCERTAIN}", temporary=False) from exc
        text = str(exc)
        raise SendError(f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
                        temporary=True) from exc
    finally:
        if smtp is not None:
            _quit(smtp)
    if refused:
        code, reply = next(iter(refused.values()))
        raise SendError(_reply_text(code, reply), temporary=400 <= code < 500)


def _quit(smtp: smtplib.SMTP) -> None:
    # The message is already accepted or refused: a failing QUIT changes neither.
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


@job
def send_email(email_id: int) -> str:
    """Send one outbound email over SMTP and record the outcome on the request."""
    if not claim(OutboundEmail, email_id):
        return "not claimable"
    email = db.session.get(OutboundEmail, email_id)
    if not email.message_id:
        domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "localhost"
        email.message_id = make_msgid(domain=domain)  # kept across retries
    msg = build_message(email, current_app.config["MAIL_FROM"])
    to = email.to_address
    db.session.commit()  # nothing held open during the SMTP conversation
    try:
        deliver(msg, to)
    except SendError as exc:
        return _record_failure(email_id, exc)
    email = db.session.get(OutboundEmail, email_id)
    email.state = "sent"
    email.sent_at = utcnow()
    email.last_error = None
    email.next_attempt_at = None
    if email.ticket is not None:
        add_event(email.ticket, "email", f"Email '{email.subject}' sent to {email.to_address}",
                  outcome="ok")
    db.session.commit()
    return "sent"


def _record_failure(email_id: int, exc: SendError) -> str:
    email = db.session.get(OutboundEmail, email_id)
    email.last_error = exc.message
    max_attempts = current_app.config["SMTP_MAX_ATTEMPTS"]
    if exc.temporary and email.attempts < max_attempts:
        delay = backoff_seconds(email.attempts)
        email.state = "retrying"
        email.next_attempt_at = utcnow() + timedelta(seconds=delay)
        if email.attempts == 1 and email.ticket is not None:
            add_event(email.ticket, "email", f"Email '{email.subject}' to {email.to_address} "
                      f"not sent yet ({exc.message}); retrying", outcome="retrying")
        db.session.commit()
        try:
            get_queue().enqueue_in(timedelta(seconds=delay), send_email, email_id,
                                   job_timeout=120)
        except Exception as err:  # the sweep re-enqueues retrying rows that are due
            log.warning("could not schedule retry of email %s: %s", email_id, err)
        return "retrying"
    reason = exc.message
    if exc.temporary:
        reason = f"{exc.message} (gave up after {email.attempts} attempts)"
    email.state = "failed"
    email.last_error = reason
    email.next_attempt_at = None
    if email.ticket is not None:
        add_event(email.ticket, "email", f"Email '{email.subject}' to {email.to_address} "
                  f"failed: {reason}", outcome="failed")
    db.session.commit()
    return "failed"


@job
def sweep_emails(stale_seconds: int = 60, stuck_seconds: int = STUCK_SENDING_SECONDS) -> int:
    """Enqueue emails never enqueued or due for retry; fail emails whose worker died mid-send."""
    from ..outbox import due_ids, enqueue_emails, stuck_rows

    now = utcnow()
    for email in stuck_rows(OutboundEmail, now, stuck_seconds):
        # The server may or may not have taken it: say so instead of risking a second copy.
        email.state = "failed"
        email.last_error = ("the worker stopped during the SMTP conversation; the email may "
                            "or may not have been delivered")
        if email.ticket is not None:
            add_event(email.ticket, "email", f"Email '{email.subject}' to {email.to_address}: "
                      f"outcome unknown, {email.last_error}", outcome="failed")
    db.session.commit()
    ids = due_ids(OutboundEmail, now, stale_seconds)
    return enqueue_emails(ids) if ids else 0
