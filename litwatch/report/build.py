"""The "ongoing research" brief: every figure and list, built from the database.

:func:`build_report` returns plain data (the JSON format is exactly this); the
Markdown and HTML renderers in :mod:`litwatch.render` only lay it out. Everything is
ordered explicitly and dated by the runs, never by the clock, so the same database and
options give the same bytes. ``as_of`` reports the state after the runs that started by
that date: records first stored later are left out, and trial fields are rolled back
through ``trial_changes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlite3

from .. import __version__
from ..config import Topic
from ..designs import DESIGNS, META_ANALYSIS, RCT, SYSTEMATIC_REVIEW
from ..evidence import concept_pattern
from ..sources import all_sources
from ..sources.ctgov.source import TRACKED_FIELDS
from ..store.db import now, query, transaction
from ..store.schema import REPORTED_TRIALS_SQL

IN_PROGRESS = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING")
STOPPED = ("TERMINATED", "WITHDRAWN", "SUSPENDED")
LATEST = 10  # items in "latest" lists


@dataclass
class Window:
    """Which runs the report rests on."""

    as_of: str  # ISO timestamp: the last included run's end (or the --as-of day's end)
    run_ids: list[int]

    @property
    def day(self) -> date:
        return date.fromisoformat(self.as_of[:10])


def build_report(db: sqlite3.Connection, topic: Topic, *, as_of: date | None = None,
                 since: date | None = None, since_last_report: bool = False) -> dict[str, Any]:
    """Everything the brief shows, as JSON-ready data.

    :param as_of: report the state after the runs started on or before this day.
    :param since: start of the "what changed" window (default: the last run before the
        newest one; with ``since_last_report``, the last report recorded in ``reports``).
    """
    window = _window(db, as_of)
    trials = _trials(db, topic, window)
    articles = _articles(db, topic, window)
    texts = {a["paper_id"]: a.pop("text") for a in articles}
    evidence = [a for a in articles if not a["retracted"] and not a["preprint"]]
    preprints = [a for a in articles if not a["retracted"] and a["preprint"]]
    reported = {r[0] for r in db.execute(REPORTED_TRIALS_SQL)}
    for t in trials:
        t["reported_by_paper"] = t["nct_id"] in reported
    since_day = _since(db, topic, window, since, since_last_report)
    report = {
        "title": f"Ongoing research: {topic.name}",
        "topic": topic.name,
        "as_of": window.as_of,
        "notice": _notice(db, topic, window),
        "litwatch_version": __version__,
        "queries": {source.name: source.query(topic) for source in all_sources() if source.query(topic)},
        "concepts": {"intervention": list(topic.intervention_terms), "condition": list(topic.condition_terms)},
        "counts": {"trials": len(trials), "trials_core": sum(t["relevance"] == "core" for t in trials),
                   "publications": len(evidence), "publications_core": sum(a["relevance"] == "core" for a in evidence),
                   "preprints": len(preprints), "preprints_core": sum(a["relevance"] == "core" for a in preprints),
                   "retracted": sum(a["retracted"] for a in articles)},
        "trials_by_status": _tally(t["overall_status"] or "UNKNOWN" for t in trials),
        "trials_by_phase": _tally(t["phase"] for t in trials),
        "publications_by_year": _tally(str(a["year"]) if a["year"] else "unknown" for a in evidence),
        "publications_by_design": {d: n for d in DESIGNS if (n := sum(a["design"] == d for a in evidence))},
        "publications_by_year_and_design": _by_year_and_design(evidence),
        "newest_publications": sorted(evidence, key=lambda a: (a["entrez_date"] or "", a["paper_id"]), reverse=True)[:5],
        "newest_preprints": sorted(preprints, key=lambda a: (a["entrez_date"] or "", a["paper_id"]), reverse=True)[:5],
        "newest_trials": sorted(trials, key=lambda t: (t["first_posted"] or "", t["nct_id"]), reverse=True)[:5],
        "trials_in_progress": sorted((t for t in trials if t["overall_status"] in IN_PROGRESS),
                                     key=lambda t: (t["primary_completion_date"] or "9999", t["nct_id"])),
        "expected_completions": _tally(
            (t["primary_completion_date"] or "")[:4] or "not given"
            for t in trials if t["overall_status"] in IN_PROGRESS),
        "completed_trials": _completed(trials, window),
        "published_evidence": {
            "latest_randomized_trials": _latest(evidence, {RCT}),
            "latest_meta_analyses": _latest(evidence, {META_ANALYSIS, SYSTEMATIC_REVIEW}),
            "retracted": [a for a in articles if a["retracted"]],
        },
        "claims": _claims(topic, evidence, texts),
        "changes": _changes(db, topic, window, since_day, articles, trials),
        "sources": _sources(db, topic, window),
    }
    return report


def to_json(report: dict[str, Any]) -> str:
    """The JSON format: the report data, keys sorted."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------- window -----

def _window(db: sqlite3.Connection, as_of: date | None) -> Window:
    if as_of is None:
        rows = db.execute("SELECT id, finished_at FROM runs WHERE status = 'success' ORDER BY id").fetchall()
        stamp = max((r[1] for r in rows if r[1]), default="1970-01-01T00:00:00Z")
        return Window(stamp, [r[0] for r in rows])
    end = f"{as_of.isoformat()}T23:59:59Z"
    rows = db.execute("SELECT id FROM runs WHERE status = 'success' AND started_at <= ? ORDER BY id", [end]).fetchall()
    return Window(end, [r[0] for r in rows])


def _in(window: Window) -> str:
    return ",".join(str(i) for i in window.run_ids) or "NULL"


def _notice(db: sqlite3.Connection, topic: Topic, window: Window) -> str | None:
    fetched = db.execute(
        f"SELECT count(*) FROM runs WHERE kind = 'fetch' AND topic = ? AND id IN ({_in(window)})", [topic.name]).fetchone()[0]
    if fetched:
        return None
    files = [json.loads(r[0]).get("file") for r in db.execute(
        f"SELECT params FROM runs WHERE kind = 'import' AND id IN ({_in(window)}) ORDER BY id")]
    if not files:
        return "The database is empty: run `litwatch fetch` (or `litwatch import FILE`) first."
    return ("Not a live search: no fetch of this topic has run, so this report rests on imported files only ("
            + ", ".join(f for f in files if f) + "). Run `litwatch fetch` with network access for current data.")


def _since(db: sqlite3.Connection, topic: Topic, window: Window, since: date | None,
           since_last_report: bool) -> str:
    if since:
        return since.isoformat()
    if since_last_report:
        row = db.execute("SELECT max(as_of) FROM reports WHERE topic = ? AND as_of < ?",
                         [topic.name, window.as_of]).fetchone()
        if row and row[0]:
            return row[0]
    # Default: what the newest run brought (since the start of the run before it).
    starts = [r[0] for r in db.execute(
        f"SELECT started_at FROM runs WHERE id IN ({_in(window)}) AND kind != 'follow' ORDER BY started_at")]
    return starts[-1] if starts else "1970-01-01"


# ---------------------------------------------------------------- records -----

def _articles(db: sqlite3.Connection, topic: Topic, window: Window) -> list[dict[str, Any]]:
    """The topic's papers (journal articles and preprints), one per paper whatever the sources."""
    rows = query(db, f"""
        SELECT p.*, t.relevance, coalesce(p.title, '') || ' ' || coalesce(p.abstract, '') AS text
        FROM papers p JOIN paper_topics t ON t.paper_id = p.paper_id AND t.topic = ?
        WHERE p.first_run_id IN ({_in(window)})
        ORDER BY p.paper_id""", [topic.name])
    names = _authors(db, rows)
    out = []
    for r in rows:
        authors = names.get(r["paper_id"], [])
        out.append({
            "paper_id": r["paper_id"], "pmid": r["pmid"], "epmc_id": r["epmc_id"], "title": r["title"],
            "authors": authors[:3] + (["et al."] if len(authors) > 3 else []),
            "year": r["pub_year"], "journal": r["journal"], "volume": r["volume"], "issue": r["issue"],
            "pages": r["pages"], "doi": r["doi"], "entrez_date": r["added"],
            "design": r["design"] or "other", "design_source": r["design_source"],
            "preprint": bool(r["preprint"]), "server": r["server"], "sources": r["sources"].split(","),
            "retracted": bool(r["retracted"]), "corrected": bool(r["corrected"]), "relevance": r["relevance"],
            "first_run_id": r["first_run_id"], "text": r["text"],
            "url": r["url"], "link_label": "PubMed" if r["sources"].startswith("pubmed") else "Europe PMC",
            "doi_url": f"https://doi.org/{r['doi']}" if r["doi"] else None,
            "citation": citation(authors, r),
        })
    return out


def _authors(db: sqlite3.Connection, papers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Byline names ("Smith JA", or a group's name) of each paper, from whichever source holds it."""
    out: dict[str, list[str]] = {}
    pmids = {r["pmid"]: r["paper_id"] for r in papers if r["pmid"] and "pubmed" in r["sources"]}
    for pmid, name in db.execute(
            "SELECT pmid, coalesce(last_name || ' ' || coalesce(initials, ''), collective_name) FROM article_authors "
            f"WHERE pmid IN ({','.join('?' * len(pmids))}) ORDER BY pmid, position", list(pmids)):
        out.setdefault(pmids[pmid], []).append(name.strip())
    epmc = {r["epmc_id"]: r["paper_id"] for r in papers if r["sources"] == "europepmc"}
    for epmc_id, name in db.execute(
            "SELECT epmc_id, coalesce(full_name, collective_name) FROM europepmc_authors "
            f"WHERE epmc_id IN ({','.join('?' * len(epmc))}) ORDER BY epmc_id, position", list(epmc)):
        out.setdefault(epmc[epmc_id], []).append(name.strip())
    return out


def citation(authors: list[str], r: Any) -> str:
    """Vancouver-style citation: authors, title, journal year;volume(issue):pages. doi, PMID.
    A preprint names its server and is marked as one."""
    names = ", ".join(authors[:3]) + (", et al" if len(authors) > 3 else "")
    if r["preprint"]:
        where = f"{r['server'] or 'Preprint server'} [Preprint]. {r['pub_year'] or 'n.d.'}"
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
    return text + (f" PMID: {r['pmid']}." if r["pmid"] else f" Europe PMC: {r['epmc_id']}.")


def _trials(db: sqlite3.Connection, topic: Topic, window: Window) -> list[dict[str, Any]]:
    later = {}
    for nct_id, field, old in db.execute(
            f"SELECT nct_id, field, old_value FROM trial_changes WHERE run_id NOT IN ({_in(window)}) "
            f"AND field != 'new' ORDER BY id DESC"):
        later[(nct_id, field)] = old  # the earliest later change's old value wins
    countries = {}
    for nct_id, country in db.execute("SELECT DISTINCT nct_id, country FROM trial_locations "
                                      "WHERE country IS NOT NULL ORDER BY nct_id, country"):
        countries.setdefault(nct_id, []).append(country)
    out = []
    for r in query(db, 
            f"""SELECT t.*, tt.relevance FROM trials t JOIN trial_topics tt ON tt.nct_id = t.nct_id AND tt.topic = ?
                WHERE t.first_run_id IN ({_in(window)}) ORDER BY t.nct_id""", [topic.name]):
        for field in TRACKED_FIELDS:
            if (r["nct_id"], field) in later:
                r[field] = _typed(field, later[(r["nct_id"], field)])
        phases = json.loads(r["phases"] or "[]")
        out.append({
            "nct_id": r["nct_id"], "title": r["brief_title"], "acronym": r["acronym"],
            "overall_status": r["overall_status"], "why_stopped": r["why_stopped"], "phase": phase_label(phases),
            "design": r["design"], "lead_sponsor": r["lead_sponsor"], "lead_sponsor_class": r["lead_sponsor_class"],
            "enrollment": r["enrollment"], "enrollment_type": r["enrollment_type"],
            "countries": countries.get(r["nct_id"], []),
            "start_date": r["start_date"], "primary_completion_date": r["primary_completion_date"],
            "primary_completion_date_type": r["primary_completion_date_type"],
            "completion_date": r["completion_date"], "first_posted": r["first_posted"],
            "has_results": bool(r["has_results"]), "results_first_posted": r["results_first_posted"],
            "relevance": r["relevance"], "url": r["url"],
        })
    return out


def _typed(field: str, value: str | None) -> Any:
    if value is None:
        return None
    if field == "enrollment":
        return int(value)
    if field == "has_results":
        return value == "1"
    return value


def phase_label(phases: list[str]) -> str:
    """["PHASE2", "PHASE3"] -> "Phase 2/3"; ["NA"] -> "Not applicable"."""
    if not phases:
        return "Not given"
    if phases == ["NA"]:
        return "Not applicable"
    numbers = [p.replace("EARLY_PHASE1", "Early 1").replace("PHASE", "") for p in phases]
    return "Phase " + "/".join(numbers)


# ---------------------------------------------------------------- sections ----

def _tally(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


def _by_year_and_design(articles: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for a in articles:
        row = table.setdefault(str(a["year"] or "unknown"), {})
        row[a["design"]] = row.get(a["design"], 0) + 1
    return {year: dict(sorted(row.items())) for year, row in sorted(table.items())}


def _completed(trials: list[dict[str, Any]], window: Window) -> dict[str, Any]:
    year_ago = (window.day - timedelta(days=365)).isoformat()
    done = [t for t in trials if t["overall_status"] == "COMPLETED"]
    return {
        "with_results": [t for t in done if t["has_results"]],
        "unreported": [t for t in done if not t["has_results"] and not t["reported_by_paper"]
                       and (t["primary_completion_date"] or t["completion_date"] or "9999") < year_ago],
        "stopped": [t for t in trials if t["overall_status"] in STOPPED],
        "completed_total": len(done),
    }


def _latest(articles: list[dict[str, Any]], designs: set[str]) -> list[dict[str, Any]]:
    chosen = [a for a in articles if a["design"] in designs]
    return sorted(chosen, key=lambda a: (a["year"] or 0, a["entrez_date"] or "", a["paper_id"]), reverse=True)[:LATEST]


def _claims(topic: Topic, articles: list[dict[str, Any]], texts: dict[int, str]) -> list[dict[str, Any]]:
    out = []
    core = [a for a in articles if a["relevance"] == "core"]
    for claim in topic.claims:
        pattern = concept_pattern(claim.terms)
        papers = [a for a in core if pattern and pattern.search(texts[a["paper_id"]])]
        papers.sort(key=lambda a: (DESIGNS.index(a["design"]), -(a["year"] or 0), a["paper_id"]))
        out.append({"claim": claim.name, "terms": list(claim.terms),
                    "papers_by_design": {d: n for d in DESIGNS if (n := sum(a["design"] == d for a in papers))},
                    "papers": papers})
    return out


def _changes(db: sqlite3.Connection, topic: Topic, window: Window, since: str,
             articles: list[dict[str, Any]], trials: list[dict[str, Any]]) -> dict[str, Any]:
    after = [r[0] for r in db.execute(
        f"SELECT id FROM runs WHERE id IN ({_in(window)}) AND started_at >= ? ORDER BY id", [since])]
    runs = set(after)
    in_topic = {t["nct_id"] for t in trials}
    rows = query(db, 
        f"""SELECT c.nct_id, c.field, c.old_value, c.new_value, c.last_update_posted, c.run_id, r.started_at
            FROM trial_changes c JOIN runs r ON r.id = c.run_id
            WHERE c.run_id IN ({",".join(map(str, after)) or "NULL"}) ORDER BY c.nct_id, c.id""")
    changed = [r for r in rows if r["nct_id"] in in_topic]
    return {
        "since": since,
        "new_publications": [a for a in articles if a["first_run_id"] in runs and not a["retracted"]],
        "new_trials": [t for t in trials if any(c["nct_id"] == t["nct_id"] and c["field"] == "new" for c in changed)],
        "trial_changes": [c for c in changed if c["field"] != "new"],
    }


def _sources(db: sqlite3.Connection, topic: Topic, window: Window) -> list[dict[str, Any]]:
    out = []
    for source in all_sources():
        last = db.execute(
            f"SELECT max(finished_at) FROM runs WHERE source = ? AND kind = 'fetch' AND topic = ? "
            f"AND id IN ({_in(window)})", [source.name, topic.name]).fetchone()[0]
        imported = db.execute(
            f"SELECT max(finished_at) FROM runs WHERE source = ? AND kind = 'import' AND id IN ({_in(window)})",
            [source.name]).fetchone()[0]
        records = db.execute(f"SELECT count(*) FROM [{source.family.topics}] WHERE topic = ?",
                             [topic.name]).fetchone()[0]
        out.append({"source": source.name, "query": source.query_text(topic), "last_fetch": last,
                    "last_import": imported, "records_in_topic": records,
                    "service": f"{source.label} ({source.service})"})
    return out


def record_report(db: sqlite3.Connection, report: dict[str, Any], fmt: str, output: str | None) -> None:
    """Remember that a report was made (for ``--since-last-report``)."""
    with transaction(db):
        db.execute("INSERT INTO reports (topic, as_of, format, output, made_at) VALUES (?, ?, ?, ?, ?)",
                   [report["topic"], report["as_of"], fmt, output, now()])
