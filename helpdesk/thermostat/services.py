"""The Thermostat integration record: connect, disconnect, client, survey cache."""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import select, update

from ..crypto import decrypt, encrypt
from ..extensions import db
from ..models import Dispatch, Integration, ThermostatSurvey, utcnow
from .client import ThermostatClient, ThermostatError

NAME = "thermostat"


def get_integration() -> Integration:
    """The Thermostat integration row, created (disconnected) on first use."""
    integ = db.session.scalar(select(Integration).where(Integration.name == NAME))
    if integ is None:
        integ = Integration(name=NAME, state="disconnected", account={})
        db.session.add(integ)
        db.session.flush()
    return integ


def make_client(token: str, gated: bool = True) -> ThermostatClient:
    """A client for the configured base URL; gated: each call waits on the shared limiter."""
    from .throttle import make_gate

    return ThermostatClient(current_app.config["THERMOSTAT_BASE_URL"], token,
                            timeout=current_app.config["THERMOSTAT_TIMEOUT"],
                            gate=make_gate(token) if gated else None)


def current_token(integ: Integration) -> str | None:
    """The decrypted token, or None when not connected or unreadable with our keys."""
    if not integ.token_encrypted:
        return None
    return decrypt(integ.token_encrypted)


def client_for(integ: Integration, gated: bool = True) -> ThermostatClient | None:
    """A client with the stored token, or None when there is none."""
    token = current_token(integ)
    return make_client(token, gated) if token else None


def check_token(token: str) -> dict:
    """Check a token against GET /api/account; raises ThermostatError when it fails."""
    return make_client(token).account()


def save_token(integ: Integration, token: str, account: dict) -> int:
    """Store a checked token encrypted and resume paused sends; returns how many resumed."""
    integ.token_encrypted = encrypt(token)
    integ.token_hint = token[-4:]
    integ.state = "connected"
    integ.account = plan_usage(account)
    integ.checked_at = utcnow()
    result = db.session.execute(
        update(Dispatch).where(Dispatch.state == "paused")
        .values(state="pending", last_error=None, next_attempt_at=None)
    )
    return result.rowcount or 0


def disconnect(integ: Integration) -> None:
    """Forget the token; sends wait (paused) until a token is saved again."""
    integ.token_encrypted = None
    integ.token_hint = None
    integ.state = "disconnected"
    integ.account = {}
    integ.checked_at = utcnow()


def mark_unauthorized(integ: Integration, message: str) -> None:
    """Thermostat refused the stored token: tell admins, pause sending."""
    integ.state = "unauthorized"
    integ.last_poll_error = message
    integ.checked_at = utcnow()


def ensure_push_secret(integ: Integration) -> str:
    """The inbound route's signing secret, generated on first use."""
    secret = decrypt(integ.push_secret_encrypted) if integ.push_secret_encrypted else None
    if not secret:
        secret = secrets.token_hex(32)
        integ.push_secret_encrypted = encrypt(secret)
    return secret


def regenerate_push_secret(integ: Integration) -> str:
    """Replace the signing secret; pushes signed with the old one are refused from now."""
    integ.push_secret_encrypted = None
    return ensure_push_secret(integ)


def plan_usage(account: dict) -> dict:
    """The plan figures of a GET /api/account answer, keeping only well-typed values."""
    def num(key):
        value = account.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return {"monthly_plan_limit": num("monthly_plan_limit"),
            "monthly_plan_use": num("monthly_plan_use"),
            "limit_reached": bool(account.get("limit_reached", False))}


def store_surveys(surveys: list[dict]) -> list[ThermostatSurvey]:
    """Upsert the survey cache from GET /api/surveys; flag the ones no longer listed."""
    seen = set()
    now = utcnow()
    for raw in surveys:
        try:
            survey_id = int(raw["id"])
        except (KeyError, TypeError, ValueError):
            continue
        seen.add(survey_id)
        row = db.session.get(ThermostatSurvey, survey_id) or ThermostatSurvey(id=survey_id)
        row.name = str(raw.get("name") or f"Survey #{survey_id}")[:200]
        row.survey_type = "csat" if raw.get("type") == "csat" else "nps"
        row.archived = bool(raw.get("archived"))
        row.public_key = str(raw.get("public_key") or "")[:32] or None
        try:
            row.lockout_period = int(raw.get("lockout_period") or 0)
        except (TypeError, ValueError):
            row.lockout_period = 0
        row.campaign_enabled = bool(raw.get("campaign_enabled"))
        row.csat_labels = [str(raw.get(f"csat_{i}") or "") for i in range(1, 6)]
        if not all(row.csat_labels):
            row.csat_labels = []
        row.gone = False
        row.fetched_at = now
        db.session.add(row)
    for row in db.session.scalars(select(ThermostatSurvey)):
        if row.id not in seen:
            row.gone = True
    return list(db.session.scalars(select(ThermostatSurvey).order_by(ThermostatSurvey.name)))


def refresh_surveys(integ: Integration) -> list[ThermostatSurvey]:
    """Fetch the survey list now and cache it; raises ThermostatError."""
    client = client_for(integ)
    if client is None:
        raise ThermostatError("Thermostat is not connected")
    return store_surveys(client.surveys())
