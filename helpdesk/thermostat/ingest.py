"""One ingestion path for survey responses, polled or pushed: validate, upsert by id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..criteria import MAX_ID, parse_id
from ..extensions import db
from ..history import add_event
from ..models import SurveyResult, ThermostatSurvey, Ticket, utcnow
from ..results.ratings import rating_for, rating_label, scale_for
from .state import refresh_survey_state

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class InvalidResult(ValueError):
    """A response object that cannot be stored as it is."""


@dataclass
class IngestStats:
    """What one batch did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unmatched: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.created + self.updated


def _parse_time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidResult(f"{name} must be a string like 2026-06-26 14:03:26")
    try:
        return datetime.strptime(value.strip()[:19].replace("T", " "), TIME_FORMAT)
    except ValueError:
        raise InvalidResult(f"{name} {value[:40]!r} is not a time like 2026-06-26 14:03:26") from None


@dataclass
class ParsedResult:
    response_id: str
    survey_id: int | None
    survey_type: str
    score: int
    feedback: str | None
    email: str | None
    custom_fields: dict[str, Any]
    xrequest: str | None
    created_at: datetime | None
    updated_at: datetime | None


def _text(value: str) -> str:
    """Text as a column can store it: no NUL characters (PostgreSQL refuses them) and no lone
    surrogates (which JSON can carry, and no UTF-8 database accepts)."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def parse_response(raw: Any) -> ParsedResult:
    """Validate one response object (as the feed returns it); raises InvalidResult."""
    if not isinstance(raw, dict):
        raise InvalidResult("each result must be a JSON object")
    rid = raw.get("id")
    rid = "" if isinstance(rid, bool) or not isinstance(rid, (int, str)) \
        else _text(str(rid)).strip()[:64]
    if not rid:
        raise InvalidResult("id is required (a number or a string)")
    survey_id = raw.get("survey_id")
    if survey_id is not None and (isinstance(survey_id, bool) or not isinstance(survey_id, int)
                                  or not 0 < survey_id <= MAX_ID):
        raise InvalidResult(f"result {rid}: survey_id must be a number from 1 to {MAX_ID}")
    survey_type = raw.get("type")
    if survey_type is None and survey_id is not None:
        cached = db.session.get(ThermostatSurvey, survey_id)
        survey_type = cached.survey_type if cached else None
    if survey_type not in ("nps", "csat"):
        raise InvalidResult(f"result {rid}: type must be 'nps' or 'csat'")
    score = raw.get("score")
    if isinstance(score, bool) or not isinstance(score, int):
        raise InvalidResult(f"result {rid}: score must be a whole number")
    low, high = scale_for(survey_type)
    if not low <= score <= high:
        raise InvalidResult(f"result {rid}: score {score} is outside the {survey_type.upper()} "
                            f"scale {low}-{high}")
    feedback = raw.get("feedback")
    if feedback is not None and not isinstance(feedback, str):
        raise InvalidResult(f"result {rid}: feedback must be text or null")
    email = raw.get("email")
    if email is not None and not isinstance(email, str):
        raise InvalidResult(f"result {rid}: email must be text")
    custom = raw.get("custom_fields") or {}
    if not isinstance(custom, dict):
        raise InvalidResult(f"result {rid}: custom_fields must be an object")
    xrequest = custom.get("xrequest", custom.get("xRequest"))
    xrequest = _text(str(xrequest)).strip()[:64] if xrequest not in (None, "") else None
    return ParsedResult(
        response_id=rid, survey_id=survey_id, survey_type=survey_type, score=score,
        # a blank comment is no comment: lists, triggers and reports then agree
        feedback=None if feedback is None else _text(feedback).strip() or None,
        email=(email or None) and _text(email)[:254],
        custom_fields={_text(str(k))[:80]: _text(v) if isinstance(v, str)
                       else v if isinstance(v, (int, float)) else _text(str(v))
                       for k, v in custom.items()},
        xrequest=xrequest,
        created_at=_parse_time(raw.get("created_at"), "created_at"),
        updated_at=_parse_time(raw.get("updated_at"), "updated_at"),
    )


def _ticket_for(xrequest: str | None) -> Ticket | None:
    ticket_id = parse_id(xrequest or "")
    return None if ticket_id is None else db.session.get(Ticket, ticket_id)


def _survey_name(survey_id: int | None) -> str:
    if survey_id is None:
        return "Unknown survey"
    cached = db.session.get(ThermostatSurvey, survey_id)
    return cached.name if cached else f"Survey #{survey_id}"


def label_of(result: SurveyResult) -> str:
    """'Detractor 3', or the CSAT survey's own word for the score."""
    cached = db.session.get(ThermostatSurvey, result.survey_id) if result.survey_id else None
    labels = cached.csat_labels if cached and result.survey_type == "csat" else None
    return rating_label(result.survey_type, result.score, labels)


def refresh_ticket_score(ticket: Ticket) -> None:
    """Copy the request's latest result onto it (the column and filters read these)."""
    latest = db.session.scalar(
        select(SurveyResult).where(SurveyResult.ticket_id == ticket.id)
        .order_by(SurveyResult.responded_at.desc(), SurveyResult.id.desc()).limit(1)
    )
    ticket.survey_result_id = latest.id if latest else None
    ticket.survey_type = latest.survey_type if latest else None
    ticket.survey_score = latest.score if latest else None
    ticket.survey_rating = latest.rating if latest else None
    ticket.survey_answered_at = latest.responded_at if latest else None
    refresh_survey_state(ticket)


def _apply(row: SurveyResult, parsed: ParsedResult) -> None:
    row.survey_id = parsed.survey_id
    row.survey_name = _survey_name(parsed.survey_id)
    row.survey_type = parsed.survey_type
    row.score = parsed.score
    row.rating = rating_for(parsed.survey_type, parsed.score)
    row.feedback = parsed.feedback
    row.email = parsed.email
    row.custom_fields = parsed.custom_fields
    row.xrequest = parsed.xrequest
    row.responded_at = parsed.created_at or row.responded_at or utcnow()
    row.remote_updated_at = parsed.updated_at or row.remote_updated_at


def _same(row: SurveyResult, parsed: ParsedResult) -> bool:
    return (row.score == parsed.score and row.feedback == parsed.feedback
            and row.custom_fields == parsed.custom_fields and row.survey_id == parsed.survey_id)


def ingest_one(parsed: ParsedResult, source: str = "thermostat") -> str:
    """Upsert one parsed response; returns created | updated | unchanged."""
    from ..conditions import snapshot
    from ..rules.engine import run_triggers

    row = db.session.scalar(select(SurveyResult).where(
        SurveyResult.source == source, SurveyResult.response_id == parsed.response_id))
    if row is not None:
        stale = (row.remote_updated_at and parsed.updated_at
                 and parsed.updated_at < row.remote_updated_at)
        if stale or _same(row, parsed):
            return "unchanged"
        outcome = "updated"
    else:
        row = SurveyResult(source=source, response_id=parsed.response_id)
        outcome = "created"
    previous_ticket = row.ticket
    _apply(row, parsed)
    ticket = _ticket_for(parsed.xrequest) or previous_ticket  # keep an admin's attachment
    row.ticket = ticket
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        # A concurrent ingestion stored this response first: treat ours as an update of it.
        return ingest_one(parsed, source)
    if ticket is not None:
        old = snapshot(ticket)
        refresh_ticket_score(ticket)
        verb = "answered" if outcome == "created" else "response updated"
        comment = f"\nComment: {parsed.feedback}" if parsed.feedback else ""
        add_event(ticket, "survey", f"Survey '{row.survey_name}' {verb}: {label_of(row)}{comment}",
                  outcome="answered")
        run_triggers("result", ticket, old, result_id=row.id)
    return outcome


def ingest_batch(items: list[Any], source: str = "thermostat") -> IngestStats:
    """Validate and upsert many responses; bad ones are reported, the rest stored."""
    stats = IngestStats()
    for raw in items:
        try:
            parsed = parse_response(raw)
        except InvalidResult as exc:
            stats.errors.append(str(exc))
            continue
        outcome = ingest_one(parsed, source)
        setattr(stats, outcome, getattr(stats, outcome) + 1)
        if outcome != "unchanged" and _ticket_for(parsed.xrequest) is None:
            stats.unmatched += 1
    return stats
