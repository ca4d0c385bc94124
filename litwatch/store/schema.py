"""The whole schema in one place: litwatch's own tables (runs, reports, links), every
source's tables, the views for common questions and the full-text indexes, turned into SQL.

:func:`ensure_schema` creates whatever is missing (tables, columns, indexes, full-text
search with its triggers, views) and is safe to run on every open; the schema version and
data migrations live in :mod:`litwatch.store.db`.
"""

from __future__ import annotations

import sqlite3

from ..sources.ctgov.schema import FAMILY as TRIALS
from ..sources.ctgov.schema import TABLES as CTGOV_TABLES
from ..sources.pubmed.schema import FAMILY as ARTICLES
from ..sources.pubmed.schema import TABLES as PUBMED_TABLES
from .spec import SQL_TYPES, Family, TableSpec

CORE_TABLES: dict[str, TableSpec] = {
    "runs": TableSpec(
        {
            "id": (int, "run number (primary key)"),
            "topic": (str, "topic name (imports: the --topic given, if any)"),
            "source": (str, "pubmed or ctgov"),
            "kind": (str, "fetch, follow (linked records fetched by ID) or import"),
            "started_at": (str, "UTC start time, ISO 8601; incremental fetches start from the last successful one"),
            "finished_at": (str, "UTC end time"),
            "status": (str, "running, success, failed or interrupted"),
            "expected": (int, "records the source said it had (fetch) or read from the file (import)"),
            "received": (int, "records received and stored or compared"),
            "new": (int, "records stored for the first time"),
            "updated": (int, "records whose content changed (child rows replaced)"),
            "unchanged": (int, "records received identical to what was stored"),
            "deleted": (int, "records removed by a DeleteCitation"),
            "skipped": (int, "records not stored (PubMed book records), each logged as a warning"),
            "repeated": (int, "records the source sent more than once in the run (counted once in received)"),
            "query": (str, "the query sent (fetch)"),
            "params": (str, "JSON: mode, since, date windows and counts per search, file, format; never the API key"),
            "error": (str, "one-line error of a failed run"),
            "litwatch_version": (str, "version that ran"),
        },
        pk="id",
        description="One row per fetch or import: what was asked, what came back, how it ended."),
}
LINK_TABLES: dict[str, TableSpec] = {
    "article_trial_links": TableSpec(
        {
            "pmid": (int, "PubMed ID (the article may not be stored yet)"),
            "nct_id": (str, "ClinicalTrials.gov ID (the trial may not be stored yet)"),
            "source": (str, "pubmed_databank (the record's DataBank list), pubmed_text (an NCT ID written in "
                            "its title or abstract) or ctgov_reference (the trial's references)"),
            "reference_type": (str, "for ctgov_reference: RESULT, BACKGROUND or DERIVED"),
        },
        pk=("pmid", "nct_id", "source"),
        indexes=(("nct_id",),),
        description="Which papers report or cite which trials, one row per pair and evidence. No foreign keys "
                    "on purpose: a link stays valid while either side is not (yet) stored.",
        without_rowid=True),
    "reports": TableSpec(
        {
            "id": (int, "report number (primary key)"),
            "topic": (str, "topic reported"),
            "as_of": (str, "the state the report shows (end of its last run)"),
            "format": (str, "md, html or json"),
            "output": (str, "file written, if any"),
            "made_at": (str, "when the report was made (UTC)"),
        },
        pk="id",
        description="Reports made, so the next one can show what changed since (--since-last-report)."),
}
TABLES: dict[str, TableSpec] = {**CORE_TABLES, **PUBMED_TABLES, **LINK_TABLES, **CTGOV_TABLES}
FAMILIES: dict[str, Family] = {"articles": ARTICLES, "trials": TRIALS}

# Trials a paper reports: a RESULT reference, or a linked empirical study not retracted.
REPORTED_TRIALS_SQL = """
    SELECT l.nct_id FROM article_trial_links l LEFT JOIN articles a ON a.pmid = l.pmid
    WHERE l.reference_type = 'RESULT'
       OR (coalesce(a.retracted, 0) = 0 AND a.design IN ('randomized controlled trial',
           'non-randomized controlled trial', 'single-arm / open-label trial',
           'observational study', 'case report / case series'))"""
# Trials whose results are overdue: completed over a year ago, nothing posted, no paper
# reporting them (a RESULT reference, or a linked empirical study that is not retracted).
VIEWS = {
    "recruiting_trials": """
SELECT t.nct_id, t.brief_title, t.overall_status, t.phases, t.lead_sponsor, t.enrollment, t.enrollment_type,
       (SELECT group_concat(DISTINCT country) FROM trial_locations l WHERE l.nct_id = t.nct_id) AS countries,
       t.primary_completion_date, t.primary_completion_date_type, t.url
FROM trials t
WHERE t.overall_status IN ('RECRUITING', 'NOT_YET_RECRUITING', 'ENROLLING_BY_INVITATION')
ORDER BY t.primary_completion_date, t.nct_id""",
    "publications_by_year": """
SELECT a.pub_year, a.design, count(*) AS publications
FROM articles a WHERE NOT coalesce(a.retracted, 0)
GROUP BY a.pub_year, a.design ORDER BY a.pub_year, a.design""",
    "trial_publications": """
SELECT l.nct_id, t.brief_title AS trial_title, l.pmid, a.title AS article_title, a.pub_year, a.design,
       a.retracted, l.source, l.reference_type
FROM article_trial_links l
LEFT JOIN trials t ON t.nct_id = l.nct_id LEFT JOIN articles a ON a.pmid = l.pmid
ORDER BY l.nct_id, l.pmid, l.source""",
    "unreported_trials": """
SELECT t.nct_id, t.brief_title, t.lead_sponsor, t.lead_sponsor_class, t.enrollment,
       coalesce(t.primary_completion_date, t.completion_date) AS completed, t.url
FROM trials t
WHERE t.overall_status = 'COMPLETED'
  AND coalesce(t.primary_completion_date, t.completion_date) < date('now', '-12 months')
  AND NOT coalesce(t.has_results, 0)
  AND t.nct_id NOT IN (""" + REPORTED_TRIALS_SQL + """)
ORDER BY completed, t.nct_id""",
}
# Full-text indexes: table -> columns (FTS5, porter stemming, external content).
FTS = {family.table: list(family.fts) for family in FAMILIES.values() if family.fts}


def create_table_sql(name: str, spec: TableSpec) -> str:
    """CREATE TABLE for ``spec``: typed columns, primary key, foreign keys."""
    integer_pk = isinstance(spec.pk, str) and spec.types[spec.pk] is int
    cols = []
    for column, col_type in spec.types.items():
        line = f"[{column}] {SQL_TYPES[col_type]}"
        if integer_pk and column == spec.pk:
            line += " PRIMARY KEY"
        cols.append(line)
    if not integer_pk:
        cols.append("PRIMARY KEY (" + ", ".join(f"[{c}]" for c in spec.pk_columns) + ")")
    for column, table, other in spec.foreign_keys:
        cols.append(f"FOREIGN KEY ([{column}]) REFERENCES [{table}]([{other}])")
    suffix = " WITHOUT ROWID" if spec.without_rowid and not integer_pk else ""
    return f"CREATE TABLE IF NOT EXISTS [{name}] (\n   " + ",\n   ".join(cols) + f"\n){suffix}"


def index_sql(name: str, spec: TableSpec) -> list[str]:
    """Indexes declared on a table, plus one on every foreign key its primary key does not lead."""
    wanted = list(spec.indexes)
    for column, _, _ in spec.foreign_keys:
        if spec.pk_columns[0] != column and (column,) not in wanted:
            wanted.append((column,))
    return [f"CREATE INDEX IF NOT EXISTS [idx_{name}_{'_'.join(cols)}] ON [{name}] ("
            + ", ".join(f"[{c}]" for c in cols) + ")" for cols in wanted]


def fts_sql(table: str, columns: list[str]) -> list[str]:
    """An external-content FTS5 index over ``columns`` of ``table`` and the triggers that keep
    it current. The update trigger fires only when an indexed column is written, so touching
    a record (e.g. marking it seen by a run) costs the index nothing."""
    cols = ", ".join(f"[{c}]" for c in columns)
    new = ", ".join(f"new.[{c}]" for c in columns)
    old = ", ".join(f"old.[{c}]" for c in columns)
    fts = f"{table}_fts"
    delete = f"INSERT INTO [{fts}] ([{fts}], rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    insert = f"INSERT INTO [{fts}] (rowid, {cols}) VALUES (new.rowid, {new});"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS [{fts}] USING FTS5 ({cols}, tokenize='porter', content=[{table}])",
        f"CREATE TRIGGER IF NOT EXISTS [{table}_ai] AFTER INSERT ON [{table}] BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS [{table}_ad] AFTER DELETE ON [{table}] BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS [{table}_au] AFTER UPDATE OF {', '.join(columns)} ON [{table}] "
        f"BEGIN {delete} {insert} END",
    ]


def columns_of(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create missing tables, columns, indexes, FTS tables and views. Idempotent; runs in
    the caller's transaction."""
    for name, spec in TABLES.items():
        existing = columns_of(conn, name)
        if not existing:
            conn.execute(create_table_sql(name, spec))
        else:
            for column, col_type in spec.types.items():
                if column not in existing:
                    conn.execute(f"ALTER TABLE [{name}] ADD COLUMN [{column}] {SQL_TYPES[col_type]}")
        for sql in index_sql(name, spec):
            conn.execute(sql)
    for table, columns in FTS.items():
        fresh = not columns_of(conn, f"{table}_fts")
        for sql in fts_sql(table, columns):
            conn.execute(sql)
        if fresh:
            # Merge FTS segments less eagerly: bulk imports run about a quarter faster.
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts], rank) VALUES ('automerge', 16)")
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('rebuild')")
    for name, sql in VIEWS.items():
        conn.execute(f"DROP VIEW IF EXISTS [{name}]")
        conn.execute(f"CREATE VIEW [{name}] AS {sql.strip()}")
