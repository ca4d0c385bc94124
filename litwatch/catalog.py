"""The database as the registered sources make it: litwatch's own tables, every source's
tables, and the views that span sources, each composed from what the sources declare.

The store (:mod:`litwatch.store`) knows no source; the sources know the store. This module
stands above both and hands the store the whole :class:`~litwatch.store.schema.Schema`:

- ``papers``: one row per paper, whichever sources hold it, one arm per source whose records
  are papers (its :class:`~litwatch.sources.base.PaperArm`);
- ``paper_topics``: each paper's topics, from every such source's topic table;
- ``reported_trials``: the trials a paper reports (a RESULT reference, or a linked paper of
  an empirical design that is not retracted), whichever source holds the paper;
- ``events``: new core papers (of any source), then each source's own events, monitoring gaps
  and records that left a search;
- ``publications_by_year``, and the views a source declares of its own.

A source added to :data:`litwatch.sources.REGISTRY` is in all of these with no edit here.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path
from typing import Callable

from .designs import EMPIRICAL
from .sources import REGISTRY, all_sources
from .sources.base import PaperArm, Source
from .store import db
from .store.schema import Schema, compose
from .store.spec import View, sql_in

# The papers view's columns an arm may fill (the others: paper_id, pmid, sources, source,
# record_key are litwatch's).
PAPER_COLUMNS = ("doi", "title", "abstract", "journal", "volume", "issue", "pages", "pub_year", "published", "added",
                 "design", "design_source", "retracted", "corrected", "preprint", "server")
_AFTER_SOURCES = ("url", "first_run_id", "origin")
# The events view's columns, in order: what each source's events_sql selects.
EVENT_COLUMNS = ("event_id", "topic", "kind", "run_id", "record_id", "title", "old_value", "new_value", "detail",
                 "url")

Arm = tuple[Source, PaperArm]
Condition = Callable[[Source, PaperArm], str]


def schema() -> Schema:
    """The schema of the sources registered now (a test may register one more)."""
    return _schema(tuple(REGISTRY.items()))


def open_db(path: str | Path, *, readonly: bool = False, create: bool = True) -> sqlite3.Connection:
    """Open a litwatch database (see :func:`litwatch.store.db.open_db`) with the schema of the
    registered sources."""
    return db.open_db(path, schema(), readonly=readonly, create=create)


def arms() -> list[Arm]:
    """The sources whose records are papers, with their arms, first one first (it wins)."""
    return [(s, s.papers) for s in all_sources() if s.papers is not None]


@cache
def _schema(registry: tuple[tuple[str, str], ...]) -> Schema:
    sources = all_sources()
    views = {
        "papers": View(papers_sql(), "One row per paper, whichever sources hold it (the copy of the source "
                                     "registered first: PubMed, then Europe PMC...); preprints marked preprint = 1 "
                                     "(not peer reviewed), earlier versions of a paper left out (see paper_versions)."),
        "paper_topics": View(_paper_topics_sql(), "The papers of each topic and how central they are to it, from "
                                                  "every source's records."),
        "reported_trials": View(_reported_trials_sql(), "Trials a paper reports: a RESULT reference, or a linked "
                                                        "paper of an empirical design (randomized, non-randomized, "
                                                        "single-arm, observational, case report or series) that is "
                                                        "not retracted."),
        "publications_by_year": View(PUBLICATIONS_BY_YEAR, "Journal publications and preprints per year and study "
                                                           "design, retracted papers left out."),
        "events": View(_events_sql(sources), "What happened to each topic's core records, one row per event with a "
                                             "stable ID: new papers and trials, trial status, phase, enrollment and "
                                             "date changes, results posted, papers retracted, corrected, versioned, "
                                             "indexed or deleted, papers linked to a trial, monitoring gaps, records "
                                             "that left a search (what litwatch feed and notify send)."),
    }
    for source in sources:
        clash = set(source.views) & set(views)
        if clash:
            raise ValueError(f"source {source.name} declares views {sorted(clash)} that exist already")
        views.update(source.views)
    return compose((s.family for s in sources), views)


# ------------------------------------------------------------------- papers --

def _own_id(source: Source, arm: PaperArm) -> str:
    return arm.own_id or f"CAST({arm.alias}.[{source.family.key}] AS TEXT)"


def paper_id_sql(source: Source, arm: PaperArm) -> str:
    """The paper a record is, as SQL over its arm's alias: PMID:<pmid> when it has one."""
    if arm.pmid is None:
        return _own_id(source, arm)
    if _keyed_by_pmid(source, arm):
        return f"'PMID:' || {arm.alias}.[{arm.pmid}]"
    return f"coalesce('PMID:' || {arm.alias}.[{arm.pmid}], {_own_id(source, arm)})"


def _keyed_by_pmid(source: Source, arm: PaperArm) -> bool:
    """Whether the source's key is the PMID itself (every record has one)."""
    return arm.pmid == source.family.key and arm.own_id is None


def _chosen(source: Source, arm: PaperArm, earlier: list[Arm], everyone: list[Arm], superseded: bool) -> list[str]:
    """Conditions keeping a record that is the paper's shown copy: the first source's, the
    source's own copy with the smallest key; no deleted PMID; no earlier version of a paper."""
    a, table, key = arm.alias, source.family.table, source.family.key
    out = []
    if arm.pmid is not None and not _keyed_by_pmid(source, arm):
        pmid = f"{a}.[{arm.pmid}]"
        out.append(f"({pmid} IS NULL OR {a}.[{key}] = (SELECT min(_c.[{key}]) FROM [{table}] _c "
                   f"WHERE _c.[{arm.pmid}] = {pmid}))")
        for other, other_arm in earlier:
            if other_arm.pmid is not None:
                out.append(f"({pmid} IS NULL OR {pmid} NOT IN (SELECT [{other_arm.pmid}] FROM "
                           f"[{other.family.table}] WHERE [{other_arm.pmid}] IS NOT NULL))")
        for other, other_arm in everyone:
            if other_arm.deleted and other is not source:
                out.append(f"({pmid} IS NULL OR {pmid} NOT IN ({other_arm.deleted}))")
    if not superseded and not _keyed_by_pmid(source, arm):
        has_pmid = f"{a}.[{arm.pmid}] IS NOT NULL OR " if arm.pmid else ""
        out.append(f"({has_pmid}{_own_id(source, arm)} NOT IN (SELECT version_id FROM paper_versions))")
    return out


def _sources_sql(source: Source, arm: PaperArm, later: list[Arm]) -> str:
    """The sources holding the paper: the arm's, then each later one holding its PMID."""
    parts = [f"'{source.name}'"]
    if arm.pmid is not None:
        pmid = f"{arm.alias}.[{arm.pmid}]"
        for other, other_arm in later:
            if other_arm.pmid is not None:
                parts.append(f"CASE WHEN {pmid} IS NOT NULL AND EXISTS (SELECT 1 FROM [{other.family.table}] _s "
                             f"WHERE _s.[{other_arm.pmid}] = {pmid}) THEN ',{other.name}' ELSE '' END")
    return " || ".join(parts)


def papers_sql(condition: Condition | None = None, *, superseded: bool = False) -> str:
    """The papers view's query, one arm per source whose records are papers; ``condition``
    (SQL over an arm's alias) keeps some papers only: filtering the view itself would compute
    every paper first (its paper_id is an expression, not a key). With ``superseded``, earlier
    versions of papers (preprints of a published paper) are rows too."""
    everyone = arms()
    selects = []
    for i, (source, arm) in enumerate(everyone):
        a = arm.alias
        values = [f"{paper_id_sql(source, arm)} AS paper_id",
                  f"{a}.[{arm.pmid}] AS pmid" if arm.pmid else "NULL AS pmid"]
        values += [f"{arm.columns.get(c, 'NULL')} AS {c}" for c in PAPER_COLUMNS]
        values.append(f"{_sources_sql(source, arm, everyone[i + 1:])} AS sources")
        values += [f"{arm.columns.get(c, f'{a}.[{c}]' if c != 'url' else 'NULL')} AS {c}" for c in _AFTER_SOURCES]
        values += [f"'{source.name}' AS source", f"CAST({a}.[{source.family.key}] AS TEXT) AS record_key"]
        where = _chosen(source, arm, everyone[:i], everyone, superseded)
        if condition is not None:
            where.append(f"({condition(source, arm)})")
        select = f"SELECT {', '.join(values)}\nFROM [{source.family.table}] {a}"
        selects.append(select + (f"\nWHERE {' AND '.join(where)}" if where else ""))
    if not selects:
        return "SELECT " + ", ".join(f"NULL AS {c}" for c in ("paper_id", "pmid", *PAPER_COLUMNS, "sources",
                                                               *_AFTER_SOURCES, "source", "record_key")) + " WHERE 0"
    return "\nUNION ALL\n".join(selects)


def _in_topic(source: Source, arm: PaperArm) -> str:
    """A record's paper is in the topic :topic when any copy of it is (any source's)."""
    a, family = arm.alias, source.family
    out = [f"{a}.[{family.key}] IN (SELECT [{family.key}] FROM [{family.topics}] WHERE topic = :topic)"]
    if arm.pmid is not None:
        for other, other_arm in arms():
            if other_arm.pmid is None or (other is source and _keyed_by_pmid(source, arm)):
                continue
            o = other.family
            if _keyed_by_pmid(other, other_arm):
                copies = f"SELECT [{o.key}] FROM [{o.topics}] WHERE topic = :topic"
            else:
                copies = (f"SELECT _x.[{other_arm.pmid}] FROM [{o.topics}] _y JOIN [{o.table}] _x "
                          f"ON _x.[{o.key}] = _y.[{o.key}] "
                          f"WHERE _y.topic = :topic AND _x.[{other_arm.pmid}] IS NOT NULL")
            out.append(f"{a}.[{arm.pmid}] IN ({copies})")
    return " OR ".join(out)


def topic_papers_sql() -> str:
    """The papers of the topic named by the parameter ``:topic`` (the rows of the papers view
    that paper_topics places in it), read through the keys of the topic's records."""
    return papers_sql(_in_topic)


def _paper_topics_sql() -> str:
    selects = []
    for source, arm in arms():
        family = source.family
        if _keyed_by_pmid(source, arm):
            selects.append(f"SELECT 'PMID:' || t.[{family.key}] AS paper_id, t.topic, t.relevance, t.first_run_id, "
                           f"t.live_run_id FROM [{family.topics}] t")
        else:
            selects.append(f"SELECT {paper_id_sql(source, arm)}, t.topic, t.relevance, t.first_run_id, t.live_run_id "
                           f"FROM [{family.topics}] t JOIN [{family.table}] {arm.alias} "
                           f"ON {arm.alias}.[{family.key}] = t.[{family.key}]")
    if not selects:
        return "SELECT NULL AS paper_id, NULL AS topic, NULL AS relevance, NULL AS first_run_id, NULL AS live_run_id"
    return f"""
SELECT paper_id, topic, CASE WHEN max(relevance = 'core') THEN 'core' ELSE max(relevance) END AS relevance,
       min(first_run_id) AS first_run_id, min(live_run_id) AS live_run_id
FROM ({' UNION ALL '.join(selects)})
GROUP BY paper_id, topic"""


def _reported_trials_sql() -> str:
    """Trials a paper reports: a RESULT reference, or a linked paper (the copy the papers view
    shows) of an empirical design that is not retracted. Read through the tables' keys:
    joining the papers view on its computed paper_id reads every paper for every link."""
    everyone = arms()
    found = ["l.reference_type = 'RESULT'"]
    for i, (source, arm) in enumerate(everyone):
        a, table = arm.alias, source.family.table
        empirical = (f"coalesce({arm.columns.get('retracted', '0')}, 0) = 0 AND "
                     f"{arm.columns.get('design', 'NULL')} IN {sql_in(EMPIRICAL)}")
        chosen = _chosen(source, arm, everyone[:i], everyone, False) + [empirical]
        if arm.pmid is not None:
            found.append(f"(l.pmid IS NOT NULL AND l.paper_id = 'PMID:' || l.pmid AND EXISTS (SELECT 1 FROM "
                         f"[{table}] {a} WHERE {a}.[{arm.pmid}] = l.pmid AND {' AND '.join(chosen)}))")
        if not _keyed_by_pmid(source, arm):
            own = f"{a}.[{arm.pmid}] IS NULL AND " if arm.pmid else ""
            found.append(f"(l.paper_id NOT LIKE 'PMID:%' AND EXISTS (SELECT 1 FROM [{table}] {a} WHERE {own}"
                         f"{_own_id(source, arm)} = l.paper_id AND {' AND '.join(chosen)}))")
    return "\nSELECT DISTINCT l.nct_id FROM paper_trial_links l\nWHERE " + "\n   OR ".join(found)


PUBLICATIONS_BY_YEAR = """
SELECT p.pub_year, p.design, sum(NOT p.preprint) AS publications, sum(p.preprint) AS preprints
FROM papers p WHERE NOT p.retracted
GROUP BY p.pub_year, p.design ORDER BY p.pub_year, p.design"""


# ------------------------------------------------------------------- events --

# New core papers of a topic, whichever source brought them; dated by the first live run
# that brought them into it.
_NEW_PAPERS = """
SELECT 'paper:' || t.topic || ':' || p.paper_id AS event_id, t.topic,
       CASE WHEN p.preprint THEN 'new_preprint' ELSE 'new_paper' END AS kind, t.live_run_id AS run_id,
       p.paper_id AS record_id, p.title, NULL AS old_value, p.design AS new_value,
       CASE WHEN p.design_source IN ('publication_type', 'mesh') THEN 'indexed'
            WHEN p.design_source = 'text' THEN 'inferred' END AS detail, p.url
FROM paper_topics t JOIN papers p ON p.paper_id = t.paper_id
WHERE t.relevance = 'core' AND t.live_run_id IS NOT NULL"""
# Monitoring gaps opened and closed, and records that left a topic's search (any record the
# query had brought in, core or not: the query no longer finds it).
_LITWATCH_EVENTS = """
SELECT 'gap:' || g.id || ':opened', g.topic, 'gap_opened', g.opened_run_id, g.source, NULL, g.window_from,
       g.window_to, g.reason, NULL
FROM monitoring_gaps g
UNION ALL
SELECT 'gap:' || g.id || ':closed', g.topic, 'gap_closed', g.closed_run_id, g.source, NULL, g.window_from,
       g.window_to, NULL, NULL
FROM monitoring_gaps g WHERE g.closed_run_id IS NOT NULL
UNION ALL
SELECT 'left:' || s.topic || ':' || s.record_id || ':' || s.left_run_id, s.topic, 'left_search', s.left_run_id,
       s.record_id, s.title, NULL, NULL, s.source, s.url
FROM left_search s"""


def _events_sql(sources: list[Source]) -> str:
    """What happened to each topic's core records, one row per event with a stable ID, dated
    by the run that saw it: new papers, each source's own events (new trials and their
    changes, retractions, deletions, a paper linked to a trial...), gaps and departures."""
    parts = [_NEW_PAPERS] + [sql for s in sources for sql in s.events_sql] + [_LITWATCH_EVENTS]
    return "\nUNION ALL\n".join(part.strip("\n") for part in parts)

