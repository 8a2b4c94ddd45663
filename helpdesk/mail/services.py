"""Queueing outbound email: an outbox row and a history line, in the caller's transaction."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from ..extensions import db
from ..history import add_event
from .models import OutboundEmail

if TYPE_CHECKING:
    from ..models import Rule, Ticket

KINDS = ("customer", "staff")
_ADDRESS_RE = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


def queue_email(ticket: Ticket | None, to: str, subject: str, body: str, *, kind: str,
                rule: Rule | None = None, html: bool = False) -> OutboundEmail:
    """Add an outbound email to the outbox and the request's history; flush, never commit.

    `subject` and `body` are final text: render placeholders first with
    :func:`helpdesk.mail.placeholders.render` (``mode="text"`` for the subject, ``"html"`` for
    an HTML body). With ``html=True`` the body is sent as HTML with a plain-text alternative
    derived from it. The send job is enqueued once the caller's transaction commits
    (helpdesk/outbox.py); a rollback sends nothing. Raises ValueError for a malformed
    address or an unknown kind ("customer" | "staff").
    """
    to = (to or "").strip()
    if not _ADDRESS_RE.fullmatch(to):
        raise ValueError(f"not an email address: {to!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    # A header holds one line: a newline in a subject could forge headers.
    subject = re.sub(r"\s+", " ", subject or "").strip()[:250] or "(no subject)"
    email = OutboundEmail(
        ticket=ticket, rule_id=rule.id if rule is not None else None, kind=kind,
        to_address=to, subject=subject,
        body_text=html_to_text(body) if html else (body or ""),
        body_html=body if html else None,
    )
    db.session.add(email)
    if ticket is not None:
        add_event(ticket, "email", f"Email to {to} queued: {subject}", outcome="queued")
    db.session.flush()
    return email


class _TextExtractor(HTMLParser):
    """Visible text of an HTML body, links written as 'label (url)'."""

    BREAKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: list[str | None] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag == "a":
            self._href.append(dict(attrs).get("href"))
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._href:
            href = self._href.pop()
            if href and not href.startswith("#"):
                self.parts.append(f" ({href})")
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(body: str) -> str:
    """A plain-text alternative of an HTML body (text content, links as 'label (url)')."""
    parser = _TextExtractor()
    parser.feed(body or "")
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
