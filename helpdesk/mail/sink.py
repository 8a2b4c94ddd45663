"""A local SMTP sink for development and tests: catches every message into a Maildir.

    python -m helpdesk.mail.sink --port 8025 --maildir instance/mail [--refuse bounce@]
                                 [--tempfail busy@] [--slow slow@]

Every accepted message is stored in a standard Maildir (readable by any mail client, e.g.
``mutt -f instance/mail``) with three headers added in front: ``X-Sink-Mail-From``,
``X-Sink-Rcpt-To`` and ``X-Sink-Received-At``. ``--refuse PATTERN`` answers ``550`` to every
recipient matching the regular expression (searched, case-insensitive), ``--tempfail
PATTERN`` answers ``451``: both are for tests and demos of failed and retried sends.
``--slow PATTERN`` stores a message to a matching recipient, then waits ``--slow-seconds``
before saying so: a sender that gives up sooner does not know it was delivered.

The reading half (:func:`list_messages`, :func:`read_message`) is what Admin > Mail (dev)
shows; it needs only the standard library, so the web app never imports aiosmtpd.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import mailbox
import re
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path


@dataclass
class CaughtMessage:
    """One message the sink caught, as the mail viewer shows it."""

    key: str
    subject: str
    to: str
    sender: str
    received_at: datetime | None
    text: str
    html: str | None
    headers: list[tuple[str, str]]


def _open(directory: str | Path) -> mailbox.Maildir | None:
    path = Path(directory)
    if not (path / "new").is_dir() and not (path / "cur").is_dir():
        return None
    return mailbox.Maildir(str(path), factory=None, create=False)


def _when(msg: email.message.EmailMessage) -> datetime | None:
    for header in ("X-Sink-Received-At", "Date"):
        value = msg.get(header)
        if value:
            try:
                when = parsedate_to_datetime(str(value))
            except (TypeError, ValueError):
                continue
            if when.tzinfo is not None:
                when = when.astimezone(UTC).replace(tzinfo=None)
            return when
    return None


def _parse(key: str, raw: bytes) -> CaughtMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))

    def content(part) -> str | None:
        if part is None:
            return None
        try:
            return part.get_content()
        except (LookupError, ValueError):  # unknown charset, broken encoding
            payload = part.get_payload(decode=True) or b""
            return payload.decode("utf-8", "replace")

    return CaughtMessage(
        key=key,
        subject=str(msg.get("Subject", "")),
        to=str(msg.get("X-Sink-Rcpt-To") or msg.get("To", "")),
        sender=str(msg.get("From", "")),
        received_at=_when(msg),
        text=content(text_part) or "",
        html=content(html_part),
        headers=[(k, str(v)) for k, v in msg.items()],
    )


def list_messages(directory: str | Path, limit: int = 200) -> list[CaughtMessage]:
    """The caught messages, newest first (empty when the directory is not a Maildir)."""
    box = _open(directory)
    if box is None:
        return []
    found = []
    for key in box.iterkeys():  # iterating a Mailbox itself yields messages
        try:
            found.append(_parse(key, box.get_bytes(key)))
        except (KeyError, OSError):  # removed while listing
            continue
    found.sort(key=lambda m: (m.received_at or datetime.min, m.key), reverse=True)
    return found[:limit]


def read_message(directory: str | Path, key: str) -> CaughtMessage | None:
    """One caught message by its Maildir key, or None (unknown keys never touch the disk)."""
    box = _open(directory)
    if box is None:
        return None
    try:
        return _parse(key, box.get_bytes(key))  # looked up in the Maildir's own table
    except (KeyError, OSError):
        return None


class SinkHandler:
    """aiosmtpd handler: refuse or defer recipients by pattern, store the rest."""

    def __init__(self, maildir: str | Path, refuse: str | None = None,
                 tempfail: str | None = None, slow: str | None = None,
                 slow_seconds: float = 30.0):
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips an existing folder
            Path(maildir, sub).mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(str(maildir), factory=None, create=False)
        self.refuse = re.compile(refuse, re.IGNORECASE) if refuse else None
        self.tempfail = re.compile(tempfail, re.IGNORECASE) if tempfail else None
        self.slow = re.compile(slow, re.IGNORECASE) if slow else None
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse is not None and self.refuse.search(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected (sink --refuse)"
        if self.tempfail is not None and self.tempfail.search(address):
            return f"451 4.3.2 <{address}>: Try again later (sink --tempfail)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        prefix = (f"X-Sink-Mail-From: {envelope.mail_from}\n"
                  f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\n"
                  f"X-Sink-Received-At: {now}\n").encode()
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        data = data.replace(b"\r\n", b"\n")  # a Maildir file uses local line ends
        with self.lock:
            key = self.box.add(prefix + data)
        print(f"caught {key} for {', '.join(envelope.rcpt_tos)}", flush=True)
        if self.slow is not None and any(self.slow.search(a) for a in envelope.rcpt_tos):
            await asyncio.sleep(self.slow_seconds)
        return "250 2.0.0 Message accepted by the sink"


def main(argv: list[str] | None = None) -> int:
    """Run the sink until SIGTERM or Ctrl-C."""
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", default="instance/mail")
    parser.add_argument("--refuse", help="regex: answer 550 to matching recipients")
    parser.add_argument("--tempfail", help="regex: answer 451 to matching recipients")
    parser.add_argument("--slow", help="regex: store, then answer late, for these recipients")
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    handler = SinkHandler(args.maildir, args.refuse, args.tempfail, args.slow,
                          args.slow_seconds)
    controller = Controller(handler, hostname=args.host, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, storing into {args.maildir}", flush=True)
    try:
        while not stop.wait(1):
            pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
