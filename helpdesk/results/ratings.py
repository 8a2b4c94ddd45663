"""NPS and CSAT scoring rules (pure functions, no Flask)."""

NPS_SCALE = (0, 10)
CSAT_SCALE = (1, 5)
NPS_RATINGS = ("detractor", "passive", "promoter")
CSAT_RATINGS = ("dissatisfied", "satisfied")


def scale_for(survey_type: str) -> tuple[int, int]:
    """The (low, high) score range of a survey type."""
    if survey_type == "nps":
        return NPS_SCALE
    if survey_type == "csat":
        return CSAT_SCALE
    raise ValueError(f"unknown survey type {survey_type!r}")


def rating_for(survey_type: str, score: int) -> str:
    """The rating word of a score: detractor/passive/promoter or dissatisfied/satisfied."""
    low, high = scale_for(survey_type)
    if not low <= score <= high:
        raise ValueError(f"score {score} is outside the {survey_type.upper()} scale {low}-{high}")
    if survey_type == "nps":
        if score <= 6:
            return "detractor"
        return "passive" if score <= 8 else "promoter"
    return "dissatisfied" if score <= 3 else "satisfied"


def rating_label(survey_type: str | None, score: int | None, csat_labels=None) -> str:
    """What the Thermostat column shows: "Detractor 3", "Satisfied 5" or the survey's word."""
    if survey_type is None or score is None:
        return "—"
    if survey_type == "csat" and csat_labels and 1 <= score <= len(csat_labels):
        return f"{csat_labels[score - 1]} {score}"
    return f"{rating_for(survey_type, score).capitalize()} {score}"


def nps(scores: list[int]) -> float | None:
    """Net Promoter Score (−100..100) of NPS scores; None for no scores."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100.0 * (promoters - detractors) / len(scores), 1)
