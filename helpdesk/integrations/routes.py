"""Admin > Integrations > Thermostat."""

from flask import current_app, flash, redirect, render_template, url_for
from sqlalchemy import func, select

from ..extensions import db
from ..models import Dispatch, SurveyResult, ThermostatSurvey
from ..queue import get_queue
from ..thermostat.client import ThermostatError, Unauthorized, Unreachable, Timeout
from ..thermostat.jobs import poll_results
from ..thermostat.services import (check_token, disconnect, ensure_push_secret, get_integration,
                                   refresh_surveys, regenerate_push_secret, save_token,
                                   store_surveys, make_client)
from . import bp
from .forms import ActionForm, ThermostatTokenForm


def _page(form: ThermostatTokenForm, status: int = 200, new_secret: str | None = None):
    integ = get_integration()
    counts = dict(db.session.execute(
        select(Dispatch.state, func.count()).group_by(Dispatch.state)).all())
    unmatched = db.session.scalar(
        select(func.count()).select_from(SurveyResult).where(SurveyResult.ticket_id.is_(None)))
    surveys = list(db.session.scalars(select(ThermostatSurvey).order_by(ThermostatSurvey.name)))
    db.session.commit()
    return render_template(
        "integrations/thermostat.html", integ=integ, form=form, action_form=ActionForm(),
        base_url=current_app.config["THERMOSTAT_BASE_URL"].rstrip("/"), counts=counts,
        unmatched=unmatched, surveys=surveys, new_secret=new_secret,
        inbound_url=url_for("results.inbound", _external=True)), status


@bp.get("/")
def index():
    """The Thermostat box: connection state, plan usage, token form."""
    return _page(ThermostatTokenForm(formdata=None))


def _explain(exc: ThermostatError) -> str:
    if isinstance(exc, Unauthorized):
        return "Thermostat refused this token (401). Check that you copied the whole token."
    if isinstance(exc, (Unreachable, Timeout)):
        return f"{exc.message}. Nothing was saved; try again when Thermostat is reachable."
    return f"Thermostat could not check the token: {exc.message}. Nothing was saved."


@bp.post("/thermostat/token")
def save():
    """Check the token with GET /api/account, then store it encrypted; empty disconnects."""
    form = ThermostatTokenForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    token = (form.token.data or "").strip()
    integ = get_integration()
    if not token:
        disconnect(integ)
        db.session.commit()
        flash("Thermostat disconnected. Surveys wait until a token is saved again.", "info")
        return redirect(url_for(".index"))
    db.session.commit()  # hold no transaction during the HTTP check
    try:
        account = check_token(token)
    except ThermostatError as exc:
        form.token.errors.append(_explain(exc))
        return _page(form, 400)
    integ = get_integration()
    resumed = save_token(integ, token, account)
    ensure_push_secret(integ)
    try:
        store_surveys(make_client(token).surveys())
    except ThermostatError as exc:
        flash(f"Connected, but the survey list could not be loaded: {exc.message}", "warning")
    db.session.commit()
    if resumed:
        from ..outbox import enqueue_dispatches

        enqueue_dispatches(list(db.session.scalars(
            select(Dispatch.id).where(Dispatch.state == "pending"))))
        flash(f"{resumed} waiting survey send(s) resumed.", "info")
    flash("Thermostat connected.", "success")
    return redirect(url_for(".index"))


@bp.post("/thermostat/surveys/refresh")
def surveys():
    """Reload the survey list from Thermostat."""
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for(".index"))
    integ = get_integration()
    try:
        found = refresh_surveys(integ)
    except ThermostatError as exc:
        db.session.rollback()
        flash(f"Could not load surveys: {exc.message}", "error")
    else:
        db.session.commit()
        flash(f"{len(found)} survey(s) loaded.", "success")
    return redirect(url_for(".index"))


@bp.post("/thermostat/poll")
def poll():
    """Queue a check for new results now (the scheduler also does it every minute)."""
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for(".index"))
    try:
        get_queue().enqueue(poll_results, job_timeout=600)
    except Exception:
        flash("The job queue (Redis) is not reachable: results cannot be fetched now.", "error")
    else:
        flash("Checking Thermostat for new results now.", "success")
    return redirect(url_for(".index"))


@bp.post("/thermostat/push-secret")
def push_secret():
    """Generate a new signing secret for pushes; shown once."""
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for(".index"))
    secret = regenerate_push_secret(get_integration())
    db.session.commit()
    return _page(ThermostatTokenForm(formdata=None), new_secret=secret)
