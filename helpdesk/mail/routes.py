"""Admin > Mail (dev): what the local SMTP sink caught, and the outbound email outbox."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..history import add_event
from .models import OutboundEmail
from .sink import list_messages, read_message

bp = Blueprint("mailbox", __name__)

STATES = ("pending", "sending", "retrying", "sent", "failed")


def sink_dir() -> Path | None:
    """The sink's Maildir from config, or None when it does not exist here."""
    configured = current_app.config.get("MAIL_SINK_DIR")
    if not configured:
        return None
    path = Path(configured)
    return path if path.is_dir() else None


@bp.app_template_global("mail_sink_enabled")
def mail_sink_enabled() -> bool:
    """Whether the nav shows "Mail (dev)": only where a local sink stores mail."""
    return sink_dir() is not None


@bp.get("/")
def index():
    """Caught messages newest first, and the outbox of emails with their state and reason."""
    state = request.args.get("state", "")
    if state not in STATES:
        state = ""
    query = select(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(100)
    if state:
        query = query.where(OutboundEmail.state == state)
    outbound = list(db.session.scalars(query))
    counts = dict(db.session.execute(
        select(OutboundEmail.state, func.count()).group_by(OutboundEmail.state)).all())
    directory = sink_dir()
    caught = list_messages(directory) if directory is not None else []
    return render_template("mail/index.html", caught=caught, outbound=outbound, counts=counts,
                           states=STATES, state=state, directory=directory,
                           configured_dir=current_app.config.get("MAIL_SINK_DIR"))


@bp.get("/caught/<key>")
def show(key: str):
    """One caught message: headers and body as text (HTML is shown as source, never rendered)."""
    directory = sink_dir()
    message = read_message(directory, key) if directory is not None else None
    if message is None:
        abort(404)
    return render_template("mail/show.html", message=message)


@bp.post("/outbound/<int:email_id>/retry")
def retry(email_id: int):
    """Send a failed email again (a new series of attempts)."""
    from ..outbox import enqueue_emails

    email = db.session.get(OutboundEmail, email_id)
    if email is None:
        abort(404)
    if email.state != "failed":
        flash(f"Email #{email_id} is {email.state}: only failed emails can be retried.", "warning")
        return redirect(url_for(".index"))
    email.state = "pending"
    email.attempts = 0
    email.next_attempt_at = None
    if email.ticket is not None:
        add_event(email.ticket, "email", f"Email '{email.subject}' to {email.to_address} queued "
                  "again", author=current_user, outcome="queued")
    db.session.commit()
    enqueue_emails([email_id])
    flash(f"Email #{email_id} queued again.", "success")
    return redirect(url_for(".index"))
