"""Admin > Triggers & Rules (the list; the full builder is its own piece of work)."""

from flask import Blueprint, render_template
from sqlalchemy import select

from ..extensions import db
from ..models import Rule
from .actions import describe_rule

bp = Blueprint("rules", __name__)


@bp.get("/")
def index():
    """Triggers in the order they run, each described in words."""
    rules = list(db.session.scalars(select(Rule).order_by(Rule.kind, Rule.position, Rule.id)))
    return render_template("rules/index.html", rules=rules,
                           descriptions={r.id: describe_rule(r) for r in rules})
