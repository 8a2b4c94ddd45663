"""Admin > Triggers & Rules: the list, the builder, ordering, the run log and the dry run."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from wtforms import SelectChoice

from .. import criteria
from ..conditions import current_schema, snapshot, tickets_matching
from ..extensions import db
from ..integrations.forms import ActionForm
from ..models import (Category, Dispatch, Rule, RuleRun, RuleTicketRun, Status,
                      ThermostatSurvey, Ticket, User, utcnow)
from .actions import describe_action, describe_rule, rendered_email
from .builder import (RowError, action_row, build_action, build_conditions, flatten_conditions)
from .engine import SCHEDULES, evaluate_rule, rule_problems
from .forms import DryRunForm, RuleForm

bp = Blueprint("rules", __name__)
SURVEY_CACHE_MAX_AGE = timedelta(minutes=10)


@bp.get("/")
def index():
    """Triggers in the order they run, automation rules with their schedules; problems flagged."""
    schema = current_schema()
    rules = list(db.session.scalars(select(Rule).order_by(Rule.kind.desc(), Rule.position,
                                                          Rule.id)))
    return render_template(
        "rules/index.html", triggers=[r for r in rules if r.kind == "trigger"],
        automations=[r for r in rules if r.kind == "automation"],
        descriptions={r.id: describe_rule(r) for r in rules},
        problems={r.id: rule_problems(r, schema) for r in rules},
        schedules=SCHEDULES, action_form=ActionForm())


def _refresh_surveys() -> str | None:
    """Reload the survey list if the cache is old; a message when Thermostat is unreachable."""
    from ..thermostat.client import ThermostatError
    from ..thermostat.services import get_integration, refresh_surveys

    newest = db.session.scalar(select(func.max(ThermostatSurvey.fetched_at)))
    integ = get_integration()
    if integ.state != "connected":
        return "Thermostat is not connected: the survey list may be out of date."
    if newest is not None and newest > utcnow() - SURVEY_CACHE_MAX_AGE:
        return None
    try:
        refresh_surveys(integ)
        db.session.commit()
    except ThermostatError as exc:
        db.session.rollback()
        return (f"Thermostat could not be reached ({exc.message}); showing the surveys as of "
                f"{newest:%Y-%m-%d %H:%M} UTC." if newest else
                f"Thermostat could not be reached ({exc.message}); no survey list yet.")
    return None


def _choices(form: RuleForm, kind: str, schema: criteria.Schema) -> None:
    fields = [f for f in schema.fields() if kind == "trigger" or f.context == criteria.STATE]
    for row in form.conditions:
        row.field.choices = [SelectChoice("", "— none —")] + [
            SelectChoice(f.name, f.label) for f in fields]
        row.op.choices = [SelectChoice(k, v) for k, v in criteria.OP_LABELS.items()
                          if kind == "trigger" or k not in criteria.CHANGE_OPS]


def _suggestions(schema: criteria.Schema) -> dict[str, list[str]]:
    """Values offered beside the builder (datalists), by what they name."""
    def names(model, where=None):
        query = select(model.name).order_by(model.name)
        return list(db.session.scalars(query.where(where) if where is not None else query))

    surveys = names(ThermostatSurvey, (ThermostatSurvey.archived.is_(False))
                    & (ThermostatSurvey.gone.is_(False)))
    values = (names(Status) + names(Category) + names(User, User.active.is_(True))
              + ["nobody", "none", "yes", "no"] + list(criteria.RATINGS)
              + list(criteria.DATE_RANGES.values()) + ["public", "private"] + surveys)
    return {"values": list(dict.fromkeys(values)),
            "targets": list(dict.fromkeys(names(Status) + names(Category)
                                          + names(User, User.active.is_(True))
                                          + surveys + ["assignee", "nobody", "yes", "no"]))}


def _render_builder(form: RuleForm, rule: Rule | None, kind: str, status: int = 200,
                    survey_message: str | None = None):
    from ..mail.placeholders import available

    schema = current_schema()
    _choices(form, kind, schema)
    custom = {fid: name for fid, (name, _t) in schema.custom_fields.items()}
    return render_template(
        "rules/edit.html", form=form, rule=rule, kind=kind, suggestions=_suggestions(schema),
        placeholders=available(custom), survey_message=survey_message,
        field_help=[(f.label, ", ".join(criteria.OP_LABELS[o] for o in criteria.OPS_BY_KIND[f.kind]
                                          if kind == "trigger" or o not in criteria.CHANGE_OPS))
                    for f in schema.fields(include_events=kind == "trigger")]), status


def _load_form(rule: Rule | None, kind: str) -> RuleForm:
    form = RuleForm()
    if request.method == "GET" and rule is not None:
        rows, matches = flatten_conditions(rule.conditions, current_schema())
        data = {"name": rule.name, "event": rule.event, "schedule": rule.schedule or "1h",
                "match": rule.match, "enabled": rule.enabled, "run_once": rule.run_once,
                "max_runs": rule.max_runs, "group_a_match": matches.get("A", "any"),
                "group_b_match": matches.get("B", "any"),
                "conditions": rows + [{}], "actions": [action_row(a) for a in rule.actions] + [{}]}
        form = RuleForm(formdata=None, data=data)
    elif request.method == "GET":
        form = RuleForm(formdata=None, data={"conditions": [{}, {}], "actions": [{}],
                                             "event": "updated"})
    return form


def _edit(rule: Rule | None, kind: str):
    survey_message = _refresh_surveys() if request.method == "GET" else None
    form = _load_form(rule, kind)
    _choices(form, kind, current_schema())
    if request.method == "POST":
        if form.add_condition.data:
            form.conditions.append_entry()
            return _render_builder(form, rule, kind)
        if form.add_action.data:
            form.actions.append_entry()
            return _render_builder(form, rule, kind)
        if form.validate_on_submit():
            saved = _save(form, rule, kind)
            if saved is not None:
                db.session.commit()
                flash(f"Rule '{saved.name}' saved.", "success")
                return redirect(url_for(".index"))
        return _render_builder(form, rule, kind, status=400)
    return _render_builder(form, rule, kind, survey_message=survey_message)


def _save(form: RuleForm, rule: Rule | None, kind: str) -> Rule | None:
    """Validate the rows; store the rule, or put each error on its row and return None."""
    schema = current_schema()
    rows = [{"group": r.group.data, "field": r.field.data, "op": r.op.data, "value": r.value.data}
            for r in form.conditions]
    tree, errors = build_conditions(rows, form.match.data,
                                    {"A": form.group_a_match.data, "B": form.group_b_match.data},
                                    schema, kind)
    for index, err in errors.items():
        getattr(form.conditions[index], err.where).errors.append(str(err))
    actions, ok = [], not errors
    custom_ids = list(schema.custom_fields)
    for row in form.actions:
        try:
            action = build_action({"type": row.kind.data, "target": row.target.data,
                                   "subject": row.subject.data, "body": row.body.data}, custom_ids)
        except RowError as err:
            # name lookups report on "value"; on an action row that is the target
            getattr(row, "target" if err.where == "value" else err.where).errors.append(str(err))
            ok = False
            continue
        if action is not None:
            actions.append(action)
    if ok and not actions:
        form.actions[0].kind.errors.append("A rule needs at least one action")
        ok = False
    if ok and kind == "automation" and not tree:
        form.conditions[0].field.errors.append(
            "An automation rule needs at least one condition (it would act on every request)")
        ok = False
    if not ok:
        return None
    if rule is None:
        last = db.session.scalar(select(func.max(Rule.position)).where(Rule.kind == kind)) or 0
        rule = Rule(kind=kind, position=last + 1)
        db.session.add(rule)
    rule.name = form.name.data.strip()
    rule.match = form.match.data
    rule.conditions = tree
    rule.actions = actions
    rule.enabled = form.enabled.data
    if kind == "trigger":
        rule.event = form.event.data
    else:
        rule.event = "schedule"
        rule.schedule = form.schedule.data
        rule.run_once = form.run_once.data
        rule.max_runs = 1 if form.run_once.data else (form.max_runs.data or 1)
    return rule


@bp.route("/new/<kind>", methods=["GET", "POST"])
def new(kind: str):
    """Build a new trigger or automation rule."""
    if kind not in {"trigger", "automation"}:
        abort(404)
    return _edit(None, kind)


def _rule(rule_id: int) -> Rule:
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        abort(404)
    return rule


@bp.route("/<int:rule_id>/edit", methods=["GET", "POST"])
def edit(rule_id: int):
    """Edit a rule in the builder."""
    rule = _rule(rule_id)
    return _edit(rule, rule.kind)


def _button() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.post("/<int:rule_id>/toggle")
def toggle(rule_id: int):
    """Enable or disable a rule."""
    _button()
    rule = _rule(rule_id)
    rule.enabled = not rule.enabled
    db.session.commit()
    flash(f"Rule '{rule.name}' {'enabled' if rule.enabled else 'disabled'}.", "success")
    return redirect(url_for(".index"))


@bp.post("/<int:rule_id>/move/<direction>")
def move(rule_id: int, direction: str):
    """Move a trigger up or down in the order triggers run."""
    _button()
    rule = _rule(rule_id)
    siblings = list(db.session.scalars(select(Rule).where(Rule.kind == rule.kind)
                                       .order_by(Rule.position, Rule.id)))
    index = siblings.index(rule)
    other = index - 1 if direction == "up" else index + 1 if direction == "down" else None
    if other is None or not 0 <= other < len(siblings):
        return redirect(url_for(".index"))
    siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings, start=1):
        sibling.position = position
    db.session.commit()
    return redirect(url_for(".index"))


@bp.post("/<int:rule_id>/delete")
def delete(rule_id: int):
    """Delete a rule and its run log."""
    _button()
    rule = _rule(rule_id)
    name = rule.name
    db.session.execute(RuleRun.__table__.delete().where(RuleRun.rule_id == rule.id))
    db.session.execute(RuleTicketRun.__table__.delete().where(RuleTicketRun.rule_id == rule.id))
    # Sends the rule queued are history and outlive it (their FK would refuse the delete).
    db.session.execute(Dispatch.__table__.update().where(Dispatch.rule_id == rule.id)
                       .values(rule_id=None))
    db.session.delete(rule)
    db.session.commit()
    flash(f"Rule '{name}' deleted.", "success")
    return redirect(url_for(".index"))


@bp.post("/<int:rule_id>/run")
def run_now(rule_id: int):
    """Run an automation rule now instead of waiting for its schedule."""
    _button()
    rule = _rule(rule_id)
    if rule.kind != "automation":
        abort(400)
    from .engine import run_automation

    result = run_automation(rule.id)
    flash(f"Rule '{rule.name}' ran: {result.get('acted', 0)} request(s) acted on."
          if "acted" in result else f"Rule '{rule.name}' skipped: {result.get('skipped')}",
          "success" if "acted" in result else "error")
    return redirect(url_for(".log", rule_id=rule.id))


@bp.get("/<int:rule_id>/log")
def log(rule_id: int):
    """The run log: when the rule ran, which conditions held, what each action did."""
    rule = _rule(rule_id)
    try:
        page = min(max(int(request.args.get("page", "1")), 1), 10000)
    except ValueError:
        page = 1
    runs = list(db.session.scalars(select(RuleRun).where(RuleRun.rule_id == rule.id)
                                   .order_by(RuleRun.id.desc()).limit(50)
                                   .offset((page - 1) * 50)))
    return render_template("rules/log.html", rule=rule, runs=runs, page=page,
                           description=describe_rule(rule), has_next=len(runs) == 50)


@bp.get("/<int:rule_id>/test")
def test(rule_id: int):
    """Dry run against request #N: each condition true or false, emails rendered; no change."""
    rule = _rule(rule_id)
    form = DryRunForm(request.args)
    result = None
    if request.args and form.validate():
        ticket = db.session.get(Ticket, form.request_id.data)
        if ticket is None:
            form.request_id.errors.append(f"There is no request #{form.request_id.data}")
        else:
            result = _dry_run(rule, ticket)
    return render_template("rules/test.html", rule=rule, form=form, result=result,
                           description=describe_rule(rule))


def _dry_run(rule: Rule, ticket: Ticket) -> dict:
    schema = current_schema()
    now = utcnow()
    outcome = evaluate_rule(rule, None, snapshot(ticket), now, schema)
    result = {"ticket": ticket, "outcome": outcome, "emails": [], "actions": [],
              "sql_match": None, "runs": None}
    if rule.kind == "automation" and not outcome.skipped:
        result["sql_match"] = ticket.id in set(db.session.scalars(
            tickets_matching(rule.match, rule.conditions, now, schema)
            .where(Ticket.id == ticket.id)))
        result["runs"] = db.session.scalar(select(RuleTicketRun.runs).where(
            RuleTicketRun.rule_id == rule.id, RuleTicketRun.ticket_id == ticket.id)) or 0
    for action in rule.actions:
        result["actions"].append(describe_action(action))
        if action.get("type") in {"email_customer", "notify_staff"}:
            try:
                subject, body = rendered_email(action, ticket)
            except Exception as exc:  # a broken template shows as such, never a 500
                subject, body = "(cannot render)", type(exc).__name__
            to = ticket.customer.email if action["type"] == "email_customer" and \
                ticket.customer else "(staff)"
            result["emails"].append({"to": to or "(the customer has no email)",
                                     "subject": subject, "body": body})
    db.session.rollback()  # a dry run never changes anything
    return result

