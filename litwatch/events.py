"""What happened to a topic, as events a person is told about (the ``events`` view, read).

Every source and run feeds the view: new papers and preprints, new trials, changes of a
trial's status, phase, enrollment and dates, results posted, papers retracted, corrected,
versioned, indexed or deleted, a paper linked to one of the topic's trials, a record that left
the topic's search, a monitoring gap opened or closed. Only records core to the topic (both of
its concepts) raise the record events, except a record leaving the search (any the query had
brought). Each event has a stable ID, so a feed
reader or the e-mail digest never shows it twice.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from .designs import PROTOCOL, STRONG
from .labels import COMPLETED, STOPPED, phase_label, status_label
from .sources import label

RECORD_KINDS = ("new_paper", "new_preprint", "new_trial", "trial_status", "trial_results", "trial_completion_date",
                "trial_start_date", "trial_phase", "trial_enrollment", "trial_paper", "paper_retracted",
                "paper_corrected", "paper_new_version", "paper_indexed", "paper_deleted")
# What happened to the monitoring itself (litwatch.gaps, litwatch.reconcile).
MONITORING_KINDS = ("left_search", "gap_opened", "gap_closed")
KINDS = RECORD_KINDS + MONITORING_KINDS
IMPORTANCE = ("high", "normal", "low")
_STATUS_NEWS = {"RECRUITING": "started recruiting", "NOT_YET_RECRUITING": "is about to recruit (not yet recruiting)",
                "ENROLLING_BY_INVITATION": "is enrolling by invitation",
                "ACTIVE_NOT_RECRUITING": "stopped recruiting (active, not recruiting)", "COMPLETED": "completed",
                "TERMINATED": "was terminated", "WITHDRAWN": "was withdrawn", "SUSPENDED": "was suspended"}


@dataclass(frozen=True)
class Event:
    """One event, with what a person reads (``headline``) and how much it matters."""

    id: str
    topic: str
    kind: str
    run_id: int | None
    at: str | None  # when the run that saw it ended (UTC, ISO 8601)
    record_id: str
    title: str | None
    old_value: str | None
    new_value: str | None
    detail: str | None
    url: str | None
    headline: str
    importance: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def events(conn: sqlite3.Connection, topic: str, *, kinds: Iterable[str] = (), after_run: int | None = None,
           limit: int | None = None) -> list[Event]:
    """The topic's events, newest run first (then by ID): of the given ``kinds`` (all when
    empty), seen by runs after ``after_run``, at most ``limit``."""
    kinds = list(kinds)
    sql = ("SELECT e.event_id, e.topic, e.kind, e.run_id, coalesce(r.finished_at, r.started_at), e.record_id, "
           "e.title, e.old_value, e.new_value, e.detail, e.url FROM events e LEFT JOIN runs r ON r.id = e.run_id "
           "WHERE e.topic = ?")
    params: list[Any] = [topic]
    if kinds:
        sql += f" AND e.kind IN ({', '.join('?' * len(kinds))})"
        params += kinds
    if after_run is not None:
        sql += " AND e.run_id > ?"
        params.append(after_run)
    sql += " ORDER BY e.run_id DESC, e.event_id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_event(*row) for row in conn.execute(sql, params)]


def _event(event_id: str, topic: str, kind: str, run_id: int | None, at: str | None, record_id: str,
           title: str | None, old: str | None, new: str | None, detail: str | None, url: str | None) -> Event:
    headline, importance = describe(kind, record_id, title, old, new, detail)
    return Event(event_id, topic, kind, run_id, at, record_id, title, old, new, detail, url, headline, importance)


def describe(kind: str, record_id: str, title: str | None, old: str | None, new: str | None,
             detail: str | None) -> tuple[str, str]:
    """An event's headline, as a person reads it, and its importance (high, normal, low)."""
    name = title or record_id
    if kind in ("new_paper", "new_preprint"):
        return _new_paper(kind, name, new, detail)
    if kind in MONITORING_KINDS:
        return _monitoring(kind, record_id, name, old, new, detail)
    return (_trial_news(kind, record_id, name, old, new, detail) or _paper_news(kind, name, new)
            or (f"{kind}: {name}", "low"))


def _new_paper(kind: str, name: str, design: str | None, detail: str | None) -> tuple[str, str]:
    """A new paper or preprint: papers of the strongest designs come first."""
    design = design or "other"
    how = " (design inferred from wording)" if detail == "inferred" and design != "other" else ""
    if kind == "new_preprint":
        return f"New preprint, not peer reviewed: {name}", "normal"
    if design in STRONG:
        return f"New {design}{how}: {name}", "high"
    if design == PROTOCOL:
        return f"New study protocol: {name}", "normal"
    return f"New paper: {name}", "normal"


def _trial_news(kind: str, record_id: str, name: str, old: str | None, new: str | None,
                detail: str | None) -> tuple[str, str] | None:
    """A new trial, a change to a trial's record or a paper linked to it; None for other kinds."""
    if kind == "new_trial":
        return f"New trial {record_id} ({status_label(new)}): {name}", "normal"
    if kind == "trial_status":
        news = _STATUS_NEWS.get(new or "")
        text = f"{record_id} {news}" if news else f"{record_id}: status {status_label(old)} -> {status_label(new)}"
        important = new in ("RECRUITING", COMPLETED, *STOPPED)
        return f"{text}: {name}", "high" if important else "normal"
    if kind == "trial_results":
        return f"{record_id} posted results: {name}", "high"
    if kind == "trial_completion_date":
        which = "primary completion" if detail == "primary_completion_date" else "completion"
        return f"{record_id}: {which} date moved from {old or 'none'} to {new or 'none'}: {name}", "normal"
    if kind == "trial_start_date":
        return f"{record_id}: start date moved from {old or 'none'} to {new or 'none'}: {name}", "low"
    if kind == "trial_phase":
        return f"{record_id}: {phase_label(old)} -> {phase_label(new)}: {name}", "normal"
    if kind == "trial_enrollment":
        return f"{record_id}: enrollment {old or '?'} -> {new or '?'}: {name}", "low"
    if kind == "trial_paper":
        if detail and "RESULT" in detail:
            return f"Results paper for {record_id}: {name}", "high"
        return f"New paper on {record_id}: {name}", "normal"
    return None


def _paper_news(kind: str, name: str, new: str | None) -> tuple[str, str] | None:
    """A change to a stored paper (retraction, correction, version, indexing, deletion)."""
    if kind == "paper_retracted":
        return f"Retracted: {name}", "high"
    if kind == "paper_corrected":
        return f"Correction published: {name}", "normal"
    if kind == "paper_new_version":
        return f"New version (v{new}): {name}", "low"
    if kind == "paper_indexed":
        return f"Indexed by NLM (design now from indexing): {name}", "low"
    if kind == "paper_deleted":
        return f"Deleted from PubMed: {name}", "normal"
    return None


def _monitoring(kind: str, record_id: str, name: str, old: str | None, new: str | None,
                detail: str | None) -> tuple[str, str]:
    """Headlines of what happened to the monitoring: a record left the search (``detail``: the
    source), a gap opened or closed (``record_id``: the source; ``old``, ``new``: its window)."""
    if kind == "left_search":
        return f"No longer found by the topic's {_label(detail)} search (kept, flagged): {name}", "normal"
    window = f"from {old} to {new}" if old else f"up to {new} (no fetch had succeeded yet)"
    if kind == "gap_closed":
        return f"Monitoring gap closed: {_label(record_id)} {window} was searched again", "low"
    why = f" ({detail})" if detail else ""
    return (f"Monitoring gap: {_label(record_id)} was not searched {window}: the update did not finish{why}; "
            f"the next successful update covers it"), "high"


def _label(source: str | None) -> str:
    return label(source or "")
