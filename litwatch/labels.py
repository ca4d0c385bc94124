"""What a person reads instead of a registry's codes: trial statuses, phases, date types.

The database and the JSON report keep ClinicalTrials.gov's codes (``ACTIVE_NOT_RECRUITING``,
``["PHASE2", "PHASE3"]``); everything written for people (the Markdown and HTML reports,
CSV exports) shows these labels.
"""

from __future__ import annotations

import json
from typing import Any

STATUSES = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "COMPLETED": "Completed",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "UNKNOWN": "Unknown status",
    "AVAILABLE": "Available",
    "NO_LONGER_AVAILABLE": "No longer available",
    "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "WITHHELD": "Withheld",
}
# Status groups: the one definition the views (SQL, through sql_in) and the report use.
RECRUITING = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION")  # taking or about to take people
IN_PROGRESS = RECRUITING + ("ACTIVE_NOT_RECRUITING",)  # under way
STOPPED = ("TERMINATED", "WITHDRAWN", "SUSPENDED")  # ended or halted before completion
COMPLETED = "COMPLETED"
DATE_TYPES = {"ACTUAL": "actual", "ESTIMATED": "estimated", "ANTICIPATED": "anticipated"}


def status_label(code: str | None) -> str:
    """``ACTIVE_NOT_RECRUITING`` -> "Active, not recruiting"."""
    if not code:
        return "Status not given"
    return STATUSES.get(code, code.replace("_", " ").capitalize())


def phase_label(phases: Any) -> str:
    """``["PHASE2", "PHASE3"]`` (or its JSON) -> "Phase 2/3"; ``["NA"]`` -> "Not applicable"."""
    if isinstance(phases, str):
        try:
            phases = json.loads(phases)
        except ValueError:
            phases = [phases]
    if not phases:
        return "Phase not given"
    if list(phases) == ["NA"]:
        return "Not applicable"
    numbers = [p.replace("EARLY_PHASE1", "Early 1").replace("PHASE", "") for p in phases]
    return "Phase " + "/".join(numbers)


def change_value(field: str, value: str | None) -> str | None:
    """A value of ``trial_changes.old_value``/``new_value`` as a person reads it, by its field."""
    if value is None:
        return None
    if field == "overall_status":
        return status_label(value)
    if field == "phases":
        return phase_label(value)
    if field == "has_results":
        return "yes" if value == "1" else "no"
    if field.endswith("_type"):
        return DATE_TYPES.get(value, value.lower())
    return value


def readable_rows(columns: list[str], rows: Any) -> Any:
    """Rows of a table or query with every coded value (statuses, phases, date types, and
    trial changes by their field) as a person reads it."""
    field = columns.index("field") if "field" in columns else None
    for row in rows:
        out = [readable(c, v) for c, v in zip(columns, row, strict=True)]
        if field is not None:
            for i, c in enumerate(columns):
                if c in ("old_value", "new_value") and isinstance(row[field], str):
                    out[i] = change_value(row[field], row[i])
        yield out


def readable(column: str, value: Any) -> Any:
    """A stored value as a person reads it, for columns that hold codes; others unchanged."""
    if value is None:
        return value
    if column in ("overall_status", "status") and isinstance(value, str) and value.isupper():
        return status_label(value)
    if column == "phases":
        return phase_label(value)
    if column.endswith("_date_type") and isinstance(value, str):
        return DATE_TYPES.get(value, value)
    return value


# Country names ClinicalTrials.gov uses that take "the" in a sentence.
_WITH_ARTICLE = {"United States", "United Kingdom", "Netherlands", "Czech Republic", "Czechia", "Philippines",
                 "Dominican Republic", "United Arab Emirates", "Russian Federation", "Republic of Korea",
                 "Korea, Republic of", "Bahamas", "Gambia", "Central African Republic",
                 "Democratic Republic of the Congo", "Congo", "Maldives", "Marshall Islands", "Solomon Islands",
                 "Comoros", "Seychelles"}


def in_sentence(country: str) -> str:
    """A country's name as a sentence takes it: "the United States", "France"."""
    return f"the {country}" if country in _WITH_ARTICLE else country
