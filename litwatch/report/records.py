"""The report's records, read from the database: the runs it rests on (:class:`Window`), what
they searched, imported and stored (:func:`run_basis`, :func:`gaps`), the topic's papers and
registered trials, the trials' outcome measures, and the runs and trial changes "what
changed" covers. Each record is a typed dict, ready for the report's JSON.

What is read: the papers and trials of the topic (core, or sharing one of its concepts) that
the window's runs brought; none from the bundled offline sample of a source once a live
search of it succeeded; trial fields rolled back through ``trial_changes`` to the window's
end. This module reads only: the figures are computed in :mod:`.figures`, the words in
:mod:`.prose` (a paper's citation is worded by the ``cite`` it is handed).
"""

from __future__ import annotations

import calendar
import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, TypedDict

from ..catalog import paper_id_sql, papers_sql, topic_papers_sql
from ..config import Topic
from ..gaps import Gap, open_gaps
from ..labels import IN_PROGRESS, phase_label, status_label
from ..sources import all_sources, get
from ..store.db import query

INDEXED = {"publication_type", "mesh"}  # design_source values that mean NLM indexed the design


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


class Attempt(TypedDict):
    """A source's last search of the topic."""

    status: str  # success, failed, interrupted
    at: str  # when it started
    error: str | None


class SourceBasis(TypedDict):
    """A source's live searches of the topic: the last that succeeded, the last attempt."""

    label: str
    live: bool  # a search of it succeeded
    last_success: str | None  # when that search ended
    last_attempt: Attempt | None


class ImportedFile(TypedDict):
    """A file an import run read."""

    file: str | None
    source: str | None
    at: str | None


class RunBasis(TypedDict):
    """What the window's runs rest on: live searches, imported files, the bundled sample."""

    sources: dict[str, SourceBasis]  # by source name: the sources that search the topic
    files: list[ImportedFile]
    sample: list[str]  # the sources holding records of the bundled sample
    empty: bool  # no run in the window
    first_run: str | None  # when the database's first run started


class Version(TypedDict):
    """An earlier version of a paper (a preprint of a published paper)."""

    version_id: str
    how: str | None
    server: str | None
    posted: str | None
    url: str | None


class Paper(TypedDict):
    """A paper of the topic (journal article or preprint), one per paper whatever the sources."""

    paper_id: str
    pmid: int | None
    source: str  # the source whose copy is shown
    record_key: str
    title: str | None
    authors: list[str]  # the first three, then "et al."
    year: int | None
    journal: str | None
    volume: str | None
    issue: str | None
    pages: str | None
    doi: str | None
    entrez_date: str | None
    design: str
    design_source: str | None
    design_basis: str  # indexed, inferred or none
    preprint: bool
    server: str | None
    sources: list[str]  # every source holding it
    retracted: bool
    corrected: bool
    relevance: str  # core, intervention or condition
    first_run_id: int
    live_run_id: int | None  # the run of the first live search that brought it
    url: str | None
    link_label: str
    doi_url: str | None
    citation: str
    versions: list[Version]


class Trial(TypedDict):
    """A registered trial of the topic, as of the window's end."""

    nct_id: str
    title: str | None
    acronym: str | None
    overall_status: str | None
    status: str
    in_progress: bool  # recruiting, about to, enrolling by invitation or active (litwatch.labels.IN_PROGRESS)
    why_stopped: str | None
    phases: list[str]
    phase: str
    design: str | None
    lead_sponsor: str | None
    lead_sponsor_class: str | None
    enrollment: int | None
    enrollment_type: str | None
    countries: list[str]
    interventions: list[str]  # "name (type)"
    arms: int
    start_date: str | None
    primary_completion_date: str | None
    primary_completion_date_type: str | None
    completion_date: str | None
    first_posted: str | None
    last_update_posted: str | None
    has_results: bool
    results_first_posted: str | None
    relevance: str  # core, intervention or condition
    url: str | None
    first_run_id: int
    live_run_id: int | None  # the run of the first live search that brought it
    overdue_months: int | None  # see _overdue
    reported_by_paper: bool  # a paper names its registration


class Outcome(TypedDict):
    """One outcome measure a trial registers."""

    nct_id: str
    kind: str  # primary, secondary, other
    measure: str | None
    description: str | None
    time_frame: str | None


class ChangeRow(TypedDict):
    """One change of a trial's registered record, as a run found it."""

    nct_id: str
    field: str
    old_value: str | None
    new_value: str | None
    last_update_posted: str | None
    run_id: int


# ----------------------------------------------------------------- window -----

def window(db: sqlite3.Connection, as_of: date | None) -> Window:
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


def run_basis(db: sqlite3.Connection, topic: Topic, window: Window) -> RunBasis:
    """What the report rests on: each source's live searches of the topic (the last that
    succeeded, the last attempt and how it ended), the files imported, the bundled sample."""
    sources: dict[str, SourceBasis] = {}
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
            "last_attempt": {"status": last["status"], "at": last["started_at"], "error": last["error"]}
            if last else None,
        }
    imports = query(db, f"SELECT params, finished_at, source FROM runs WHERE kind = 'import' AND id IN ({window.sql}) "
                        f"ORDER BY id")
    files: list[ImportedFile] = [{"file": json.loads(r["params"] or "{}").get("file"), "source": r["source"],
                                  "at": r["finished_at"]} for r in imports]
    sample = [source.name for source in all_sources() if db.execute(
        f"SELECT 1 FROM [{source.family.table}] WHERE origin = 'sample' LIMIT 1").fetchone()]
    first = db.execute("SELECT min(started_at) FROM runs WHERE status != 'running'").fetchone()[0]
    return {"sources": sources, "files": files, "sample": sample, "empty": not window.run_ids, "first_run": first}


def gaps(db: sqlite3.Connection, topic: Topic, window: Window) -> list[Gap]:
    """The windows of the topic's searches that the window's runs left unsearched (see :mod:`litwatch.gaps`)."""
    return open_gaps(db, topic=topic.name, run_ids=window.sql)


# ----------------------------------------------------------------- papers -----

def papers(db: sqlite3.Connection, topic: Topic, window: Window, basis: RunBasis,
           cite: Callable[[list[str], dict[str, Any]], str]) -> tuple[list[Paper], dict[str, str | None]]:
    """The topic's papers (journal articles and preprints) that match at least one of its
    concepts, one per paper whatever the sources, and their abstracts by paper_id. Records
    from the bundled sample leave the topic once a live search of their source succeeded.
    ``cite`` words a paper's citation from its byline and its row of the papers view."""
    live = [name for name, b in basis["sources"].items() if b["live"]]
    rows = _topic_papers(db, topic, window, live)
    names = _authors(db, rows)
    versions = _versions(db, [r["paper_id"] for r in rows])
    out: list[Paper] = []
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
            "first_run_id": r["first_run_id"], "live_run_id": r["live_run_id"],
            "url": r["url"], "link_label": source.label,
            "doi_url": f"https://doi.org/{r['doi']}" if r["doi"] else None,
            "citation": cite(authors, r),
            "versions": [{"version_id": v["version_id"], "how": v["how"], "server": v["server"],
                          "posted": v["posted"], "url": v["url"]} for v in versions.get(r["paper_id"], [])],
        })
    return out, {r["paper_id"]: r["abstract"] for r in rows}


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


# ----------------------------------------------------------------- trials -----

def trials(db: sqlite3.Connection, topic: Topic, window: Window,
           basis: RunBasis) -> tuple[list[Trial], dict[str, str]]:
    """The topic's registered trials that match at least one of its concepts, as they stood at
    the window's end, and the text each is searched in (titles, summary, interventions) by
    NCT ID."""
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
    reported = {r[0] for r in db.execute("SELECT nct_id FROM reported_trials")}
    out: list[Trial] = []
    for r in rows:
        r["text"] += " " + " ".join(interventions.get(r["nct_id"], []))
        for field, old in later.get(r["nct_id"], {}).items():
            r[field] = _typed(field, old)
        out.append({
            "nct_id": r["nct_id"], "title": r["brief_title"], "acronym": r["acronym"],
            "overall_status": r["overall_status"], "status": status_label(r["overall_status"]),
            "in_progress": r["overall_status"] in IN_PROGRESS,
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
            "relevance": r["relevance"], "url": r["url"],
            "first_run_id": r["first_run_id"], "live_run_id": r["topic_live_run_id"],
            "overdue_months": _overdue(r, window.day),
            "reported_by_paper": r["nct_id"] in reported,
        })
    return out, {r["nct_id"]: r["text"] for r in rows}


def _sample_left(alias: str, basis: RunBasis, source: str) -> str:
    """Records from the bundled sample leave the topic once a live search of their source succeeded."""
    fresh = basis["sources"].get(source)
    return f"AND coalesce({alias}.origin, '') != 'sample'" if fresh and fresh["live"] else ""


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


def _typed(field: str, value: str | None) -> Any:
    if value is None:
        return None
    if field == "enrollment":
        return int(value)
    if field == "has_results":
        return value == "1"
    return value


def outcomes(db: sqlite3.Connection, nct_ids: list[str]) -> dict[str, list[Outcome]]:
    """The outcome measures each of these trials registers, in their order."""
    rows = _grouped_rows(db, "SELECT nct_id, kind, measure, description, time_frame FROM trial_outcomes "
                             "WHERE nct_id IN ({}) ORDER BY nct_id, kind, position", nct_ids)
    return {nct_id: [{"nct_id": o["nct_id"], "kind": o["kind"], "measure": o["measure"],
                      "description": o["description"], "time_frame": o["time_frame"]} for o in found]
            for nct_id, found in rows.items()}


# ---------------------------------------------------------- what changed -----

def change_runs(db: sqlite3.Connection, topic: Topic, window: Window, since: date | None,
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


def runs_started(db: sqlite3.Connection, runs: list[int]) -> str | None:
    """When the first of these runs started (None: no run)."""
    started: str | None = db.execute(
        f"SELECT min(started_at) FROM runs WHERE id IN ({','.join(map(str, runs)) or 'NULL'})").fetchone()[0]
    return started


def trial_changes(db: sqlite3.Connection, runs: list[int]) -> list[ChangeRow]:
    """The changes these runs found in registered trials (any trial), by trial, in the order found."""
    rows = query(db, f"""SELECT c.nct_id, c.field, c.old_value, c.new_value, c.last_update_posted, c.run_id
                          FROM trial_changes c WHERE c.run_id IN ({",".join(map(str, runs)) or "NULL"})
                          AND c.field != 'new' ORDER BY c.nct_id, c.id""")
    return [{"nct_id": r["nct_id"], "field": r["field"], "old_value": r["old_value"], "new_value": r["new_value"],
             "last_update_posted": r["last_update_posted"], "run_id": r["run_id"]} for r in rows]


# ---------------------------------------------------------------- helpers -----

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
