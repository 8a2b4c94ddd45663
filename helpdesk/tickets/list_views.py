"""The request list: filters, columns and sort from the URL; saved filters; CSV export."""

from __future__ import annotations

import csv
import io
import logging
from typing import Iterator

from flask import (Response, abort, flash, jsonify, redirect, render_template, request,
                   stream_with_context, url_for)
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from .. import criteria
from ..conditions import REF_MODELS, current_schema
from ..extensions import db
from ..models import (Category, SavedFilter, Status, SurveyResult, ThermostatSurvey, Ticket,
                      User, utcnow)
from ..results.ratings import rating_label
from ..thermostat.state import SURVEY_STATES
from . import bp
from . import listing as L
from .forms import SaveFilterForm

log = logging.getLogger(__name__)

MAX_SIDEBAR_FILTERS = 20
MAX_LISTED_FILTERS = 200  # the saved filters page (each is counted)


def _url_value(field_name: str, value: str, schema: criteria.Schema) -> str:
    """A builder row's value as the URL holds it: a status, category, staff member or survey
    typed by name (as in the rules builder) becomes its id; FilterError names a bad one."""
    from ..rules.builder import RowError, resolve_ref

    try:
        f = schema.field(field_name)
    except criteria.CriteriaError:
        return value  # the list then says the field is unknown
    text = value.strip()
    if f.kind != "ref" or not text or text.isascii() and text.isdigit():
        return value
    try:
        found = resolve_ref(f.ref, text)
    except RowError as exc:
        raise L.FilterError(f"{f.label}: {exc}") from None
    return "none" if found is None else str(found)


def _shown_value(cond: dict, schema: criteria.Schema) -> str:
    """A condition's value for the builder's box: names for ids, as they were typed."""
    from ..rules.builder import RowError, resolve_ref

    value = L.encode_condition(cond).split(":", 2)[2]
    f = schema.field(cond["field"])
    if f.kind != "ref" or cond["value"] is None:
        return value
    row = db.session.get(REF_MODELS[f.ref], cond["value"])
    if row is None:
        return value  # gone: the id stays, and the list counts nothing for it
    name = row.email if f.ref == "user" else row.name
    try:  # a name shared by two rows would come back as the other one: keep the id then
        return name if resolve_ref(f.ref, name) == row.id else f"#{row.id}"
    except RowError:
        return f"#{row.id}"


def _form_to_canonical(args) -> str | None:
    """Turn the builder's parallel rows (cf/co/cv, colpos_*) into the canonical URL.

    Raises FilterError for a name that stands for nothing (a status, category, staff member
    or survey typed by name)."""
    if not any(k in args for k in ("cf", "colpos_id")) and not any(
            k.startswith("colpos_") for k in args):
        return None
    out = {k: v for k, v in args.items(multi=True) if k in
           ("state", "rating", "score_op", "score", "m", "sort", "dir", "per_page")}
    pairs = [(k, v) for k, v in out.items()]
    conditions = []
    schema = current_schema()
    for f, o, v in zip(args.getlist("cf"), args.getlist("co"), args.getlist("cv")):
        if f:
            conditions.append(f"{f}:{o}:{_url_value(f, v, schema)}")
    positions = []
    for key in L.COLUMNS:
        raw = (args.get(f"colpos_{key}") or "").strip()
        if raw:
            try:
                positions.append((float(raw), key))
            except ValueError:
                positions.append((999.0, key))
    from urllib.parse import parse_qsl, urlencode

    from werkzeug.datastructures import MultiDict

    query = [(k, v) for k, v in pairs if v not in ("", None)] + [("c", c) for c in conditions]
    cols = ",".join(k for _, k in sorted(positions))
    if cols and cols != ",".join(L.DEFAULT_COLUMNS):
        query.append(("cols", cols))
    raw = urlencode(query)
    try:  # the canonical form: defaults dropped, in the order every other link uses
        return L.parse(MultiDict(parse_qsl(raw, keep_blank_values=True)),
                       schema).querystring()
    except L.FilterError:
        return raw  # the list then says what is wrong


def _render_rows(q: L.ListQuery, ids: list[int]) -> list[tuple[Ticket, list[str]]]:
    tickets = {t.id: t for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
    result_ids = {t.survey_result_id for t in tickets.values() if t.survey_result_id}
    results = {r.id: r for r in db.session.scalars(
        select(SurveyResult).where(SurveyResult.id.in_(result_ids)))} if result_ids else {}
    labels = L.survey_labels({r.survey_id for r in results.values() if r.survey_id}, db.session)
    rows = []
    for ticket_id in ids:
        ticket = tickets[ticket_id]
        result = results.get(ticket.survey_result_id)
        rows.append((ticket, [L.cell(key, ticket, result, labels) for key in q.columns]))
    return rows


def _saved_filters(limit: int = MAX_SIDEBAR_FILTERS) -> list[SavedFilter]:
    """The user's own filters, then the shared ones, by name."""
    return list(db.session.scalars(
        select(SavedFilter).where(or_(SavedFilter.owner_id == current_user.id,
                                      SavedFilter.shared.is_(True)))
        .order_by(SavedFilter.shared, SavedFilter.name).limit(limit)))


def sidebar_counts(filters: list[SavedFilter], schema: criteria.Schema) -> dict[int, int | None]:
    """Live counts of saved filters (None for a filter that no longer parses or counts)."""
    from werkzeug.datastructures import MultiDict
    from urllib.parse import parse_qsl

    now = utcnow()
    found: dict[int, int | None] = {}
    for f in filters:
        try:
            q = L.parse(MultiDict(parse_qsl(f.query, keep_blank_values=True)), schema)
        except L.FilterError:
            found[f.id] = None
            continue
        try:  # one filter the database cannot count must not take the others down
            with db.session.begin_nested():
                found[f.id] = db.session.scalar(L.count_query(q, schema, now))
        except SQLAlchemyError:
            log.exception("saved filter %s (%r) could not be counted", f.id, f.query)
            found[f.id] = None
    return found


@bp.get("/filters/counts")
def sidebar_counts_json():
    """The sidebar's counts as JSON, counted now; the list page's script fetches them.

    The list is shown without them, so its rows never wait for ten counts.
    """
    found = sidebar_counts(_saved_filters(), current_schema())
    response = jsonify(counts={str(k): v for k, v in found.items()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/filters")
def saved_filters():
    """Every saved filter the user can see, with its count now (works without JavaScript)."""
    filters = _saved_filters(MAX_LISTED_FILTERS)
    return render_template("tickets/filters.html", saved=filters,
                           counts=sidebar_counts(filters, current_schema()))


@bp.get("/")
def index():
    """The request list. The URL is the whole state, so any view can be bookmarked."""
    try:
        canonical = _form_to_canonical(request.args)
    except L.FilterError as exc:
        return render_template("tickets/bad_filter.html", message=str(exc)), 400
    if canonical is not None:
        return redirect(url_for("tickets.index") + ("?" + canonical if canonical else ""))
    schema = current_schema()
    try:
        q = L.parse(request.args, schema)
        now = utcnow()
        total = db.session.scalar(L.count_query(q, schema, now))
        pages = max(1, -(-total // q.per_page))
        if q.page > pages:  # past the end (a bookmark, fewer requests now): the last page
            query = q.querystring(page=pages if pages > 1 else None)
            return redirect(url_for("tickets.index") + ("?" + query if query else ""))
        ids = list(db.session.scalars(L.page_query(q, schema, now)))
    except L.FilterError as exc:
        return render_template("tickets/bad_filter.html", message=str(exc)), 400
    filters = _saved_filters()
    fields = [f for f in schema.fields(include_events=False)]
    return render_template(
        "tickets/index.html", q=q, rows=_render_rows(q, ids), total=total, pages=pages,
        columns=[L.COLUMNS[k] for k in q.columns], all_columns=list(L.COLUMNS.values()),
        rating_choices=L.RATING_CHOICES, score_ops=L.SCORE_OPS, state_choices=L.STATE_CHOICES,
        fields=fields, op_labels=criteria.OP_LABELS, ops_by_kind=criteria.OPS_BY_KIND,
        change_ops=criteria.CHANGE_OPS, per_page_choices=L.PER_PAGE_CHOICES,
        saved=filters, save_form=SaveFilterForm(
            formdata=None, data={"query": q.querystring(page=None)}),
        advanced_rows=[[c["field"], c["op"], _shown_value(c, schema)] for c in q.advanced]
        + [["", "", ""]], value_names=_value_names(),
        column_positions={k: i + 1 for i, k in enumerate(q.columns)})


def _value_names() -> list[str]:
    """Names the builder's value box suggests for statuses, categories, staff and surveys."""
    names: list[str] = []
    for model in (Status, Category, User, ThermostatSurvey):
        query = select(model.email if model is User else model.name)
        if model is User:
            query = query.where(User.active.is_(True))
        elif model is ThermostatSurvey:
            query = query.where(ThermostatSurvey.archived.is_(False),
                                ThermostatSurvey.gone.is_(False))
        names += db.session.scalars(query.order_by(query.selected_columns[0]))
    return list(dict.fromkeys(names))


@bp.post("/filters")
def save_filter():
    """Save the current list as a named filter, personal or shared."""
    form = SaveFilterForm()
    if not form.validate_on_submit():
        flash("Give the filter a name (up to 120 characters).", "error")
        return redirect(url_for("tickets.index") + "?" + (form.query.data or ""))
    schema = current_schema()
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    try:
        q = L.parse(MultiDict(parse_qsl(form.query.data or "", keep_blank_values=True)), schema)
    except L.FilterError as exc:
        flash(f"This filter cannot be saved: {exc}", "error")
        return redirect(url_for("tickets.index"))
    saved = SavedFilter(name=form.name.data.strip(), owner_id=current_user.id,
                        shared=bool(form.shared.data), query=q.querystring(page=None))
    db.session.add(saved)
    db.session.commit()
    flash(f"Filter '{saved.name}' saved{' and shared' if saved.shared else ''}.", "success")
    return redirect(url_for("tickets.index") + ("?" + saved.query if saved.query else ""))


def _deletable(filter_id: int) -> SavedFilter:
    """A saved filter this user may delete (its owner, or an admin for shared ones)."""
    saved = db.session.get(SavedFilter, filter_id)
    if saved is None or (not saved.shared and saved.owner_id != current_user.id):
        abort(404)  # someone else's personal filter: not even whether it exists
    if saved.owner_id != current_user.id and not current_user.is_admin:
        abort(403)
    return saved


@bp.get("/filters/<int:filter_id>/delete")
def confirm_delete_filter(filter_id: int):
    """Ask first: a shared filter is in every agent's sidebar, and nothing brings it back."""
    return render_template("tickets/delete_filter.html", saved=_deletable(filter_id))


@bp.post("/filters/<int:filter_id>/delete")
def delete_filter(filter_id: int):
    """Delete a saved filter (its owner, or an admin for shared ones)."""
    from ..integrations.forms import ActionForm

    if not ActionForm().validate_on_submit():
        abort(400)
    saved = _deletable(filter_id)
    db.session.delete(saved)
    db.session.commit()
    flash(f"Filter '{saved.name}' deleted.", "success")
    return redirect(url_for("tickets.index"))


# ---------------------------------------------------------------- CSV


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    # some importers drop leading blanks first: " =1+1" would then run as well
    return "'" + text if text.lstrip(" \n").startswith(FORMULA_START) else text


# The CSV holds raw values (seconds, UTC times) for spreadsheets: its headers say which.
CSV_LABELS = {"frt": "First response (seconds)", "opened_at": "Opened (UTC)",
              "closed_at": "Closed (UTC)", "answered_at": "Answered (UTC)"}


def csv_rows(q: L.ListQuery, schema: criteria.Schema) -> Iterator[str]:
    """The list as CSV lines, fetched in batches so memory stays flat however many rows.

    It starts with a UTF-8 byte order mark: without it Excel reads the file in the system's
    code page and shows "MÃ¼ller" for "Müller"; other readers skip it."""
    header = [CSV_LABELS.get(k, L.COLUMNS[k].label) for k in q.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield "\ufeff" + buffer.getvalue()
    # CSAT in each survey's own words, as the list shows it (surveys are a handful of rows)
    labels = dict(db.session.execute(select(ThermostatSurvey.id, ThermostatSurvey.csat_labels)
                                     .where(ThermostatSurvey.survey_type == "csat")).all())
    stmt = L.export_query(q, schema, utcnow()).execution_options(yield_per=2000)
    for chunk in db.session.execute(stmt).partitions(2000):
        buffer.seek(0)
        buffer.truncate()
        for row in chunk:
            writer.writerow([neutralise(_csv_cell(k, row, labels)) for k in q.columns])
        yield buffer.getvalue()


def _csv_cell(key: str, row, labels: dict | None = None) -> object:
    (tid, subject, first, last, email, status, is_open, category, assignee, opened, closed,
     frt, stype, score, feedback, sstate, survey_id, answered) = row
    if key in ("nps", "csat", "thermostat"):
        if score is None or (key != "thermostat" and stype != key):
            return ""
        return rating_label(stype, score,
                            (labels or {}).get(survey_id) if stype == "csat" else None)
    return {"id": tid, "subject": subject, "customer": f"{first} {last}".strip(),
            "email": email or "", "status": status + ("" if is_open else " (closed)"),
            "category": category or "", "assignee": assignee or "",
            "opened_at": opened.strftime("%Y-%m-%d %H:%M:%S") if opened else "",
            "closed_at": closed.strftime("%Y-%m-%d %H:%M:%S") if closed else "",
            "answered_at": answered.strftime("%Y-%m-%d %H:%M:%S") if answered else "",
            "frt": frt if frt is not None else "", "comment": feedback or "",
            "survey_state": SURVEY_STATES.get(sstate or "none", sstate)}[key]


@bp.get("/requests.csv")
def export_csv():
    """Stream the current list as CSV (every page, in the list's columns)."""
    schema = current_schema()
    try:
        q = L.parse(request.args, schema)
    except L.FilterError as exc:
        return Response(f"This filter cannot be exported: {exc}\n", status=400,
                        mimetype="text/plain")
    response = Response(stream_with_context(csv_rows(q, schema)), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=requests.csv"
    return response

