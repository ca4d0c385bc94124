"""Browsing and reuse: Datasette metadata and pandas DataFrames of the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .catalog import schema
from .designs import STRONG
from .errors import LitwatchError
from .labels import IN_PROGRESS
from .sources import all_sources, in_words
from .store.spec import sql_in, sql_text

# Datasette options of each table: the sources declare theirs.
CORE_OPTIONS: dict[str, dict[str, Any]] = {
    "paper_trial_links": {"facets": ["source", "reference_type"]},
    "runs": {"facets": ["source", "kind", "status"], "sort_desc": "id"},
    "events": {"facets": ["topic", "kind"], "sort_desc": "run_id"},
}
# The canned queries ask what the brief shows, for a topic (:topic, default: the brief's, the
# first configured) and a relevance (:relevance: core, the default, as the brief's headline
# figures count; related, for its "related research"; intervention, condition, none; all), with the
# brief's rules: records of the bundled sample leave a topic once a live search of their
# source succeeded, "what changed" is what the last update brought first from a live search.
_TOPIC = "coalesce(nullif(:topic, ''), {default})"
_RELEVANCE = ("(relevance = coalesce(nullif(:relevance, ''), 'core') OR (:relevance = 'related' "
              "AND relevance IN ('intervention', 'condition')) OR :relevance = 'all')")
_X_RELEVANCE = _RELEVANCE.replace("(relevance", "(x.relevance").replace("AND relevance", "AND x.relevance")
_LIVE = ("EXISTS (SELECT 1 FROM runs r WHERE r.kind = 'fetch' AND r.status = 'success' AND r.topic = {topic} "
         "AND r.source = {source})")
_IN_PROGRESS = sql_in(IN_PROGRESS)
_LAST_UPDATE = ("(SELECT id FROM runs WHERE session = (SELECT max(session) FROM runs "
                "WHERE kind IN ('fetch', 'import', 'follow')))")


def canned_queries(topic: str) -> dict[str, dict[str, str]]:
    """Datasette's canned queries, ``topic`` the default of their :topic parameter."""
    t = _TOPIC.format(default=sql_text(topic))
    trial_sources = [s.name for s in all_sources() if s.holds == "trials"]
    live_trials = " OR ".join(_LIVE.format(topic=t, source=sql_text(n)) for n in trial_sources) or "0"
    in_topic = (f"t.nct_id IN (SELECT x.nct_id FROM trial_topics x JOIN trials y ON y.nct_id = x.nct_id "
                f"WHERE x.topic = {t} AND {_X_RELEVANCE} AND NOT (coalesce(y.origin, '') = 'sample' "
                f"AND ({live_trials})))")
    paper_topics = f"SELECT paper_id, live_run_id FROM paper_topics WHERE topic = {t} AND {_RELEVANCE}"
    papers = (f"p.paper_id IN (SELECT paper_id FROM paper_topics WHERE topic = {t} AND {_RELEVANCE}) AND NOT "
              f"(coalesce(p.origin, '') = 'sample' AND {_LIVE.format(topic=t, source='p.source')})")
    return {
        "recruiting_trials": {
            "title": "Recruiting trials",
            "description": "Trials of the topic taking participants now or soon, by expected primary completion "
                           "(the brief's count of trials recruiting or about to).",
            "sql": f"SELECT * FROM recruiting_trials t WHERE {in_topic}"},
        "trials_in_progress": {
            "title": "Trials in progress",
            "description": "Trials of the topic recruiting, about to, enrolling by invitation or active, by expected "
                           "primary completion (the brief's trials in progress).",
            "sql": "SELECT t.nct_id, t.brief_title, t.overall_status, t.phases, t.lead_sponsor, t.enrollment, "
                   "t.primary_completion_date, t.primary_completion_date_type, t.last_update_posted, t.url "
                   f"FROM trials t WHERE t.overall_status IN {_IN_PROGRESS} AND {in_topic} "
                   "ORDER BY coalesce(t.primary_completion_date, '9999'), t.nct_id"},
        "trials_completing_next_12_months": {
            "title": "Trials completing in the next 12 months",
            "description": "Trials of the topic in progress whose primary completion falls within a year from "
                           "today.",
            "sql": "SELECT nct_id, brief_title, overall_status, phases, lead_sponsor, enrollment, "
                   "primary_completion_date, primary_completion_date_type, url FROM trials t "
                   f"WHERE overall_status IN {_IN_PROGRESS} AND primary_completion_date BETWEEN date('now') "
                   f"AND date('now', '+12 months') AND {in_topic} ORDER BY primary_completion_date, nct_id"},
        "latest_rcts_and_meta_analyses": {
            "title": "Latest randomized trials and meta-analyses",
            "description": "Peer-reviewed papers of the topic (no preprints), not retracted, newest first.",
            "sql": "SELECT paper_id, pmid, pub_year, design, design_source, title, journal, doi FROM papers p "
                   f"WHERE design IN {sql_in(STRONG)} "
                   f"AND NOT preprint AND NOT retracted AND {papers} "
                   "ORDER BY pub_year DESC, added DESC, paper_id DESC LIMIT 100"},
        "preprints": {
            "title": "Preprints (not peer reviewed)",
            "description": "Preprints of the topic not yet stored as a journal paper, newest first, with their server "
                           "and their earlier versions.",
            "sql": "SELECT p.paper_id, p.server, p.published, p.title, p.design, p.doi, "
                   "(SELECT group_concat(v.version_id) FROM paper_versions v WHERE v.paper_id = p.paper_id) "
                   "AS earlier_versions, p.source, p.url FROM papers p WHERE p.preprint "
                   f"AND NOT p.retracted AND {papers} ORDER BY p.published DESC, p.paper_id"},
        "papers_linked_to_trial": {
            "title": "Papers linked to each trial",
            "description": "Leave nct_id empty for every trial.",
            "sql": "SELECT * FROM trial_publications WHERE :nct_id = '' OR nct_id = upper(:nct_id)"},
        "unreported_trials": {
            "title": "Unreported trials",
            "description": schema().views["unreported_trials"].description + " Of the topic.",
            "sql": f"SELECT * FROM unreported_trials t WHERE {in_topic}"},
        "changes_in_last_update": {
            "title": "What changed in the last update",
            "description": "What the brief's 'what changed' lists for the topic: papers and trials a live search "
                           "brought first in the last command that fetched or imported (litwatch update, fetch or "
                           "import: one session of runs), and changes to its trials' records. Statuses and phases "
                           "are ClinicalTrials.gov's codes.",
            "sql": f"WITH last AS {_LAST_UPDATE}, topic_trials AS (SELECT t.nct_id, t.live_run_id FROM trial_topics t "
                   f"WHERE t.topic = {t} AND {in_topic}) "
                   "SELECT 'trial' AS kind, c.nct_id AS id, x.brief_title AS title, c.field, c.old_value, "
                   "c.new_value, c.run_id FROM trial_changes c JOIN topic_trials tt ON tt.nct_id = c.nct_id "
                   "JOIN trials x ON x.nct_id = c.nct_id WHERE c.run_id IN last AND c.field != 'new' "
                   "AND c.run_id > coalesce(tt.live_run_id, 0) "
                   "UNION ALL SELECT 'new trial', x.nct_id, x.brief_title, 'new', NULL, x.overall_status, "
                   "tt.live_run_id FROM topic_trials tt JOIN trials x ON x.nct_id = tt.nct_id "
                   "WHERE tt.live_run_id IN last "
                   "UNION ALL SELECT CASE WHEN p.preprint THEN 'new preprint' ELSE 'new paper' END, p.paper_id, "
                   "p.title, 'new', NULL, p.design, pt.live_run_id FROM papers p "
                   f"JOIN ({paper_topics}) pt ON pt.paper_id = p.paper_id WHERE pt.live_run_id IN last "
                   f"AND NOT p.retracted AND {papers} ORDER BY 1, 2"},
    }


QUERIES = canned_queries("ketamine-ptsd")


# Datasette settings `litwatch serve` passes: no facet suggestions (Datasette would try every
# column of a table at each page view, some fifty queries: seconds on a large store); half a
# second for a facet (the default facets count an index: a million records take 0.1-0.3 s).
DATASETTE_SETTINGS = {"suggest_facets": "off", "facet_time_limit_ms": "500"}
# Tables this wide (articles, trials: abstracts and dozens of columns) show 25 rows a page, not
# 100: Datasette takes about a second to lay out 100 such rows, whatever the store's size.
WIDE, WIDE_PAGE = 30, 25


def datasette_metadata(db_path: str | Path, topic: str = "ketamine-ptsd") -> dict[str, Any]:
    """Datasette (0.65) metadata for a litwatch database: descriptions of every table and
    column, facets, sort orders, full-text search and canned queries (``topic``: the default
    topic of their :topic parameter, the brief's)."""
    tables: dict[str, Any] = {}
    options = dict(CORE_OPTIONS)
    for source in all_sources():
        options.update(source.table_options)
    whole = schema()
    for name, spec in whole.tables.items():
        tables[name] = {"description": spec.description, "columns": spec.docs, **options.get(name, {})}
        if len(spec.columns) > WIDE:
            tables[name].setdefault("size", WIDE_PAGE)
    for name in whole.fts:
        # The FTS index is keyed by rowid: the pmid itself for articles (an INTEGER PRIMARY
        # KEY), SQLite's own rowid for trials (keyed by a text NCT ID).
        (pk,) = whole.tables[name].pk_columns  # every indexed table has a one-column key
        integer_pk = whole.tables[name].types[pk] is int
        tables[name].update(fts_table=f"{name}_fts", fts_pk=pk if integer_pk else "rowid")
        for suffix in ("_fts", "_fts_config", "_fts_data", "_fts_docsize", "_fts_idx"):
            tables[f"{name}{suffix}"] = {"hidden": True}
    for name, view in whole.views.items():
        tables[name] = {"description": view.description, **options.get(name, {})}
    labels = in_words([s.label for s in all_sources()])
    return {
        "title": "litwatch: research on ketamine for PTSD and other watched topics",
        "description": f"Papers and trials of the watched topics from {labels}, normalized by "
                       "litwatch, with paper-trial links, study designs and trial change history.",
        "source": ", ".join(f"{s.label} ({s.service})" for s in all_sources()),
        "source_url": "https://github.com/litwatch/litwatch",
        "license": "; ".join(f"{s.label} data: {s.terms[0]}" for s in all_sources() if s.terms),
        "license_url": next((s.terms[1] for s in all_sources() if s.terms), ""),
        "databases": {Path(db_path).stem: {"tables": tables, "queries": canned_queries(topic)}},
    }


# litwatch's own tables frames() gives; each source names its own (Source.main_tables).
MAIN_TABLES = ("paper_trial_links", "runs")


def main_tables() -> tuple[str, ...]:
    """The tables :func:`frames` gives: each source's main ones, then litwatch's."""
    return tuple(name for s in all_sources()
                 for name in (s.main_tables or (s.family.table, s.family.topics))) + MAIN_TABLES


def frames(db: Any) -> dict[str, Any]:
    """The main tables (and views) as pandas DataFrames, for notebooks.

    :param db: a database path, an ``sqlite_utils.Database`` or an ``sqlite3.Connection``.
    """
    try:
        import pandas as pd
    except ImportError:
        raise LitwatchError("litwatch.frames() needs pandas: pip install 'litwatch[notebook]'") from None
    if isinstance(db, (str, Path)):
        conn = sqlite3.connect(db)
    else:
        conn = getattr(db, "conn", db)
    return {name: pd.read_sql_query(f"SELECT * FROM [{name}]", conn) for name in (*main_tables(), *schema().views)}
