"""The "ongoing research" brief: every figure and list, built from the database.

:func:`build_report` returns plain data (the JSON format is exactly this); the Markdown and
HTML renderers in :mod:`litwatch.report.render` only lay it out. Everything is ordered
explicitly and dated by the runs, never by the clock, so the same database and options give
the same bytes.

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

import calendar
import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..version import __version__
from ..config import Topic, period_days
from ..designs import (COMMENTARY, DESIGNS, META_ANALYSIS, NARRATIVE_REVIEW, OTHER, PRECLINICAL, PROTOCOL, RCT,
                       SYSTEMATIC_REVIEW)

from ..gaps import notices as gap_notices
from ..gaps import open_gaps
from ..labels import COMPLETED, IN_PROGRESS, RECRUITING, STOPPED, change_value, in_sentence, phase_label, status_label
from ..sources import all_sources, get
from ..sources import label as source_label
from ..store.db import now, query, transaction
from ..catalog import paper_id_sql, papers_sql, topic_papers_sql
from . import claims

LATEST = 10  # items in "latest" lists
RELATED_SHOWN = 5  # items of each related group listed (all are counted)
INDEXED = {"publication_type", "mesh"}  # design_source values that mean NLM indexed the design
# Designs that carry evidence, strongest first, with the words the report counts them in.
EVIDENCE = {META_ANALYSIS: ("meta-analysis", "meta-analyses"),
            SYSTEMATIC_REVIEW: ("systematic review", "systematic reviews"),
            RCT: ("randomized controlled trial", "randomized controlled trials"),
            "non-randomized controlled trial": ("non-randomized controlled trial", "non-randomized controlled trials"),
            "single-arm / open-label trial": ("single-arm or open-label trial", "single-arm or open-label trials"),
            "observational study": ("observational study", "observational studies"),
            "case report / case series": ("case report or series", "case reports or series")}
# How the summary counts the other designs.
WORDS = {**EVIDENCE, NARRATIVE_REVIEW: ("narrative review", "narrative reviews"),
         PROTOCOL: ("study protocol", "study protocols"),
         PRECLINICAL: ("preclinical (animal or in vitro) study", "preclinical (animal or in vitro) studies"),
         COMMENTARY: ("commentary, editorial or letter", "commentaries, editorials or letters"),
         OTHER: ("paper of another kind", "papers of other kinds")}


@dataclass
class Window:
    """Which runs the report rests on."""

    as_of: str  # ISO timestamp: the last included run's end (or the --as-of day's end)
    run_ids: list[int]

    @property
    def day(self) -> date:
        return date.fromisoformat(self.as_of[:10])

    @property
    def sql(self) -> str:
        return ",".join(str(i) for i in self.run_ids) or "NULL"


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
    window = _window(db, as_of)
    days = period_days(changes)
    if since is None and days:
        since = window.day - timedelta(days=days)
    since_last_report = since_last_report or changes == "last-report"
    basis = _basis(db, topic, window)
    papers = _papers(db, topic, window, basis)
    trials = _trials(db, topic, window, basis)
    reported = {r[0] for r in db.execute("SELECT nct_id FROM reported_trials")}
    for t in trials:
        t["reported_by_paper"] = t["nct_id"] in reported
    texts = {p["paper_id"]: p.pop("text") for p in papers}
    trial_texts = {t["nct_id"]: t.pop("text") for t in trials}
    core = [p for p in papers if p["relevance"] == "core"]
    journal = [p for p in core if not p["retracted"] and not p["preprint"]]
    preprints = [p for p in core if not p["retracted"] and p["preprint"]]
    core_trials = [t for t in trials if t["relevance"] == "core"]
    in_progress = sorted((t for t in core_trials if t["overall_status"] in IN_PROGRESS),
                         key=lambda t: (t["primary_completion_date"] or "9999", t["nct_id"]))
    what_changed = _changes(db, topic, window, since, since_last_report, papers, trials, output)
    searched = _searched(basis)
    outcomes = _grouped_rows(db, "SELECT nct_id, kind, measure, description, time_frame FROM trial_outcomes "
                                 "WHERE nct_id IN ({}) ORDER BY nct_id, kind, position",
                             [t["nct_id"] for t in core_trials])
    claims_found = _claims(topic, journal + preprints, texts, core_trials, trial_texts, outcomes, searched)
    report: dict[str, Any] = {
        "title": f"Ongoing research: {topic.display_title}",
        "topic": topic.name,
        "topic_title": topic.display_title,
        "topic_phrase": _lower_first(topic.display_title),
        "as_of": window.as_of,
        "litwatch_version": __version__,
        "basis": basis,
        "queries": {source.name: source.query(topic) for source in all_sources() if source.query(topic)},
        "concepts": {"intervention": list(topic.intervention_terms), "condition": list(topic.condition_terms)},
        "counts": {
            "trials": len(core_trials),
            "trials_recruiting": sum(t["overall_status"] in RECRUITING for t in core_trials),
            "trials_in_progress": len(in_progress),
            "publications": len(journal),
            "preprints": len(preprints),
            "randomized_trials": sum(p["design"] == RCT for p in journal),
            "meta_analyses": sum(p["design"] in (META_ANALYSIS, SYSTEMATIC_REVIEW) for p in journal),
            "retracted": sum(p["retracted"] for p in core),
            "related_papers": sum(p["relevance"] != "core" for p in papers),
            "related_trials": sum(t["relevance"] != "core" for t in trials),
        },
        "trials_by_status": _tally(status_label(t["overall_status"]) for t in core_trials),
        "trials_by_phase": _tally(t["phase"] for t in core_trials),
        "publications_by_year": _tally(str(p["year"]) if p["year"] else "unknown" for p in journal),
        "publications_by_design": {d: n for d in DESIGNS if (n := sum(p["design"] == d for p in journal))},
        "design_basis": {d: {b: sum(p["design"] == d and p["design_basis"] == b for p in journal)
                             for b in ("indexed", "inferred", "none")}
                         for d in DESIGNS if any(p["design"] == d for p in journal)},
        "publications_by_year_and_design": _by_year_and_design(journal),
        "newest_publications": _newest(journal, 5),
        "newest_preprints": _newest(preprints, 5),
        "newest_trials": sorted(core_trials, key=lambda t: (t["first_posted"] or "", t["nct_id"]), reverse=True)[:5],
        "trials_in_progress": in_progress,
        "expected_completions": _tally((t["primary_completion_date"] or "")[:4] or "not given" for t in in_progress),
        "completed_trials": _completed(core_trials, window),
        "published_evidence": {
            "latest_randomized_trials": _latest(journal, {RCT}),
            "latest_meta_analyses": _latest(journal, {META_ANALYSIS, SYSTEMATIC_REVIEW}),
            "retracted": [p for p in core if p["retracted"]],
        },
        "claims": claims_found,
        "searched": searched,
        "related": _related(topic, papers, trials),
        "changes": what_changed,
        "sources": _sources(db, topic, window, basis, papers + trials),
    }
    report["notices"] = _notices(report, basis)
    report["notice"] = " ".join(report["notices"]) or None
    report["summary"] = _summary(report)
    return report


def to_json(report: dict[str, Any]) -> str:
    """The JSON format: the report data, keys sorted."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------- window -----

def _window(db: sqlite3.Connection, as_of: date | None) -> Window:
    """The runs that had ended by ``as_of`` (all of them by default), whatever their outcome:
    what a failed run stored is kept, and counts."""
    if as_of is None:
        rows = db.execute("SELECT id, finished_at FROM runs WHERE status != 'running' ORDER BY id").fetchall()
        stamp = max((r[1] for r in rows if r[1]), default="1970-01-01T00:00:00Z")
        return Window(stamp, [r[0] for r in rows])
    end = f"{as_of.isoformat()}T23:59:59Z"
    rows = db.execute("SELECT id FROM runs WHERE status != 'running' AND started_at <= ? ORDER BY id",
                      [end]).fetchall()
    return Window(end, [r[0] for r in rows])


def _basis(db: sqlite3.Connection, topic: Topic, window: Window) -> dict[str, Any]:
    """What the report rests on: each source's live searches of the topic (the last that
    succeeded, the last attempt and how it ended), the files imported, the bundled sample."""
    sources = {}
    for source in all_sources():
        if source.query(topic) is None:
            continue
        runs = query(db, f"SELECT id, status, started_at, finished_at, error FROM runs WHERE kind = 'fetch' "
                         f"AND topic = ? AND source = ? AND id IN ({window.sql}) ORDER BY id",
                     [topic.name, source.name])
        good = [r for r in runs if r["status"] == "success"]
        last = runs[-1] if runs else None
        sources[source.name] = {
            "label": source.label,
            "live": bool(good),
            "last_success": good[-1]["finished_at"] if good else None,
            "last_attempt": last and {"status": last["status"], "at": last["started_at"], "error": last["error"]},
        }
    imports = query(db, f"SELECT params, finished_at, source FROM runs WHERE kind = 'import' AND id IN ({window.sql}) "
                        f"ORDER BY id")
    files = [{"file": json.loads(r["params"] or "{}").get("file"), "source": r["source"], "at": r["finished_at"]}
             for r in imports]
    sample = [source.name for source in all_sources() if db.execute(
        f"SELECT 1 FROM [{source.family.table}] WHERE origin = 'sample' LIMIT 1").fetchone()]
    first = db.execute("SELECT min(started_at) FROM runs WHERE status != 'running'").fetchone()[0]
    gaps = open_gaps(db, topic=topic.name, run_ids=window.sql)
    return {"sources": sources, "files": files, "sample": sample, "empty": not window.run_ids, "first_run": first,
            "gaps": [{**g.as_dict(), "text": g.describe(source_label(g.source))} for g in gaps],
            "gap_notices": gap_notices(gaps)}


def _searched(basis: dict[str, Any]) -> dict[str, Any]:
    """Where the report's papers and trials come from, in the words every sentence about them
    starts with: what was searched and when ("PubMed and Europe PMC, searched on 6 December
    2026"), or that the data are the bundled sample or imported files, not a live search."""
    out: dict[str, Any] = {}
    for kind in ("papers", "trials"):
        used = [s for s in all_sources() if s.holds == kind and s.name in basis["sources"]]
        out[kind] = _held_by(basis, used)
        out[f"{kind}_used"] = bool(used)
    return out


def _held_by(basis: dict[str, Any], sources: list[Any]) -> dict[str, Any]:
    """``where`` (what holds the records), ``subject`` (the same, punctuated to start "...
    hold(s)"), ``In`` ("In <where>"), ``verb`` (hold, holds) and ``live`` for the records of
    ``sources``."""
    live: dict[str, list[str]] = {}
    sample, files = [], []
    for source in sources:
        fresh = basis["sources"][source.name]
        if fresh["live"]:
            live.setdefault(_long_date(fresh["last_success"][:10]), []).append(source.label)
        elif any(f["source"] == source.name and f["file"] and "/sample/" not in f["file"].replace("\\", "/")
                 for f in basis["files"]):
            files.append(source.label)
        elif source.name in basis["sample"]:
            sample.append(source.label)
    parts = []
    if len(live) == 1:
        (day, labels), = live.items()
        parts.append(f"{_and(labels)}, searched on {day}")
    elif live:
        parts.append(_and([f"{_and(labels)} (searched on {day})" for day, labels in live.items()]))
    if files:
        parts.append(f"the {_and(files)} files imported (not a live search)")
    if sample:
        parts.append(f"the bundled sample of real {_and(sample)} records (not a live search)")
    if not parts:
        labels = [s.label for s in sources]
        where = (f"the records stored so far (no search of {' or '.join(labels)} has succeeded yet)" if labels
                 else "the records stored so far")
        return {"where": where, "subject": where, "In": f"In {where}", "verb": "hold", "live": False}
    many = len(parts) > 1 or bool(files) or any(len(labels) > 1 for labels in live.values()) or len(live) > 1
    where = ", and ".join(parts) if len(parts) > 1 and "," in parts[0] else " and ".join(parts)
    # "PubMed, searched on 6 December 2026, holds ...": the date is set off on both sides.
    subject = where + ("," if re.search(r"searched on \d+ \w+ \d{4}$", where) else "")
    return {"where": where, "subject": subject, "In": f"In {where}", "verb": "hold" if many else "holds",
            "live": bool(live)}


# ---------------------------------------------------------------- records -----

def _papers(db: sqlite3.Connection, topic: Topic, window: Window, basis: dict[str, Any]) -> list[dict[str, Any]]:
    """The topic's papers (journal articles and preprints) that match at least one of its
    concepts, one per paper whatever the sources. Records from the bundled sample leave the
    topic once a live search of their source succeeded."""
    live = [name for name, b in basis["sources"].items() if b.get("live")]
    rows = _topic_papers(db, topic, window, live)
    names = _authors(db, rows)
    versions = _versions(db, [r["paper_id"] for r in rows])
    out = []
    for r in rows:
        authors = names.get(r["paper_id"], [])
        source = get(r["source"])
        out.append({
            "paper_id": r["paper_id"], "pmid": r["pmid"], "source": r["source"], "record_key": r["record_key"],
            "title": r["title"],
            "authors": authors[:3] + (["et al."] if len(authors) > 3 else []),
            "year": r["pub_year"], "journal": r["journal"], "volume": r["volume"], "issue": r["issue"],
            "pages": r["pages"], "doi": r["doi"], "entrez_date": r["added"],
            "design": r["design"] or "other", "design_source": r["design_source"],
            "design_basis": _basis_of_design(r["design_source"]),
            "preprint": bool(r["preprint"]), "server": r["server"], "sources": r["sources"].split(","),
            "retracted": bool(r["retracted"]), "corrected": bool(r["corrected"]), "relevance": r["relevance"],
            "first_run_id": r["first_run_id"], "live_run_id": r["live_run_id"], "text": r["abstract"],
            "url": r["url"], "link_label": source.label,
            "doi_url": f"https://doi.org/{r['doi']}" if r["doi"] else None,
            "citation": citation(authors, r),
            "versions": [{k: v[k] for k in ("version_id", "how", "server", "posted", "url")}
                         for v in versions.get(r["paper_id"], [])],
        })
    return out


def _sample_left(alias: str, basis: dict[str, Any], source: str) -> str:
    """Records from the bundled sample leave the topic once a live search of their source succeeded."""
    live = basis["sources"].get(source, {}).get("live")
    return f"AND coalesce({alias}.origin, '') != 'sample'" if live else ""


def _topic_papers(db: sqlite3.Connection, topic: Topic, window: Window, live: list[str]) -> list[dict[str, Any]]:
    """The rows of the papers view in the topic that the window's runs brought, but none from
    the sample of a source in ``live`` (a live search of it succeeded). Only the topic's papers
    are read (through the keys of its records), not the whole store."""
    names = {f"live{i}": name for i, name in enumerate(live)}
    sample = (f"AND NOT (p.source IN ({', '.join(':' + n for n in names)}) AND coalesce(p.origin, '') = 'sample')"
              if names else "")
    return query(db, f"""
        SELECT p.*, t.relevance, t.live_run_id
        FROM ({topic_papers_sql()}) p JOIN paper_topics t ON t.paper_id = p.paper_id AND t.topic = :topic
        WHERE p.first_run_id IN ({window.sql}) AND t.relevance IN ('core', 'intervention', 'condition') {sample}
        ORDER BY p.paper_id""", {"topic": topic.name, **names})


def _basis_of_design(source: str | None) -> str:
    """indexed (NLM's publication types or MeSH say so), inferred (from the wording), or none."""
    return "indexed" if source in INDEXED else "inferred" if source == "text" else "none"


def _authors(db: sqlite3.Connection, papers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Byline names ("Smith JA", or a group's name) of each paper, from the source whose copy it is."""
    out: dict[str, list[str]] = {}
    by_source: dict[str, dict[str, str]] = {}
    for r in papers:
        by_source.setdefault(r["source"], {})[r["record_key"]] = r["paper_id"]
    for name, keys in by_source.items():
        source = get(name)
        typed = {source.key_of(k): paper for k, paper in keys.items()}
        for key, names in source.authors(db, list(typed)).items():
            out[typed[key]] = [n.strip() for n in names if n and n.strip()]
    return out


def _versions(db: sqlite3.Connection, paper_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each paper's earlier versions (preprints), oldest first, as the papers view would show
    them on their own."""
    if not paper_ids:
        return {}
    copies = papers_sql(lambda source, arm: f"{paper_id_sql(source, arm)} IN (SELECT version_id FROM paper_versions)",
                        superseded=True)
    return _grouped_rows(db, f"SELECT v.paper_id, v.version_id, v.how, c.server, c.published AS posted, c.url "
                             f"FROM paper_versions v JOIN ({copies}) c ON c.paper_id = v.version_id "
                             f"WHERE v.paper_id IN ({{}}) ORDER BY v.paper_id, c.published, v.version_id", paper_ids)


def citation(authors: list[str], r: Any) -> str:
    """Vancouver-style citation: authors, title, journal year;volume(issue):pages. doi, PMID.
    A preprint names its server and is marked as one."""
    names = ", ".join(authors[:3]) + (", et al" if len(authors) > 3 else "")
    if r["preprint"]:
        where = f"{r['server'] or 'Preprint server'} [Preprint, not peer reviewed]. {r['pub_year'] or 'n.d.'}"
    else:
        where = f"{r['journal'] or ''}. {r['pub_year'] or 'n.d.'}"
        if r["volume"]:
            where += f";{r['volume']}" + (f"({r['issue']})" if r["issue"] else "")
        if r["pages"]:
            where += f":{r['pages']}"
    title = (r["title"] or "").rstrip(".")
    text = f"{names + '. ' if names else ''}{title}. {where}."
    if r["doi"]:
        text += f" doi:{r['doi']}."
    if r["pmid"]:
        return text + f" PMID: {r['pmid']}."
    named = _cited_as(r)
    return text if r["doi"] and r["doi"].lower() in named.lower() else text + f" {named}."


def _cited_as(r: Any) -> str:
    """How a paper without a PMID is named in a citation, as its source says ("Europe PMC: PPR:...")."""
    arm = get(r["source"]).papers
    return (arm.cite_as if arm else "{key}").format(key=r["record_key"])


def _trials(db: sqlite3.Connection, topic: Topic, window: Window, basis: dict[str, Any]) -> list[dict[str, Any]]:
    later: dict[str, dict[str, Any]] = {}
    for nct_id, field, old in db.execute(
            f"SELECT nct_id, field, old_value FROM trial_changes WHERE run_id NOT IN ({window.sql}) "
            f"AND field != 'new' ORDER BY id DESC"):
        later.setdefault(nct_id, {})[field] = old  # the earliest later change's old value wins
    rows = query(db, f"""
        SELECT x.*, tt.relevance, tt.live_run_id AS topic_live_run_id,
               coalesce(x.brief_title, '') || ' ' || coalesce(x.official_title, '') || ' ' ||
               coalesce(x.brief_summary, '') AS text
        FROM trials x JOIN trial_topics tt ON tt.nct_id = x.nct_id AND tt.topic = ?
        WHERE x.first_run_id IN ({window.sql}) AND tt.relevance IN ('core', 'intervention', 'condition')
              {_sample_left('x', basis, 'ctgov')}
        ORDER BY x.nct_id""", [topic.name])
    ids = [r["nct_id"] for r in rows]
    countries = _grouped(db, "SELECT DISTINCT nct_id, country FROM trial_locations WHERE country IS NOT NULL "
                             "AND nct_id IN ({}) ORDER BY nct_id, country", ids)
    interventions = _grouped(db, "SELECT nct_id, coalesce(type, '') || '|' || coalesce(name, '') "
                                 "FROM trial_interventions WHERE nct_id IN ({}) ORDER BY nct_id, position", ids)
    arms = dict(db.execute(f"SELECT nct_id, count(*) FROM trial_arms WHERE nct_id IN ({_marks(ids)}) GROUP BY nct_id",
                           ids).fetchall()) if ids else {}
    out = []
    for r in rows:
        r["text"] += " " + " ".join(interventions.get(r["nct_id"], []))
        for field, old in later.get(r["nct_id"], {}).items():
            r[field] = _typed(field, old)
        trial = {
            "nct_id": r["nct_id"], "title": r["brief_title"], "acronym": r["acronym"],
            "overall_status": r["overall_status"], "status": status_label(r["overall_status"]),
            "why_stopped": r["why_stopped"], "phases": json.loads(r["phases"] or "[]"),
            "phase": phase_label(r["phases"]), "design": r["design"],
            "lead_sponsor": r["lead_sponsor"], "lead_sponsor_class": r["lead_sponsor_class"],
            "enrollment": r["enrollment"], "enrollment_type": r["enrollment_type"],
            "countries": countries.get(r["nct_id"], []),
            "interventions": [_intervention(x) for x in interventions.get(r["nct_id"], [])],
            "arms": arms.get(r["nct_id"], 0),
            "start_date": r["start_date"], "primary_completion_date": r["primary_completion_date"],
            "primary_completion_date_type": r["primary_completion_date_type"],
            "completion_date": r["completion_date"], "first_posted": r["first_posted"],
            "last_update_posted": r["last_update_posted"],
            "has_results": bool(r["has_results"]), "results_first_posted": r["results_first_posted"],
            "relevance": r["relevance"], "url": r["url"], "text": r["text"],
            "first_run_id": r["first_run_id"], "live_run_id": r["topic_live_run_id"],
        }
        trial["overdue_months"] = _overdue(trial, window.day)
        out.append(trial)
    return out


def _intervention(value: str) -> str:
    kind, _, name = value.partition("|")
    return f"{name} ({kind.replace('_', ' ').lower()})" if kind else name


def _overdue(trial: dict[str, Any], today: date) -> int | None:
    """Months since an *estimated* primary completion date passed with no update posted after
    it (the registry entry is probably stale), or None."""
    when = trial["primary_completion_date"]
    if not when or trial["primary_completion_date_type"] != "ESTIMATED" or trial["overall_status"] not in IN_PROGRESS:
        return None
    end = _last_day(when)
    if end is None or end >= today or (trial["last_update_posted"] or "") > end.isoformat():
        return None
    return (today.year - end.year) * 12 + today.month - end.month


def _last_day(iso: str) -> date | None:
    """The last day a partial ISO date can mean ("2024-10" -> 2024-10-31)."""
    try:
        parts = [int(p) for p in iso.split("-")]
    except ValueError:
        return None
    if len(parts) == 1:
        return date(parts[0], 12, 31)
    if len(parts) == 2:
        return date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
    return date(parts[0], parts[1], parts[2])


def _marks(ids: list[Any]) -> str:
    return ",".join("?" * len(ids))


def _grouped(db: sqlite3.Connection, sql: str, ids: list[Any]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for i in range(0, len(ids), 900):
        chunk = ids[i:i + 900]
        for key, value in db.execute(sql.format(_marks(chunk)), chunk):
            out.setdefault(key, []).append(value)
    return out


def _grouped_rows(db: sqlite3.Connection, sql: str, ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    """Rows (as dicts, first column the key) of ``sql`` for ``ids``, grouped by key."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for i in range(0, len(ids), 900):
        chunk = ids[i:i + 900]
        for row in query(db, sql.format(_marks(chunk)), chunk):
            out.setdefault(next(iter(row.values())), []).append(row)
    return out


def _typed(field: str, value: str | None) -> Any:
    if value is None:
        return None
    if field == "enrollment":
        return int(value)
    if field == "has_results":
        return value == "1"
    return value


# ---------------------------------------------------------------- sections ----

def _tally(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


def _by_year_and_design(papers: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for p in papers:
        row = table.setdefault(str(p["year"] or "unknown"), {})
        row[p["design"]] = row.get(p["design"], 0) + 1
    return {year: dict(sorted(row.items())) for year, row in sorted(table.items())}


def _newest(papers: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return sorted(papers, key=lambda p: (p["entrez_date"] or "", p["paper_id"]), reverse=True)[:n]


def _completed(trials: list[dict[str, Any]], window: Window) -> dict[str, Any]:
    year_ago = (window.day - timedelta(days=365)).isoformat()
    done = [t for t in trials if t["overall_status"] == COMPLETED]
    return {
        "with_results": [t for t in done if t["has_results"]],
        "unreported": [t for t in done if not t["has_results"] and not t["reported_by_paper"]
                       and (t["primary_completion_date"] or t["completion_date"] or "9999") < year_ago],
        "stopped": [t for t in trials if t["overall_status"] in STOPPED],
        "completed_total": len(done),
    }


def _latest(papers: list[dict[str, Any]], designs: set[str]) -> list[dict[str, Any]]:
    chosen = [p for p in papers if p["design"] in designs]
    return sorted(chosen, key=lambda p: (p["year"] or 0, p["entrez_date"] or "", p["paper_id"]), reverse=True)[:LATEST]


def _claims(topic: Topic, papers: list[dict[str, Any]], abstracts: dict[str, str | None],
            trials: list[dict[str, Any]], trial_texts: dict[str, str], outcomes: dict[str, list[dict[str, Any]]],
            searched: dict[str, Any]) -> list[dict[str, Any]]:
    """For each claim, what the topic's core records say of its outcomes, quoted: published
    studies (evidence, strongest design first), protocols and preprints (under study), other
    papers, and the registered trials whose outcome measures name them (ongoing research)."""
    out = []
    for claim in topic.claims:
        pattern = claims.terms_pattern(claim.terms)
        within = claims.terms_pattern(claim.only_with)
        if pattern is None:
            continue
        quoted, background = [], 0
        for p in papers:
            text = abstracts.get(p["paper_id"])
            if within and not within.search(f"{p['title'] or ''}\n{text or ''}"):
                continue
            found, named = claims.quote(text, pattern)
            if found:
                quoted.append(dict(p, quote=found, size=claims.stated_size(text)))
            else:
                background += named
        quoted.sort(key=lambda p: (DESIGNS.index(p["design"]), -(p["year"] or 0), p["paper_id"]))
        evidence = [p for p in quoted if p["design"] in EVIDENCE and not p["preprint"]]
        under_study = [p for p in quoted if p["design"] == PROTOCOL or p["preprint"]]
        others = [p for p in quoted if p not in evidence and p not in under_study]
        registered = []
        for t in trials:
            if within and not within.search(trial_texts[t["nct_id"]]):
                continue
            measures = claims.trial_measures(outcomes.get(t["nct_id"], []), pattern)
            if measures:
                registered.append(dict(t, measures=measures))
        registered.sort(key=lambda t: (t["overall_status"] not in IN_PROGRESS, t["primary_completion_date"] or "9999",
                                       t["nct_id"]))
        entry = {
            "claim": claim.name, "terms": list(claim.terms), "only_with": list(claim.only_with),
            "evidence_by_design": {d: n for d in EVIDENCE if (n := sum(p["design"] == d for p in evidence))},
            "evidence": evidence, "under_study": under_study, "other_papers": others,
            "background_only": background, "registered_trials": registered,
        }
        entry["statement"] = _claim_statement(entry, topic, searched)
        out.append(entry)
    return out


def _claim_statement(claim: dict[str, Any], topic: Topic, searched: dict[str, Any]) -> str:
    """What the searched sources hold on a claim's outcomes, in words that say no more than
    the records: which papers name them in their abstracts, which registered trials measure
    them; absence as what was searched."""
    phrase = _lower_first(topic.display_title)
    papers, trials = searched["papers"], searched["trials"]
    evidence = claim["evidence"]
    if evidence:
        kinds = _and([_count(n, *EVIDENCE[d]) for d, n in claim["evidence_by_design"].items()])
        newest = max((p["year"] for p in evidence if p["year"]), default=None)
        one = len(evidence) == 1
        text = (f"{papers['In']}, the {'abstract' if one else 'abstracts'} of "
                f"{_count(len(evidence), 'published study', 'published studies')} of {phrase} "
                f"{'names' if one else 'name'} these outcomes: {kinds}" + (f" (newest {newest})" if newest else "")
                + f". {'Its sentence is' if one else 'Each sentence is'} quoted below: naming an outcome is not "
                  f"finding for the claim.")
    else:
        text = f"{papers['In']}, no published study of {phrase} names these outcomes in its abstract."
    counted = [(n, one, many) for n, one, many in (
        (sum(p["design"] == PROTOCOL for p in claim["under_study"]), "study protocol", "study protocols"),
        (sum(p["preprint"] for p in claim["under_study"]), "preprint (not peer reviewed)",
         "preprints (not peer reviewed)"),
        (len(claim["other_papers"]), "paper of another kind", "papers of other kinds")) if n]
    if counted:
        names = "names" if sum(n for n, _, _ in counted) == 1 else "name"
        text += f" {_and([_count(n, one, many) for n, one, many in counted])} {names} them."
    if searched["trials_used"]:
        registered = claim["registered_trials"]
        going = sum(t["overall_status"] in IN_PROGRESS for t in registered)
        if registered:
            text += (f" {trials['In']}, {_count(len(registered), 'registered trial', 'registered trials')} of {phrase} "
                     f"{'measures' if len(registered) == 1 else 'measure'} them as a primary or secondary outcome"
                     + (f", {going} of them in progress" if going and len(registered) > 1 else
                        " (in progress)" if going else "") + ".")
        else:
            text += f" {trials['In']}, no registered trial of {phrase} measures them as a primary or secondary outcome."
    return text


def _and(parts: list[str]) -> str:
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else (parts[0] if parts else "")


def _related(topic: Topic, papers: list[dict[str, Any]], trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Records that share one of the topic's concepts only, by that concept: counted in full,
    the newest few listed."""
    intervention = topic.intervention_terms[0] if topic.intervention_terms else "The intervention"
    condition = topic.condition_terms[0] if topic.condition_terms else "the condition"
    labels = {"intervention": f"{intervention[0].upper() + intervention[1:]} for other conditions",
              "condition": f"{condition[0].upper() + condition[1:]} treated otherwise"}
    out = {}
    for concept, label in labels.items():
        group_papers = [p for p in papers if p["relevance"] == concept and not p["retracted"]]
        group_trials = [t for t in trials if t["relevance"] == concept]
        out[concept] = {
            "label": label, "papers": len(group_papers), "trials": len(group_trials),
            "preprints": sum(p["preprint"] for p in group_papers),
            "newest_papers": _newest(group_papers, RELATED_SHOWN),
            "newest_trials": sorted(group_trials, key=lambda t: (t["first_posted"] or "", t["nct_id"]),
                                    reverse=True)[:RELATED_SHOWN],
        }
    return out


def _changes(db: sqlite3.Connection, topic: Topic, window: Window, since: date | None, since_last_report: bool,
             papers: list[dict[str, Any]], trials: list[dict[str, Any]], output: str | None = None) -> dict[str, Any]:
    """What the last update brought (or what runs brought since ``since`` / the last report):
    papers and trials new to the topic's readers (first brought by a live search in those
    runs: a record only a file or the bundled sample held before is news then), records
    imported from files, and the changes of the topic's trials, each trial named."""
    runs, mode, when = _change_runs(db, topic, window, since, since_last_report, output)
    run_set = set(runs)
    started = db.execute(f"SELECT min(started_at) FROM runs WHERE id IN ({','.join(map(str, runs)) or 'NULL'})"
                         ).fetchone()[0]
    label = {"first": "In the first update" + (f" ({_long_date(started[:10])})" if started else "")
                      + ", everything stored",
             "last-update": f"In the update of {_long_date(started[:10])}" if started else "In the last update (none)",
             "last-report": f"Since the report of {_long_date(when)}" if when else "Since the last report",
             "since": f"Since {_long_date(when)}" if when else "Since the start"}[mode]
    in_topic = {t["nct_id"]: t for t in trials}
    rows = query(db, f"""SELECT c.nct_id, c.field, c.old_value, c.new_value, c.last_update_posted, c.run_id
                          FROM trial_changes c WHERE c.run_id IN ({",".join(map(str, runs)) or "NULL"})
                          AND c.field != 'new' ORDER BY c.nct_id, c.id""")
    # A change is news once the trial is: changes between a file's copy and the first live one are not.
    changed = [r for r in rows if r["nct_id"] in in_topic and (in_topic[r["nct_id"]]["live_run_id"] or 0) < r["run_id"]]
    for c in changed:
        t = in_topic[c["nct_id"]]
        c.update(relevance=t["relevance"], title=t["title"], url=t["url"], label=_field_label(c["field"]),
                 old=change_value(c["field"], c["old_value"]), new=change_value(c["field"], c["new_value"]))
    news = [p for p in papers if p["live_run_id"] in run_set and not p["retracted"]]
    imported = [p for p in papers if p["first_run_id"] in run_set and p["live_run_id"] is None and not p["retracted"]]
    new_trials = [t for t in trials if t["live_run_id"] in run_set]
    core_changes = [c for c in changed if c["relevance"] == "core"]
    imported_papers = sum(p["relevance"] == "core" for p in imported)
    imported_trials = sum(t["relevance"] == "core" and t["live_run_id"] is None and t["first_run_id"] in run_set
                          for t in trials)
    held = [_count(n, one, many) for n, one, many in ((imported_papers, "paper", "papers"),
                                                      (imported_trials, "registered trial", "registered trials")) if n]
    return {
        "mode": mode, "label": label, "phrase": label[0].lower() + label[1:], "since": started, "runs": runs,
        "new_publications": _newest([p for p in news if p["relevance"] == "core"], len(news)),
        "new_related_publications": sum(p["relevance"] != "core" for p in news),
        "imported_publications": imported_papers,
        "new_trials": sorted((t for t in new_trials if t["relevance"] == "core"),
                             key=lambda t: (t["first_posted"] or "", t["nct_id"]), reverse=True),
        "new_related_trials": sum(t["relevance"] != "core" for t in new_trials),
        "imported_trials": imported_trials,
        "held_only": (f"{_and(held)} only in files or the bundled sample so far: news when a live search first "
                      f"brings {'it' if imported_papers + imported_trials == 1 else 'them'}") if held else None,
        "trial_changes": core_changes,
        "trials_changed": len({c["nct_id"] for c in core_changes}),
        "changed_trials": [in_topic[n] for n in dict.fromkeys(c["nct_id"] for c in core_changes)],
        "related_trial_changes": sum(c["relevance"] != "core" for c in changed),
        "related_trials_changed": len({c["nct_id"] for c in changed if c["relevance"] != "core"}),
    }


def _change_runs(db: sqlite3.Connection, topic: Topic, window: Window, since: date | None,
                 since_last_report: bool, output: str | None) -> tuple[list[int], str, str | None]:
    """The runs "what changed" covers, how they were chosen (first, last-update, last-report,
    since) and the day it starts from (the last report's, or ``since``)."""
    if since:
        runs = [r[0] for r in db.execute(f"SELECT id FROM runs WHERE id IN ({window.sql}) AND started_at >= ?",
                                         [since.isoformat()])]
        return runs, "since", since.isoformat()
    if since_last_report:
        recorded = "SELECT max(last_run_id), max(made_at) FROM reports WHERE topic = ? AND last_run_id IN " \
                   "(SELECT id FROM runs)"
        last, made = db.execute(recorded + " AND output = ?", [topic.name, output]).fetchone()
        if last is None:
            last, made = db.execute(recorded, [topic.name]).fetchone()
        if last is not None:
            return [r for r in window.run_ids if r > last], "last-report", made[:10]
    session = db.execute(f"SELECT max(session) FROM runs WHERE id IN ({window.sql}) "
                         f"AND kind IN ('fetch', 'import', 'follow')").fetchone()[0]
    runs = [r[0] for r in db.execute(f"SELECT id FROM runs WHERE id IN ({window.sql}) AND session = ?", [session])]
    first = db.execute(f"SELECT count(DISTINCT session) FROM runs WHERE id IN ({window.sql}) "
                       f"AND kind IN ('fetch', 'import', 'follow')").fetchone()[0] <= 1
    return runs, "first" if first else "last-update", None


_FIELD_LABELS = {"overall_status": "status", "phases": "phase", "enrollment": "enrollment",
                 "enrollment_type": "enrollment (actual or estimated)", "start_date": "start date",
                 "start_date_type": "start date type", "primary_completion_date": "primary completion",
                 "primary_completion_date_type": "primary completion type", "completion_date": "completion",
                 "completion_date_type": "completion type", "has_results": "results posted"}


def _field_label(field: str) -> str:
    return _FIELD_LABELS.get(field, field)


def _sources(db: sqlite3.Connection, topic: Topic, window: Window, basis: dict[str, Any],
             records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per source of the topic: its query, freshness (from ``basis``), and how many of the
    report's records (on the topic, related) it holds."""
    out = []
    for source in all_sources():
        if source.query(topic) is None:
            continue
        fresh = basis["sources"][source.name]
        attempt = fresh["last_attempt"] or {}
        imported = db.execute(
            f"SELECT max(finished_at) FROM runs WHERE source = ? AND kind = 'import' AND id IN ({window.sql})",
            [source.name]).fetchone()[0]
        held = [r["relevance"] for r in records if source.name in r.get("sources", ["ctgov"])]
        out.append({"source": source.name, "query": source.query_text(topic), "last_fetch": fresh["last_success"],
                    "last_attempt": attempt.get("status"), "last_attempt_at": attempt.get("at"),
                    "last_import": imported, "records_core": held.count("core"),
                    "records_related": len(held) - held.count("core"),
                    "service": f"{source.label} ({source.service})"})
    return out


# ------------------------------------------------------------- the notices ----

def _day(stamp: str | None) -> str:
    return stamp[:10] if stamp else "never"


def _notices(report: dict[str, Any], basis: dict[str, Any]) -> list[str]:
    """What the report rests on, every time; and what a reader must know before trusting it."""
    if basis["empty"] and basis["first_run"]:
        return [f"No run had ended by {report['as_of'][:10]}: the first run of this database started on "
                f"{basis['first_run'][:10]}."]
    if basis["empty"]:
        return ['The database is empty: run "litwatch update" (or "litwatch fetch", or "litwatch import FILE") '
                "first."]
    notes = []
    live = [f"{s['label']} (last {_day(s['last_success'])})" for s in basis["sources"].values() if s["live"]]
    parts = []
    if live:
        parts.append(f"live searches of {_and(live)}")
    files = [f["file"] for f in basis["files"] if f["file"]]
    own_files = [f for f in files if "/sample/" not in "/" + f.replace("\\", "/")]
    if own_files:
        names = dict.fromkeys(f.replace("\\", "/").rsplit("/", 1)[-1] for f in own_files)
        parts.append(f"imported file{'s' if len(names) > 1 else ''} ({', '.join(names)})")
    if [name for name in basis["sample"] if not basis["sources"].get(name, {}).get("live")]:
        parts.append("the bundled offline sample of real records (litwatch/sample/PROVENANCE.md)")
    notes.append(f"Data: {_and(parts)}." if parts else "Data: none yet.")
    if not live:
        c = report["counts"]
        papers = c["publications"] + c["preprints"]
        labels = [s["label"] for s in basis["sources"].values()]
        services = ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else "".join(labels)
        notes.append(
            f"Not a live search: no search for {report['topic_phrase']} has reached {services} yet. "
            f"These data hold {_count(papers, 'paper', 'papers') if papers else 'no paper'} and "
            f"{_count(c['trials'], 'registered trial', 'registered trials') if c['trials'] else 'no registered trial'} "
            f"on {report['topic_phrase']}; records on only one of its two concepts are under Related research. "
            f'Run "litwatch update" with network access for current data.')
    notes += basis["gap_notices"]
    unreached: dict[tuple[str, str], list[str]] = {}  # (day, data as of) -> sources not reached
    for name, s in basis["sources"].items():
        attempt = s["last_attempt"]
        if not attempt or attempt["status"] == "success":
            continue
        as_of = _day(s["last_success"]) if s["last_success"] else "the files imported (no successful search yet)"
        if attempt["error"] and attempt["error"].startswith(f"{s['label']} could not be reached"):
            unreached.setdefault((_day(attempt["at"]), as_of), []).append(s["label"])
            continue
        what = "was interrupted" if attempt["status"] == "interrupted" else "failed"
        notes.append(f"The latest refresh of {s['label']} ({_day(attempt['at'])}) {what}"
                     f"{': ' + attempt['error'] if attempt['error'] else ''}. Its data here are as of {as_of}.")
    for (day, as_of), labels in unreached.items():
        many = len(labels) > 1
        notes.append(f"The latest refresh of {_and(labels)} ({day}) failed: "
                     f"{'none of them' if many else 'it'} could be reached. {'Their' if many else 'Its'} data here "
                     f"are as of {as_of}.")
    return notes


# ------------------------------------------------------------- the summary ----

def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """A short paragraph an editor can paste as it stands: each sentence says what the searched
    sources hold and when they were searched (never that something has or has not been
    published), with numbered references to the records it rests on."""
    refs = _References()
    c = report["counts"]
    topic = _lower_first(report["topic_title"])
    sentences = []
    if report["searched"]["trials_used"]:
        sentences.append(_trials_sentence(report, topic, refs))
    if report["searched"]["papers_used"]:
        sentences.append(_evidence_sentence(report, topic, refs))
        if c["preprints"]:
            sentences.append(f"{_upper_first(report['searched']['papers']['subject'])} also "
                             f"{report['searched']['papers']['verb']} "
                             f"{_count(c['preprints'], 'preprint', 'preprints')}, not peer reviewed"
                             + refs.cite(report["newest_preprints"][:3]) + ".")
    changed = _changes_sentence(report, topic, refs)
    if changed:
        sentences.append(changed)
    return {"text": " ".join(sentences), "references": refs.entries}


class _References:
    """The summary's numbered references: each record once, numbered in the order first cited."""

    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []

    def cite(self, items: list[dict[str, Any]]) -> str:
        """The reference marks of these trials and papers (' [1, 2]'; '' for none), numbering new ones."""
        numbers = []
        for item in items:
            if "nct_id" in item:
                entry = {"text": f"{item['title']}. ClinicalTrials.gov {item['nct_id']} ({item['status']}).",
                         "url": item["url"]}
            else:
                entry = {"text": item["citation"], "url": item["url"]}
            if entry not in self.entries:
                self.entries.append(entry)
            numbers.append(self.entries.index(entry) + 1)
        return " [" + ", ".join(map(str, numbers)) + "]" if numbers else ""


def _trials_sentence(report: dict[str, Any], topic: str, refs: _References) -> str:
    """How many trials the registry holds, and how many recruit (where)."""
    c = report["counts"]
    held = report["searched"]["trials"]
    where, verb = _upper_first(held["subject"]), held["verb"]
    in_progress = report["trials_in_progress"]
    recruiting = [t for t in in_progress if t["overall_status"] in RECRUITING]
    if not c["trials"]:
        return f"{where} {verb} no registered trial of {topic}."
    text = f"{where} {verb} {_count(c['trials'], 'registered trial', 'registered trials')} of {topic}"
    if recruiting:
        text += (f"; {len(recruiting)} {'are' if len(recruiting) != 1 else 'is'} recruiting or about to"
                 + _where(recruiting))
    elif in_progress:
        text += f"; {len(in_progress)} {'are' if len(in_progress) != 1 else 'is'} in progress, none recruiting"
    return text + refs.cite((recruiting or in_progress)[:5]) + "."


def _evidence_sentence(report: dict[str, Any], topic: str, refs: _References) -> str:
    """The strongest evidence the searched sources hold (meta-analyses, randomized trials),
    else what papers they hold: never what has (not) been published in the world."""
    c = report["counts"]
    held = report["searched"]["papers"]
    where, verb = _upper_first(held["subject"]), held["verb"]
    evidence = report["published_evidence"]
    strongest = evidence["latest_meta_analyses"] + evidence["latest_randomized_trials"]
    if strongest:
        parts = []
        if c["meta_analyses"]:
            parts.append(f"{c['meta_analyses']} meta-analys{'es' if c['meta_analyses'] != 1 else 'is'} or systematic "
                         f"review{'s' if c['meta_analyses'] != 1 else ''}")
        if c["randomized_trials"]:
            parts.append(f"{c['randomized_trials']} randomized controlled "
                         f"trial{'s' if c['randomized_trials'] != 1 else ''}")
        newest = max((p["year"] for p in strongest if p["year"]), default=None)
        basis = report["design_basis"]
        inferred = sum(basis[d]["inferred"] for d in (META_ANALYSIS, SYSTEMATIC_REVIEW, RCT) if d in basis)
        text = f"{where} {verb} {_and(parts)} of {topic}" + (f" (the newest from {newest})" if newest else "")
        if inferred:
            text += (f"; the design of {inferred} of them is read from the abstract, as the National Library of "
                     f"Medicine has not yet indexed {'it' if inferred == 1 else 'them'}")
        return text + refs.cite(strongest[:5]) + "."
    if c["publications"]:
        designs = report["publications_by_design"]
        kinds = _and([_count(n, *WORDS.get(d, (d, d))) for d, n in designs.items()])
        return (f"{where} {verb} no randomized controlled trial, meta-analysis or systematic review of {topic}; "
                f"{'it holds' if verb == 'holds' else 'they hold'} {kinds}"
                + refs.cite(report["newest_publications"][:3]) + ".")
    return f"{where} {verb} no published paper on {topic}."


def _changes_sentence(report: dict[str, Any], topic: str, refs: _References) -> str | None:
    """What the last update (or the period) brought: papers and trials counted as such, plain
    dates. None for the first update (nothing to compare with)."""
    changes = report["changes"]
    if changes["mode"] == "first":
        return None
    n_papers, n_trials, n_changed = (len(changes["new_publications"]), len(changes["new_trials"]),
                                     changes["trials_changed"])
    if not (n_papers or n_trials or n_changed):
        return f"{changes['label']}, nothing new on {topic} was found."
    bits = [_count(n, one, many) for n, one, many in
            ((n_papers, "new paper", "new papers"), (n_trials, "new registered trial", "new registered trials"))
            if n]
    if n_changed:
        bits.append(f"{_count(n_changed, 'registered trial', 'registered trials')} with changes to "
                    f"{'its' if n_changed == 1 else 'their'} record")
    return (f"{changes['label']}: {_and(bits)}"
            + refs.cite(changes["new_publications"][:3] + changes["new_trials"][:3] + changes["changed_trials"][:3])
            + ".")


def _where(trials: list[dict[str, Any]], shown: int = 5) -> str:
    """", in the United States and Canada" (the countries with the most trials first)."""
    tally: dict[str, int] = {}
    for t in trials:
        for country in t["countries"]:
            tally[country] = tally.get(country, 0) + 1
    if not tally:
        return ""
    countries = [in_sentence(c) for c in sorted(tally, key=lambda c: (-tally[c], c))]
    if len(countries) <= shown:
        return f", in {_and(countries)}"
    return f", in {len(countries)} countries (most in {_and(countries[:3])})"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(title: str) -> str:
    """"Ketamine for PTSD" -> "ketamine for PTSD" (an acronym keeps its capitals)."""
    return title[0].lower() + title[1:] if len(title) > 1 and title[1].islower() else title


def _long_date(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


def record_report(db: sqlite3.Connection, report: dict[str, Any], fmt: str, output: str | None) -> None:
    """Remember that a report was made (for ``--since-last-report``)."""
    with transaction(db):
        last = db.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]
        db.execute("INSERT INTO reports (topic, as_of, format, output, made_at, last_run_id) VALUES (?, ?, ?, ?, ?, ?)",
                   [report["topic"], report["as_of"], fmt, output, now(), last])
