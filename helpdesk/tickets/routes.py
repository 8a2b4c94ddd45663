"""Request list, request page, new request, notes and updates."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice
from sqlalchemy import select

from ..extensions import db
from ..models import (Category, Dispatch, Status, SurveyResult, Ticket, TicketEvent,
                      User)
from ..thermostat.ingest import label_of
from . import bp
from .forms import NewTicketForm, NoteForm, UpdateTicketForm
from .services import (TicketChange, TicketError, add_note, create_ticket,
                       find_or_create_customer, update_ticket)


def _choices_categories(blank: str = "— none —"):
    rows = db.session.scalars(select(Category).where(Category.active.is_(True))
                              .order_by(Category.name))
    return [SelectChoice(0, blank)] + [SelectChoice(c.id, c.name) for c in rows]


def _choices_staff(blank: str = "— nobody —"):
    rows = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
    return [SelectChoice(0, blank)] + [SelectChoice(u.id, u.name) for u in rows]


@bp.route("/requests/new", methods=["GET", "POST"])
def new():
    """Open a request for a customer."""
    form = NewTicketForm()
    form.category_id.choices = _choices_categories()
    form.assignee_id.choices = _choices_staff()
    if form.validate_on_submit():
        if not (form.email.data or form.first_name.data or form.last_name.data):
            form.email.errors.append("Give at least the customer's email or name")
        else:
            customer = find_or_create_customer(form.first_name.data or "", form.last_name.data
                                               or "", form.email.data, form.phone.data)
            ticket = create_ticket(
                form.subject.data, customer, form.body.data, current_user,
                category=db.session.get(Category, form.category_id.data or 0),
                assignee=db.session.get(User, form.assignee_id.data or 0),
                urgent=form.urgent.data)
            db.session.commit()
            flash(f"Request #{ticket.id} created.", "success")
            return redirect(url_for("tickets.show", ticket_id=ticket.id))
    return render_template("tickets/new.html", form=form)


def _load(ticket_id: int, lock: bool = False) -> Ticket:
    # Lock the request row (not the joined rows) so two concurrent updates queue up.
    ticket = db.session.get(Ticket, ticket_id, with_for_update={"of": Ticket} if lock else None)
    if ticket is None:
        abort(404)
    return ticket


def _update_form(ticket: Ticket) -> UpdateTicketForm:
    form = UpdateTicketForm(formdata=None, data={
        "status_id": ticket.status_id, "category_id": ticket.category_id or 0,
        "assignee_id": ticket.assignee_id or 0, "urgent": ticket.urgent})
    _fill_update_choices(form)
    return form


def _fill_update_choices(form: UpdateTicketForm) -> None:
    form.status_id.choices = [SelectChoice(s.id, s.name) for s in db.session.scalars(
        select(Status).where(Status.active.is_(True)).order_by(Status.position, Status.id))]
    form.category_id.choices = _choices_categories()
    form.assignee_id.choices = _choices_staff()


def _render_ticket(ticket: Ticket, note_form=None, update_form=None, status=200):
    results = list(db.session.scalars(
        select(SurveyResult).where(SurveyResult.ticket_id == ticket.id)
        .order_by(SurveyResult.responded_at.desc(), SurveyResult.id.desc())))
    dispatches = list(db.session.scalars(
        select(Dispatch).where(Dispatch.ticket_id == ticket.id).order_by(Dispatch.id)))
    events = list(db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)))
    return render_template(
        "tickets/show.html", ticket=ticket, events=events, results=results,
        labels={r.id: label_of(r) for r in results}, dispatches=dispatches,
        note_form=note_form or NoteForm(formdata=None),
        update_form=update_form or _update_form(ticket)), status


@bp.get("/requests/<int:ticket_id>")
def show(ticket_id: int):
    """The request page: its fields, survey results and history."""
    return _render_ticket(_load(ticket_id))


@bp.post("/requests/<int:ticket_id>/notes")
def note(ticket_id: int):
    """Add a public or private note."""
    ticket = _load(ticket_id, lock=True)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            add_note(ticket, form.body.data, form.visibility.data == "public", current_user)
        except TicketError as exc:
            form.body.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Note added.", "success")
            return redirect(url_for("tickets.show", ticket_id=ticket.id, _anchor="history"))
    return _render_ticket(ticket, note_form=form, status=400)


@bp.post("/requests/<int:ticket_id>/update")
def update(ticket_id: int):
    """Change status, category, assignee or urgency; close or reopen."""
    ticket = _load(ticket_id, lock=True)
    form = UpdateTicketForm()
    _fill_update_choices(form)
    if form.validate_on_submit():
        action = "close" if form.close.data else "reopen" if form.reopen.data else "save"
        change = TicketChange(status_id=form.status_id.data,
                              category_id=form.category_id.data or None,
                              assignee_id=form.assignee_id.data or None,
                              urgent=bool(form.urgent.data), action=action)
        try:
            said = update_ticket(ticket, change, current_user)
        except TicketError as exc:
            db.session.rollback()
            form.status_id.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Request updated." if said else "Nothing changed.", "success" if said else "info")
            return redirect(url_for("tickets.show", ticket_id=ticket.id))
    return _render_ticket(_load(ticket_id), update_form=form, status=400)
