"""Template filters and globals."""

from datetime import datetime

from flask import Flask

from .results.ratings import rating_label

BADGE_CLASS = {"promoter": "good", "satisfied": "good", "passive": "meh",
               "detractor": "bad", "dissatisfied": "bad"}


def register(app: Flask) -> None:
    """Install the filters the templates use."""

    @app.template_filter("when")
    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "—"

    @app.template_global()
    def score_label(survey_type, score) -> str:
        return rating_label(survey_type, score)

    @app.template_global()
    def badge_class(rating) -> str:
        return BADGE_CLASS.get(rating or "", "none")


    @app.context_processor
    def thermostat_alert():
        """A banner for admins when sends cannot happen (bad token, plan limit)."""
        from flask_login import current_user

        if not getattr(current_user, "is_authenticated", False) or not current_user.is_admin:
            return {}
        from .thermostat.services import NAME
        from .extensions import db
        from .models import Integration
        from sqlalchemy import select

        integ = db.session.scalar(select(Integration).where(Integration.name == NAME))
        if integ is None:
            return {}
        if integ.state == "unauthorized":
            return {"thermostat_alert": "Thermostat refused the saved API token: survey sends "
                    "are paused and kept until a valid token is saved on Integrations."}
        if (integ.account or {}).get("limit_reached"):
            return {"thermostat_alert": "Thermostat says the plan limit is reached: sends fail "
                    "until the plan allows more this month."}
        return {}
