"""The schema as SQL: litwatch's own tables (runs, links, reports...), and whatever tables,
full-text indexes and views it is handed (each source's, the cross-source views), in one
:class:`Schema` that :func:`ensure_schema` creates.

The store knows no source: the sources declare their tables (:class:`~litwatch.store.spec.Family`)
and :mod:`litwatch.catalog` composes them with the views into the schema a database is opened
with. :func:`ensure_schema` creates whatever is missing (tables, columns, indexes, full-text
search with its triggers, views) and is safe to run on every open; the schema version and
data migrations live in :mod:`litwatch.store.db`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Iterable

from .spec import SQL_TYPES, Family, TableSpec, View

CORE_TABLES: dict[str, TableSpec] = {
    "runs": TableSpec(
        {
            "id": (int, "run number (primary key)"),
            "topic": (str, "topic name (imports: the --topic given, if any)"),
            "source": (str, "the source's name, as --source takes it (pubmed, ctgov, europepmc...)"),
            "kind": (str, "fetch, follow (linked records fetched by ID), import, reparse or reconcile (the "
                          "search's full ID list compared with the store)"),
            "started_at": (str, "UTC start time, ISO 8601; incremental fetches start from the last successful one"),
            "finished_at": (str, "UTC end time"),
            "status": (str, "running, success, failed or interrupted"),
            "expected": (int, "records the source said the search holds (fetch, reconcile: PubMed's Count, "
                              "ClinicalTrials.gov's totalCount, Europe PMC's hitCount; empty for PubMed's incremental "
                              "fetch, whose added and revised searches overlap: their Counts are in params) or read "
                              "from the file (import)"),
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
            "session": (int, "the runs of one command or library call (litwatch update, fetch, import...) share "
                             "it: the id of their first run. The report's 'what changed' shows what the last one "
                             "brought"),
        },
        pk="id", indexes=(("session",),),
        description="One row per fetch or import: what was asked, what came back, how it ended."),
    "monitoring_gaps": TableSpec(
        {
            "id": (int, "gap number (primary key)"),
            "source": (str, "the source not searched (its name, as in runs)"),
            "topic": (str, "the topic not searched"),
            "window_from": (str, "first day the failed run was meant to cover (YYYY-MM-DD); empty when it was "
                                 "the topic's first fetch (everything)"),
            "window_to": (str, "the day the failed run started: what was added or revised up to then is unseen"),
            "opened_run_id": (int, "the fetch that failed, was interrupted or could not reach the service "
                                   "(foreign key to runs)"),
            "closed_run_id": (int, "the successful fetch whose window covered the gap (empty while it is open)"),
            "reason": (str, "why the run did not finish: its one-line error"),
        },
        pk="id", foreign_keys=(("opened_run_id", "runs", "id"), ("closed_run_id", "runs", "id")),
        indexes=(("source", "topic"),),
        description="Windows a topic's search of a source did not cover because a fetch failed; the next "
                    "successful fetch starts early enough to cover them and closes them."),
    "left_search": TableSpec(
        {
            "source": (str, "the source whose search no longer lists the record"),
            "topic": (str, "the topic whose query it left"),
            "record_id": (str, "the record as events name it: PMID:<pmid>, an NCT ID, a Europe PMC ID"),
            "record_key": (str, "the record's key in its source's table (pmid, nct_id, epmc_id), as text"),
            "title": (str, "its title when it left"),
            "url": (str, "its page at the source"),
            "left_run_id": (int, "the reconcile run that found it gone (foreign key to runs)"),
            "returned_run_id": (int, "a later run that found it listed again (empty while it is out)"),
        },
        pk=("source", "topic", "record_key"), foreign_keys=(("left_run_id", "runs", "id"),),
        description="Records a topic's query brought in that the service's full ID list no longer holds "
                    "(`litwatch reconcile`): kept, flagged here, and told as an event.",
        without_rowid=True),
    "raw_blocks": TableSpec(
        {
            "id": (int, "block number (primary key)"),
            "codec": (str, "compression of data: zstd"),
            "refs": (int, "how many stored records point into the block; it is deleted when none does"),
            "data": (bytes, "records' XML as received, one after the other, compressed together"),
        },
        pk="id",
        description="Records as their source sent them (the PubMed records' XML), so `litwatch reparse` can rebuild "
                    "every table without the network; records point into blocks (articles.raw_block)."),
}
LINK_TABLES: dict[str, TableSpec] = {
    "paper_trial_links": TableSpec(
        {
            "paper_id": (str, "the paper: PMID:<pmid> for any paper with a PubMed ID, else its Europe PMC ID "
                              "(PPR:PPR123456 for a preprint); the paper may not be stored yet"),
            "nct_id": (str, "ClinicalTrials.gov ID (the trial may not be stored yet)"),
            "source": (str, "what states the link, named by the source that wrote it: e.g. pubmed_databank (the "
                            "PubMed record's DataBank list), pubmed_text (an NCT ID written in its title or "
                            "abstract), ctgov_reference (the trial's references), europepmc_text (an NCT ID in the "
                            "Europe PMC record's title or abstract)"),
            "reference_type": (str, "for ctgov_reference: RESULT, BACKGROUND or DERIVED"),
            "pmid": (int, "PubMed ID of the paper, when it has one"),
        },
        pk=("paper_id", "nct_id", "source"),
        indexes=(("nct_id",), ("pmid",)),
        description="Which papers report or cite which trials, one row per pair and evidence. No foreign keys "
                    "on purpose: a link stays valid while either side is not (yet) stored.",
        without_rowid=True),
    "settings": TableSpec(
        {
            "key": (str, "what is remembered (primary key): evidence (whether the evidence layer is current), "
                         "topic:<name> (the concepts the topic's relevance was computed with)"),
            "value": (str, "its value"),
        },
        pk="key",
        description="litwatch's own state, kept with the data it describes."),
    "absent_ids": TableSpec(
        {
            "source": (str, "the source asked (its name, as in runs)"),
            "id": (str, "the ID a stored link points at (a PMID, an NCT ID, a Europe PMC ID)"),
            "first_absent": (str, "when the source first answered without it (UTC)"),
            "last_tried": (str, "when it was last asked for (UTC); it is asked again 30 days later"),
            "tries": (int, "how many times it was asked for and not served"),
        },
        pk=("source", "id"),
        description="Linked records the source said it does not have (withdrawn, never public, a typo in a "
                    "paper's text), so following links does not ask for them on every run. Deleted when the record "
                    "arrives.",
        without_rowid=True),
    "link_history": TableSpec(
        {
            "paper_id": (str, "the paper (as in paper_trial_links)"),
            "nct_id": (str, "the trial"),
            "first_run_id": (int, "the last run before the evidence refresh that first saw the link (empty for links "
                                  "that existed when this table was made)"),
        },
        pk=("paper_id", "nct_id"),
        description="When each paper-trial link first appeared (paper_trial_links is rewritten as records change; "
                    "this table only grows): the 'a paper about this trial appeared' events.",
        without_rowid=True),
    "paper_versions": TableSpec(
        {
            "version_id": (str, "an earlier version of a paper: a preprint (PPR:PPR123456), or an earlier version of a "
                                "preprint (primary key)"),
            "paper_id": (str, "the paper it is a version of (as in the papers view): its journal version, or the "
                              "preprint's newest version"),
            "how": (str, "what says so: europepmc (Europe PMC's 'Preprint of' / 'Preprint in' relation), doi_version "
                         "(the same preprint DOI with another version suffix) or title_author (the same title and "
                         "first author)"),
        },
        pk="version_id", indexes=(("paper_id",),),
        description="Preprints and their published versions, and versions of one preprint: shown as one paper with "
                    "its history (the papers view lists the paper once), recomputed by each evidence refresh.",
        without_rowid=True),
    "notifications": TableSpec(
        {
            "event_id": (str, "the event sent (see the events view)"),
            "channel": (str, "where it went: email:<recipient list>"),
            "sent_at": (str, "when it was sent (UTC); empty for events marked seen without sending (the first "
                             "digest's backlog) and while their digest is being sent"),
            "message_id": (str, "the digest that carried it (see digests); empty for events marked seen"),
        },
        pk=("event_id", "channel"),
        description="Events already sent by `litwatch notify` (or being sent, or perhaps sent), so none is sent twice.",
        without_rowid=True),
    "digests": TableSpec(
        {
            "message_id": (str, "the e-mail's Message-ID (primary key)"),
            "channel": (str, "where it went: email:<recipient list>, as in notifications"),
            "events": (int, "events it carries (their notifications rows name it)"),
            "prepared_at": (str, "when it was recorded, before it was handed to the mail server (UTC)"),
            "sent_at": (str, "when the server accepted it (UTC)"),
            "status": (str, "sending (handed over, no answer recorded yet), sent, refused (the server refused it "
                            "before taking it: its events go out with the next digest) or unconfirmed (the "
                            "connection ended after it was handed over, or litwatch stopped before recording the "
                            "answer: it may have arrived, and its events are not sent again)"),
            "detail": (str, "the recipients the server refused, or why the digest was refused or is unconfirmed"),
        },
        pk="message_id",
        description="Every digest `litwatch notify` sent or tried to send, recorded before it is handed to the mail "
                    "server, so that a send cut off at any point is never repeated: delivery is at most once."),
    "reports": TableSpec(
        {
            "id": (int, "report number (primary key)"),
            "topic": (str, "topic reported"),
            "as_of": (str, "the state the report shows (end of its last run)"),
            "format": (str, "md, html or json"),
            "output": (str, "file written, if any"),
            "made_at": (str, "when the report was made (UTC)"),
            "last_run_id": (int, "the newest run the report rests on; the next report's changes start after it"),
        },
        pk="id",
        description="Reports made, so the next one can show what changed since (--since-last-report)."),
}


@dataclass(frozen=True)
class Schema:
    """A whole database: every table (litwatch's own and the families'), the record families
    (each a source's), and the views, by name."""

    tables: dict[str, TableSpec]
    families: tuple[Family, ...] = ()
    views: dict[str, View] = field(default_factory=dict)

    @property
    def fts(self) -> dict[str, list[str]]:
        """Full-text indexes: table -> columns (FTS5, porter stemming, external content)."""
        return {family.table: list(family.fts) for family in self.families if family.fts}


def compose(families: Iterable[Family], views: dict[str, View] | None = None) -> Schema:
    """The schema of litwatch's own tables, the tables of ``families`` and ``views``."""
    families = tuple(families)
    tables: dict[str, TableSpec] = dict(CORE_TABLES)
    for family in families:
        clash = set(family.tables) & set(tables)
        if clash:
            raise ValueError(f"tables {sorted(clash)} of {family.table} are declared twice")
        tables.update(family.tables)
    tables.update(LINK_TABLES)
    return Schema(tables, families, dict(views or {}))


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
    """Indexes declared on a table, plus one on every foreign key its primary key does not lead,
    and one of the sample's records."""
    wanted = list(spec.indexes)
    for column, _, _ in spec.foreign_keys:
        if spec.pk_columns[0] != column and (column,) not in wanted:
            wanted.append((column,))
    out = [f"CREATE INDEX IF NOT EXISTS [idx_{name}_{'_'.join(cols)}] ON [{name}] ("
           + ", ".join(f"[{c}]" for c in cols) + ")" for cols in wanted]
    if "origin" in spec.columns:
        # Whether records of the bundled sample remain (the report asks) without reading every
        # record: this index holds only those, so writing other records costs nothing.
        out.append(f"CREATE INDEX IF NOT EXISTS [idx_{name}_sample] ON [{name}] (origin) WHERE origin = 'sample'")
    return out


def fts_sql(table: str, columns: list[str]) -> list[str]:
    """An external-content FTS5 index over ``columns`` of ``table`` and the triggers that keep
    it current when rows are rewritten or deleted. The update trigger fires only when an
    indexed column is written, so touching a record (e.g. marking it seen by a run) costs the
    index nothing. New rows are indexed by the writer, a batch at a time
    (:func:`litwatch.store.writes.save`): a trigger per inserted row cost three times more."""
    cols = ", ".join(f"[{c}]" for c in columns)
    new = ", ".join(f"new.[{c}]" for c in columns)
    old = ", ".join(f"old.[{c}]" for c in columns)
    fts = f"{table}_fts"
    delete = f"INSERT INTO [{fts}] ([{fts}], rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    insert = f"INSERT INTO [{fts}] (rowid, {cols}) VALUES (new.rowid, {new});"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS [{fts}] USING FTS5 ({cols}, tokenize='porter', content=[{table}])",
        f"CREATE TRIGGER IF NOT EXISTS [{table}_ad] AFTER DELETE ON [{table}] BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS [{table}_au] AFTER UPDATE OF {', '.join(columns)} ON [{table}] "
        f"BEGIN {delete} {insert} END",
    ]


def rebuild_table(conn: sqlite3.Connection, name: str, spec: TableSpec) -> None:
    """Recreate a table with its declared keys and storage, keeping its rows (for a change
    ALTER TABLE cannot make). A ``position`` column new to the key is numbered in row order."""
    existing = columns_of(conn, name)
    if not existing:
        return
    new = f"{name}__rebuilt"
    conn.execute(create_table_sql(new, spec))
    keep = [c for c in spec.names if c in existing]
    cols = ", ".join(f"[{c}]" for c in keep)
    select = cols
    key = spec.pk_columns[0]
    if "position" in spec.pk_columns and conn.execute(f"SELECT count(*) FROM [{name}] WHERE position IS NULL"
                                                       if "position" in existing else "SELECT 1").fetchone()[0]:
        keep_no_pos = [c for c in keep if c != "position"]
        cols = ", ".join(f"[{c}]" for c in keep_no_pos) + ", [position]"
        select = ", ".join(f"[{c}]" for c in keep_no_pos) + f", row_number() OVER (PARTITION BY [{key}] ORDER BY rowid)"
    conn.execute(f"INSERT OR IGNORE INTO [{new}] ({cols}) SELECT {select} FROM [{name}]")
    conn.execute(f"DROP TABLE [{name}]")
    conn.execute(f"ALTER TABLE [{new}] RENAME TO [{name}]")
    for sql in index_sql(name, spec):
        conn.execute(sql)


def columns_of(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]


def ensure_schema(conn: sqlite3.Connection, schema: Schema) -> None:
    """Create missing tables, columns, indexes, FTS tables and views. Idempotent; runs in
    the caller's transaction."""
    for name, spec in schema.tables.items():
        existing = columns_of(conn, name)
        if not existing:
            conn.execute(create_table_sql(name, spec))
        else:
            for column, col_type in spec.types.items():
                if column not in existing:
                    conn.execute(f"ALTER TABLE [{name}] ADD COLUMN [{column}] {SQL_TYPES[col_type]}")
        for sql in index_sql(name, spec):
            conn.execute(sql)
    for table, columns in schema.fts.items():
        fresh = not columns_of(conn, f"{table}_fts")
        for sql in fts_sql(table, columns):
            conn.execute(sql)
        if fresh:
            # Merge FTS segments less eagerly: bulk imports run about a quarter faster.
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts], rank) VALUES ('automerge', 16)")
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('rebuild')")
    create_views(conn, schema)


def create_views(conn: sqlite3.Connection, schema: Schema) -> None:
    """(Re)create the views for common questions."""
    for name, view in schema.views.items():
        conn.execute(f"DROP VIEW IF EXISTS [{name}]")
        conn.execute(f"CREATE VIEW [{name}] AS {view.sql.strip()}")
