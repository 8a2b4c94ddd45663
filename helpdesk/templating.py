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
