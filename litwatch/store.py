"""The SQLite store: schema, idempotent upserts, deletions and the run log.

The schema is declared once, in :data:`TABLES`; :func:`ensure_schema` creates what is
missing (tables, columns, indexes, full-text search) and is safe to call on every open.
Writes go through prepared ``executemany`` statements built from the same declaration,
inside one transaction per batch, so a batch is stored whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Sequence

import sqlite_utils

from . import __version__


@dataclass(frozen=True)
class TableSpec:
    """A table's columns (name -> type), primary key, foreign keys and extra indexes."""

    columns: dict[str, type]
    pk: str | tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    description: str = ""


def _child(columns: dict[str, type], pk: tuple[str, ...], description: str,
           indexes: tuple[tuple[str, ...], ...] = ()) -> TableSpec:
    return TableSpec({"pmid": int, **columns}, pk, (("pmid", "articles", "pmid"),), indexes, description)


TABLES: dict[str, TableSpec] = {
    "runs": TableSpec(
        {"id": int, "topic": str, "source": str, "kind": str, "started_at": str,
         "finished_at": str, "status": str, "expected": int, "received": int, "new": int,
         "updated": int, "unchanged": int, "deleted": int, "skipped": int, "query": str,
         "params": str, "error": str, "litwatch_version": str},
        "id", description="One row per fetch or import: what was asked, what came back, how it ended."),
    "articles": TableSpec(
        {"pmid": int, "title": str, "abstract": str, "abstract_copyright": str, "journal": str,
         "journal_iso": str, "issn": str, "issn_linking": str, "nlm_unique_id": str,
         "journal_country": str, "volume": str, "issue": str, "pages": str, "pub_date": str,
         "pub_year": int, "medline_date": str, "article_date": str, "doi": str, "pmc_id": str,
         "pii": str, "language": str, "languages": str, "publication_status": str,
         "medline_status": str, "date_completed": str, "date_revised": str, "entrez_date": str,
         "pubmed_date": str, "record_hash": str, "first_run_id": int, "changed_run_id": int},
        "pmid", (("first_run_id", "runs", "id"), ("changed_run_id", "runs", "id")),
        (("pub_year",), ("doi",)), "One row per PubMed record."),
    "article_authors": _child(
        {"position": int, "last_name": str, "fore_name": str, "initials": str, "suffix": str,
         "collective_name": str, "affiliation": str, "affiliations": str, "orcid": str,
         "equal_contrib": int}, ("pmid", "position"), "Authors in byline order.", (("orcid",),)),
    "article_mesh": _child(
        {"position": int, "descriptor_ui": str, "descriptor_name": str, "major_topic": int,
         "qualifiers": str}, ("pmid", "position"), "MeSH descriptors with their qualifiers."),
    "article_publication_types": _child(
        {"ui": str, "name": str}, ("pmid", "name"), "Publication types (Journal Article, RCT...)."),
    "article_keywords": _child(
        {"keyword": str, "owner": str, "major_topic": int}, ("pmid", "keyword"), "Author and NLM keywords."),
    "article_chemicals": _child(
        {"registry_number": str, "ui": str, "name": str}, ("pmid", "name"), "Substances indexed for the record."),
    "article_grants": _child(
        {"position": int, "grant_id": str, "acronym": str, "agency": str, "country": str},
        ("pmid", "position"), "Funding grants."),
    "article_databanks": _child(
        {"databank": str, "accession": str}, ("pmid", "databank", "accession"),
        "DataBank accession numbers (e.g. ClinicalTrials.gov NCT IDs).", (("accession",),)),
    "article_ids": _child(
        {"id_type": str, "value": str}, ("pmid", "id_type", "value"),
        "Identifiers of the record itself (pubmed, doi, pmc, pii, mid...).", (("value",),)),
    "article_comments": _child(
        {"position": int, "ref_type": str, "ref_pmid": int, "ref_source": str, "note": str},
        ("pmid", "position"), "Comments and corrections (RetractionIn, ErratumIn, CommentOn...).",
        (("ref_pmid",), ("ref_type",))),
    "article_history": _child(
        {"status": str, "date": str}, ("pmid", "status"),
        "Publication history dates (received, accepted, entrez, pubmed...)."),
    "article_topics": _child(
        {"topic": str, "first_run_id": int}, ("pmid", "topic"),
        "Which topic's query or import brought each record in.", (("topic",),)),
}
ARTICLE_CHILDREN = [name for name in TABLES if name.startswith("article_") and name != "article_topics"]
FTS = {"articles": ["title", "abstract"]}


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) a litwatch database with its schema in place."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA temp_store=MEMORY")
    ensure_schema(db)
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns, indexes and FTS tables. Idempotent."""
    for name, spec in TABLES.items():
        table = db.table(name)
        if not table.exists():
            table.create(spec.columns, pk=spec.pk, foreign_keys=list(spec.foreign_keys))
        else:
            missing = {c: t for c, t in spec.columns.items() if c not in table.columns_dict}
            for column, col_type in missing.items():
                table.add_column(column, col_type)
        for cols in spec.indexes:
            table.create_index(cols, if_not_exists=True)
        if isinstance(spec.pk, tuple) and len(spec.pk) > 1 and spec.pk[0] != spec.foreign_keys[0][0]:
            table.create_index([spec.foreign_keys[0][0]], if_not_exists=True)
    for name, columns in FTS.items():
        if not db.table(f"{name}_fts").exists():
            db.table(name).enable_fts(columns, fts_version="FTS5", create_triggers=True,
                                       tokenize="porter")
            # Merge FTS segments less eagerly: bulk imports run about a quarter faster.
            db.execute(f"INSERT INTO [{name}_fts] ([{name}_fts], rank) VALUES ('automerge', 16)")


def now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ runs ------

def start_run(db: sqlite_utils.Database, *, topic: str | None, source: str, kind: str,
              query: str | None = None, params: dict[str, Any] | None = None) -> int:
    """Record a run as started and return its id. ``params`` must not hold secrets."""
    with db.conn:
        cursor = db.conn.execute(
            "INSERT INTO runs (topic, source, kind, started_at, status, query, params, "
            "litwatch_version, expected, received, new, updated, unchanged, deleted, skipped) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, NULL, 0, 0, 0, 0, 0, 0)",
            (topic, source, kind, now(), query, json.dumps(params or {}, sort_keys=True), __version__))
    return int(cursor.lastrowid)


def finish_run(db: sqlite_utils.Database, run_id: int, status: str, counts: "Counts",
               error: str | None = None, params: dict[str, Any] | None = None) -> None:
    """Close a run with its final status, counts and (for failures) the error message."""
    values = {"finished_at": now(), "status": status, "error": error, **counts.as_row()}
    if params is not None:
        values["params"] = json.dumps(params, sort_keys=True)
    with db.conn:
        db.table("runs").update(run_id, values)


def last_success(db: sqlite_utils.Database, topic: str, source: str) -> str | None:
    """``started_at`` of the topic's last successful fetch from ``source``, if any."""
    row = db.execute(
        "SELECT max(started_at) FROM runs WHERE topic = ? AND source = ? AND kind = 'fetch' "
        "AND status = 'success'", [topic, source]).fetchone()
    return row[0] if row else None


@dataclass
class Counts:
    """Tally of what a run did to the store."""

    expected: int | None = None
    received: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0

    def as_row(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def add(self, other: "Counts") -> None:
        for key in ("received", "new", "updated", "unchanged", "deleted", "skipped"):
            setattr(self, key, getattr(self, key) + getattr(other, key))


# -------------------------------------------------------------- articles ------

# Columns litwatch adds to a parsed article: not part of its content fingerprint.
ARTICLE_META = ("record_hash", "first_run_id", "changed_run_id")
_ARTICLE_CONTENT = [c for c in TABLES["articles"].columns if c not in ARTICLE_META]
_ARTICLE_TUPLE = itemgetter(*_ARTICLE_CONTENT)
_CHILD_TUPLE = {name: itemgetter(*TABLES[name].columns) for name in ARTICLE_CHILDREN}
STAGE_TABLES = ["articles", *ARTICLE_CHILDREN]

Prepared = tuple[tuple, dict[str, list[tuple]]]


def prepare_records(records: Iterable[dict[str, Any]]) -> list[Prepared]:
    """Rows of parsed records as tuples in table column order, fingerprinted.

    The fingerprint (``record_hash``) covers every value litwatch stores for a record, so
    a revised record is told from an unchanged one. A later copy of a PMID wins.
    Pure and picklable: import workers run it in other processes.
    """
    out: dict[int, Prepared] = {}
    for rec in records:
        article = _ARTICLE_TUPLE(rec["articles"])
        children = {name: [get(r) for r in rec[name]] for name, get in _CHILD_TUPLE.items()}
        digest = hashlib.sha1(repr((article, children)).encode()).hexdigest()
        out[article[0]] = (article + (digest,), children)
    return list(out.values())


def create_stage(conn: sqlite3.Connection, schema: str) -> None:
    """Create (or empty) unindexed staging copies of the article tables in ``schema``.

    They are named ``stage_<table>``: a temp table named like a main one would shadow it.
    """
    for name in STAGE_TABLES:
        cols = _ARTICLE_CONTENT + ["record_hash"] if name == "articles" else list(TABLES[name].columns)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.[stage_{name}] ({', '.join(cols)})")
        conn.execute(f"DELETE FROM {schema}.[stage_{name}]")


def write_stage(conn: sqlite3.Connection, schema: str, prepared: list[Prepared]) -> None:
    """Bulk-insert prepared rows into the staging tables of ``schema``."""
    width = len(_ARTICLE_CONTENT) + 1
    conn.executemany(f"INSERT INTO {schema}.stage_articles VALUES ({', '.join('?' * width)})",
                     [article for article, _ in prepared])
    for name in ARTICLE_CHILDREN:
        rows = [row for _, children in prepared for row in children[name]]
        if rows:
            marks = ", ".join("?" * len(TABLES[name].columns))
            conn.executemany(f"INSERT INTO {schema}.[stage_{name}] VALUES ({marks})", rows)


def merge_stage(conn: sqlite3.Connection, schema: str, run_id: int | None,
                topic: str | None = None) -> Counts:
    """Move staged records into the store in one transaction and count what changed.

    Unchanged records (same fingerprint) are left alone; revised ones replace their
    child rows; ``first_run_id`` keeps the run that first stored a record.
    """
    s = schema
    received = conn.execute(f"SELECT count(*) FROM {s}.stage_articles").fetchone()[0]
    counts = Counts(received=received)
    if not received:
        return counts
    with conn:
        if topic:
            conn.execute(f"INSERT OR IGNORE INTO main.article_topics (pmid, topic, first_run_id) "
                         f"SELECT pmid, ?, ? FROM {s}.stage_articles", (topic, run_id))
        conn.execute(f"DELETE FROM {s}.stage_articles WHERE pmid IN (SELECT x.pmid FROM {s}.stage_articles x "
                     f"JOIN main.articles a ON a.pmid = x.pmid AND a.record_hash = x.record_hash)")
        todo = conn.execute(f"SELECT count(*) FROM {s}.stage_articles").fetchone()[0]
        counts.updated = conn.execute(
            f"SELECT count(*) FROM {s}.stage_articles WHERE pmid IN (SELECT pmid FROM main.articles)").fetchone()[0]
        counts.new, counts.unchanged = todo - counts.updated, received - todo
        if not todo:
            return counts
        if counts.updated:
            for name in ARTICLE_CHILDREN:
                conn.execute(f"DELETE FROM main.[{name}] WHERE pmid IN (SELECT pmid FROM {s}.stage_articles)")
        cols = ", ".join(_ARTICLE_CONTENT + ["record_hash"])
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ARTICLE_CONTENT[1:] + ["record_hash", "changed_run_id"])
        # "WHERE true" lets SQLite parse ON CONFLICT after a SELECT.
        conn.execute(f"INSERT INTO main.articles ({cols}, first_run_id, changed_run_id) "
                     f"SELECT {cols}, ?, ? FROM {s}.stage_articles WHERE true "
                     f"ON CONFLICT (pmid) DO UPDATE SET {updates}", (run_id, run_id))
        for name in ARTICLE_CHILDREN:
            child_cols = ", ".join(TABLES[name].columns)
            conn.execute(f"INSERT OR REPLACE INTO main.[{name}] ({child_cols}) SELECT {child_cols} "
                         f"FROM {s}.[stage_{name}] WHERE pmid IN (SELECT pmid FROM {s}.stage_articles)")
    return counts


def save_articles(db: sqlite_utils.Database, records: list[dict[str, Any]], run_id: int | None,
                  topic: str | None = None) -> Counts:
    """Upsert parsed records in one transaction (staged in SQLite's temp schema).

    Returns counts of new, updated and unchanged records; duplicates of a PMID within
    ``records`` count as unchanged.
    """
    if not records:
        return Counts()
    prepared = prepare_records(records)
    conn = db.conn
    with conn:
        create_stage(conn, "temp")
        write_stage(conn, "temp", prepared)
    counts = merge_stage(conn, "temp", run_id, topic)
    extra = len(records) - len(prepared)
    counts.received += extra
    counts.unchanged += extra
    return counts


def delete_articles(db: sqlite_utils.Database, pmids: Sequence[int]) -> int:
    """Delete records (a PubMed ``DeleteCitation``) and their child rows; return how many existed."""
    if not pmids:
        return 0
    conn = db.conn
    with conn:
        present = list(_existing_hashes(conn, list(pmids)))
        _delete_children(conn, present)
        conn.executemany("DELETE FROM article_topics WHERE pmid = ?", [(p,) for p in present])
        conn.executemany("DELETE FROM articles WHERE pmid = ?", [(p,) for p in present])
    return len(present)


def _existing_hashes(conn: sqlite3.Connection, pmids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for i in range(0, len(pmids), 900):
        chunk = pmids[i:i + 900]
        marks = ",".join("?" * len(chunk))
        found.update(conn.execute(
            f"SELECT pmid, record_hash FROM articles WHERE pmid IN ({marks})", chunk).fetchall())
    return found


def _delete_children(conn: sqlite3.Connection, pmids: list[int]) -> None:
    params = [(p,) for p in pmids]
    for name in ARTICLE_CHILDREN:
        conn.executemany(f"DELETE FROM [{name}] WHERE pmid = ?", params)
