"""Signatures of pushed results: `X-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>`."""

from __future__ import annotations

import hashlib
import hmac
import time


class SignatureError(ValueError):
    """A missing, malformed, stale or wrong signature."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The X-Signature header value for a body."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str | None, body: bytes, tolerance: int = 300,
           now: float | None = None) -> int:
    """Check a signature header; returns its timestamp or raises SignatureError."""
    if not header:
        raise SignatureError("missing X-Signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("X-Signature has no valid t=<unix seconds>") from None
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        raise SignatureError(f"X-Signature timestamp is outside the {tolerance // 60}-minute window")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, v) for v in parts.get("v1", [])):
        raise SignatureError("X-Signature does not match the body")
    return t
