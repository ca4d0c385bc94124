"""The "ongoing research" brief: every figure and list, built from the database.

:func:`build_report` reads the topic's records (:mod:`.records`), computes the figures from
them (:mod:`.figures`), words them (:mod:`.prose`) and returns plain data (the JSON format is
exactly this); the Markdown and HTML renderers in :mod:`litwatch.report.render` only lay it
out. Everything is ordered explicitly and dated by the runs, never by the clock, so the same
database and options give the same bytes.

What belongs to a topic (see :mod:`litwatch.evidence`): the headline sections list and count
only records **core** to it, that is, records in which both of its concepts appear (for the
built-in topic, ketamine and PTSD). Records in which only one appears (PTSD treated otherwise;
ketamine for another condition) are listed apart, as *related research*, grouped by the concept
they share; records in which neither appears never show. Once a live search of a source has
succeeded for the topic, records that came only from the bundled offline sample no longer
count. ``as_of`` reports the state after the runs that started by that day: later records are
left out and trial fields are rolled back through ``trial_changes``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from typing import Any

from ..config import Topic, period_days
from ..sources import all_sources
from ..store.db import now, transaction
from ..version import __version__
from . import figures, prose, records
from .records import Paper, Trial, Window

__all__ = ["build_report", "to_json", "record_report"]


def build_report(db: sqlite3.Connection, topic: Topic, *, as_of: date | None = None,
                 since: date | None = None, since_last_report: bool = False,
                 changes: str = "last-update", output: str | None = None) -> dict[str, Any]:
    """Everything the brief shows, as JSON-ready data.

    :param as_of: report the state after the runs started on or before this day.
    :param since: start of "what changed" (default: what ``changes`` says).
    :param changes: what "what changed" covers when ``since`` is not given: ``last-update``
        (what the last update, or set of fetches and imports, brought), ``last-report``
        (everything after the last report ``update`` wrote), or a period ("7 days").
        ``since_last_report`` is ``changes="last-report"``.
    :param output: the file the report is written to: ``last-report`` starts after the last
        report recorded for that file (when there is one; else after the last recorded).
    """
    window = records.window(db, as_of)
    days = period_days(changes)
    if since is None and days:
        since = window.day - timedelta(days=days)
    since_last_report = since_last_report or changes == "last-report"
    basis = prose.basis(records.run_basis(db, topic, window), records.gaps(db, topic, window))
    papers, abstracts = records.papers(db, topic, window, basis, prose.citation)
    trials, trial_texts = records.trials(db, topic, window, basis)
    core = figures.core(papers, trials)
    what_changed = _changes(db, topic, window, since, since_last_report, output, papers, trials)
    searched = prose.searched(basis)
    outcomes = records.outcomes(db, [t["nct_id"] for t in core.trials])
    found = figures.claims(topic, core.journal + core.preprints, abstracts, core.trials, trial_texts, outcomes)
    counts = figures.counts(core, papers, trials)
    phrase = prose.lower_first(topic.display_title)
    report: dict[str, Any] = {
        "title": f"Ongoing research: {topic.display_title}",
        "topic": topic.name,
        "topic_title": topic.display_title,
        "topic_phrase": phrase,
        "as_of": window.as_of,
        "litwatch_version": __version__,
        "basis": basis,
        "queries": {source.name: source.query(topic) for source in all_sources() if source.query(topic)},
        "concepts": {"intervention": list(topic.intervention_terms), "condition": list(topic.condition_terms)},
        "counts": counts,
        "trials_by_status": figures.by_status(core.trials),
        "trials_by_phase": figures.by_phase(core.trials),
        "publications_by_year": figures.by_year(core.journal),
        "publications_by_design": figures.by_design(core.journal),
        "design_basis": figures.design_basis(core.journal),
        "publications_by_year_and_design": figures.by_year_and_design(core.journal),
        "newest_publications": figures.newest(core.journal, 5),
        "newest_preprints": figures.newest(core.preprints, 5),
        "newest_trials": figures.newest_trials(core.trials, 5),
        "trials_in_progress": core.in_progress,
        "expected_completions": figures.expected_completions(core.in_progress),
        "completed_trials": figures.completed(core.trials, window.day),
        "published_evidence": figures.published_evidence(core),
        "claims": [prose.claim(c, topic, searched) for c in found],
        "searched": searched,
        "related": figures.related(prose.related_labels(topic), papers, trials),
        "changes": what_changed,
        "sources": figures.sources(topic, basis, papers, trials),
    }
    report["notices"] = prose.notices(basis, window.as_of, phrase, counts)
    report["notice"] = " ".join(report["notices"]) or None
    report["summary"] = prose.summary(report)
    return report


def _changes(db: sqlite3.Connection, topic: Topic, window: Window, since: date | None, since_last_report: bool,
             output: str | None, papers: list[Paper], trials: list[Trial]) -> prose.Changes:
    """What the last update brought (or what runs brought since ``since`` / the last report):
    the runs it covers, what they brought to the topic's readers, labelled."""
    runs, mode, when = records.change_runs(db, topic, window, since, since_last_report, output)
    news = figures.news(runs, papers, trials, records.trial_changes(db, runs))
    return prose.changes(mode, runs, records.runs_started(db, runs), when, news)


def to_json(report: dict[str, Any]) -> str:
    """The JSON format: the report data, keys sorted."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def record_report(db: sqlite3.Connection, report: dict[str, Any], fmt: str, output: str | None) -> None:
    """Remember that a report was made (for ``--since-last-report``)."""
    with transaction(db):
        last = db.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]
        db.execute("INSERT INTO reports (topic, as_of, format, output, made_at, last_run_id) VALUES (?, ?, ?, ?, ?, ?)",
                   [report["topic"], report["as_of"], fmt, output, now(), last])
