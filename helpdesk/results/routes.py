"""The signed inbound results route: pushed survey responses, one or an array."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from ..crypto import decrypt
from ..extensions import csrf, db
from ..models import InboundDelivery
from ..thermostat.ingest import InvalidResult, parse_response, ingest_one
from ..thermostat.services import get_integration
from .signing import SignatureError, verify

log = logging.getLogger(__name__)
bp = Blueprint("results", __name__)


def _error(status: int, message: str, **extra):
    log.warning("inbound results refused (%s): %s", status, message)
    return jsonify({"ok": False, "error": message, **extra}), status


@bp.post("/inbound/thermostat")
@csrf.exempt
def inbound():
    """Accept a signed push of survey responses; idempotent, all-or-nothing per body."""
    limit = current_app.config["INBOUND_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"body is larger than {limit} bytes")
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        return _error(413, f"body is larger than {limit} bytes")
    integ = get_integration()
    secret = decrypt(integ.push_secret_encrypted) if integ.push_secret_encrypted else None
    db.session.commit()
    if not secret:
        return _error(403, "pushes are not enabled: generate a push secret on Admin > "
                      "Integrations")
    header = request.headers.get("X-Signature")
    try:
        verify(secret, header, raw, current_app.config["INBOUND_TOLERANCE_SECONDS"])
    except SignatureError as exc:
        return _error(401, str(exc))
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        return _error(400, f"body is not valid JSON: {exc}")
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        return _error(400, "body holds no results")
    parsed, errors = [], []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_response(item))
        except InvalidResult as exc:
            errors.append({"index": index, "error": str(exc)})
    if errors:
        db.session.rollback()
        return _error(422, "some results are invalid; nothing was stored", results=errors)
    # Store the raw body first: a replay of the same signature is refused by its unique key.
    delivery = InboundDelivery(signature=header[:200], body=raw.decode("utf-8"))
    db.session.add(delivery)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _error(409, "this signed body was already received (replay refused)")
    outcomes = [ingest_one(p, "thermostat") for p in parsed]
    delivery.state = "processed"
    delivery.stored_count = sum(1 for o in outcomes if o != "unchanged")
    db.session.commit()
    return jsonify({"ok": True, "received": len(parsed),
                    "created": outcomes.count("created"), "updated": outcomes.count("updated"),
                    "unchanged": outcomes.count("unchanged")})
