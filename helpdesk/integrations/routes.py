"""Admin > Integrations > Thermostat."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..models import Dispatch, SurveyResult, ThermostatSurvey, Ticket
from ..thermostat.activity import (CANCELLABLE_STATES, RETRYABLE_STATES, ActivityError,
                                   attach_result, cancel_dispatch, retry_dispatch)
from ..thermostat.ingest import label_of
from ..queue import get_queue
from ..thermostat.client import ThermostatError, Unauthorized, Unreachable, Timeout
from ..thermostat.jobs import poll_results
from ..thermostat.services import (check_token, disconnect, get_integration,
                                   refresh_surveys, regenerate_push_secret, save_token,
                                   store_surveys, make_client)
from . import bp
from .forms import ActionForm, AttachResultForm, ThermostatTokenForm


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


ACTIVITY_STATES = ["pending", "sending", "retrying", "paused", "sent", "skipped", "failed",
                   "cancelled"]
PER_PAGE = 50


def _page_number() -> int:
    try:
        return min(max(int(request.args.get("page", "1")), 1), 100000)
    except ValueError:
        return 1


@bp.get("/thermostat/activity")
def activity():
    """Every survey send: queued, sent, skipped and failed with reasons; retry and cancel."""
    state = request.args.get("state", "")
    if state and state not in ACTIVITY_STATES:
        abort(400)
    query = select(Dispatch).order_by(Dispatch.id.desc())
    if state:
        query = query.where(Dispatch.state == state)
    page = _page_number()
    rows = list(db.session.scalars(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    counts = dict(db.session.execute(
        select(Dispatch.state, func.count()).group_by(Dispatch.state)).all())
    return render_template("integrations/activity.html", rows=rows, counts=counts, state=state,
                           states=ACTIVITY_STATES, page=page, action_form=ActionForm(),
                           retryable=RETRYABLE_STATES, cancellable=CANCELLABLE_STATES,
                           has_next=len(rows) == PER_PAGE)


def _dispatch_or_404(dispatch_id: int) -> Dispatch:
    dispatch = db.session.get(Dispatch, dispatch_id, with_for_update={"of": Dispatch})
    if dispatch is None:
        abort(404)
    return dispatch


@bp.post("/thermostat/dispatches/<int:dispatch_id>/retry")
def retry(dispatch_id: int):
    """Queue a failed, paused or cancelled send again."""
    if not ActionForm().validate_on_submit():
        abort(400)
    dispatch = _dispatch_or_404(dispatch_id)
    try:
        retry_dispatch(dispatch, current_user)
    except ActivityError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        from ..outbox import enqueue_dispatches

        enqueue_dispatches([dispatch_id])
        flash(f"Send #{dispatch_id} queued again.", "success")
    return redirect(url_for(".activity"))


@bp.post("/thermostat/dispatches/<int:dispatch_id>/cancel")
def cancel(dispatch_id: int):
    """Cancel a send that has not happened yet."""
    if not ActionForm().validate_on_submit():
        abort(400)
    dispatch = _dispatch_or_404(dispatch_id)
    try:
        cancel_dispatch(dispatch, current_user)
    except ActivityError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"Send #{dispatch_id} cancelled.", "success")
    return redirect(url_for(".activity"))


@bp.get("/thermostat/unmatched")
def unmatched():
    """Results with no request id, or one that does not exist, waiting to be attached."""
    page = _page_number()
    rows = list(db.session.scalars(
        select(SurveyResult).where(SurveyResult.ticket_id.is_(None))
        .order_by(SurveyResult.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    return render_template("integrations/unmatched.html", rows=rows, page=page,
                           labels={r.id: label_of(r) for r in rows},
                           forms={r.id: AttachResultForm(prefix=f"r{r.id}", formdata=None)
                                  for r in rows}, has_next=len(rows) == PER_PAGE)


@bp.post("/thermostat/results/<int:result_id>/attach")
def attach(result_id: int):
    """Attach an unmatched result to a request."""
    result = db.session.get(SurveyResult, result_id)
    if result is None:
        abort(404)
    form = AttachResultForm(prefix=f"r{result_id}")
    if not form.validate_on_submit():
        flash(form.request_id.errors[0] if form.request_id.errors and form.request_id.data
              else "Give the number of the request to attach the result to.", "error")
        return redirect(url_for(".unmatched"))
    ticket = db.session.get(Ticket, form.request_id.data)
    if ticket is None:
        flash(f"There is no request #{form.request_id.data}.", "error")
        return redirect(url_for(".unmatched"))
    attach_result(result, ticket, current_user)
    db.session.commit()
    flash(f"Result attached to request #{ticket.id}.", "success")
    return redirect(url_for(".unmatched"))
