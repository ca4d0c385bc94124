"""Exports: any table, view or read-only query to CSV or JSON, and the papers to cite, as the
paper dicts :mod:`litwatch.citations` turns into RIS and BibTeX for reference managers
(Zotero, EndNote, Mendeley, JabRef...)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from typing import Any, Iterable

from .labels import readable_rows
from .errors import LitwatchError, storage_fault
from .store.db import db_path, query, table_names, view_names

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# What a query may do: read. VACUUM INTO, ATTACH, pragmas that write and every write are refused
# even though the connection is read-only (VACUUM INTO writes a copy of the database anywhere).
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_REFUSED_FUNCTIONS = {"load_extension", "readfile", "writefile", "fts3_tokenizer", "edit"}
MAX_SECONDS = 60.0
MAX_ROWS = 1_000_000


def _authorize(action: int, arg1: str | None, arg2: str | None, db_name: str | None, source: str | None) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in (
            "table_info", "table_xinfo", "index_list", "index_info", "foreign_key_list"):
        return sqlite3.SQLITE_OK  # reading the schema, as `pragma table_info(x)` asks
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def rows(db: sqlite3.Connection, table: str | None = None, sql: str | None = None,
         params: dict[str, Any] | None = None, *, max_seconds: float = MAX_SECONDS,
         max_rows: int = MAX_ROWS) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a table or view, or of a read-only SQL query.

    Table names are checked against the database. Queries run on a read-only connection
    that allows reading only (no ATTACH, VACUUM INTO, writing pragma or extension), stopped
    after ``max_seconds`` and refused beyond ``max_rows``, so an export can never change or
    copy the data elsewhere, nor run forever.
    """
    if table:
        if not _NAME.match(table) or table not in table_names(db) + view_names(db):
            raise LitwatchError(f"no table or view named {table!r} (see: litwatch export --list)")
        sql = f"SELECT * FROM [{table}]"
    if sql is None:
        raise LitwatchError("nothing to export: name a table or give a query")
    path = db_path(db)
    deadline = time.monotonic() + max_seconds
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            conn.set_authorizer(_authorize)
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            cursor = conn.execute(sql, params or {})
            if cursor.description is None:
                raise LitwatchError("the query returns no rows (only SELECT queries can be exported)")
            data = cursor.fetchmany(max_rows + 1)
            if len(data) > max_rows:
                raise LitwatchError(f"the query returns more than {max_rows:,} rows; narrow it (LIMIT, WHERE) or "
                                    f"export a table")
            return [d[0] for d in cursor.description], data
        finally:
            conn.close()
    except sqlite3.Error as e:
        if str(e) == "interrupted":
            raise LitwatchError(f"the query ran longer than {max_seconds:g} s and was stopped") from None
        if "not authorized" in str(e) or "authorization denied" in str(e):
            raise LitwatchError("the query does more than read (ATTACH, VACUUM, PRAGMA, writes and extensions "
                                "are refused)") from None
        fault = storage_fault(e)
        if fault is not None:
            raise fault from None
        raise LitwatchError(f"query failed: {e}") from None


def to_csv(columns: list[str], data: Iterable[tuple]) -> str:
    """CSV for people (spreadsheets): registry codes as their labels ("Active, not
    recruiting", "Phase 2/3"); the JSON export keeps the codes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(readable_rows(columns, data))
    return buffer.getvalue()


def to_json(columns: list[str], data: Iterable[tuple]) -> str:
    return json.dumps([dict(zip(columns, row, strict=True)) for row in data], indent=2, ensure_ascii=False) + "\n"


def citations(db: sqlite3.Connection, *, topic: str | None = None, designs: Iterable[str] = (),
              year_from: int | None = None, year_to: int | None = None, relevance: str | None = None,
              include_retracted: bool = False, preprints: bool = True) -> list[dict[str, Any]]:
    """Papers selected by topic, design, year range and relevance (one per paper, from the
    ``papers`` view), with what a citation needs, as :func:`litwatch.citations.to_ris` and
    :func:`~litwatch.citations.to_bibtex` take them: a PubMed paper's ``articles`` row, a
    Europe PMC paper's record (``kind`` "preprint" with its ``server`` for a preprint), with
    ``authors`` in byline order (``"Last, First"`` for a person, ``{"collective": name}`` for a
    group, whose name may hold a comma) and ``keywords`` (MeSH headings)."""
    where: list[str] = ["1 = 1"]
    params: list[str | int] = []
    if topic or relevance:
        clause = "p.paper_id IN (SELECT paper_id FROM paper_topics WHERE 1 = 1"
        if topic:
            clause += " AND topic = ?"
            params.append(topic)
        if relevance:
            clause += " AND relevance = ?"
            params.append(relevance)
        where.append(clause + ")")
    designs = list(designs)
    if designs:
        where.append(f"p.design IN ({', '.join('?' * len(designs))})")
        params += designs
    if year_from:
        where.append("p.pub_year >= ?")
        params.append(year_from)
    if year_to:
        where.append("p.pub_year <= ?")
        params.append(year_to)
    if not include_retracted:
        where.append("NOT p.retracted")
    if not preprints:
        where.append("NOT p.preprint")
    chosen = query(db, f"SELECT paper_id, pmid, epmc_id, sources FROM papers p WHERE {' AND '.join(where)} "
                       f"ORDER BY p.pub_year DESC, p.paper_id", params)
    return [_pubmed_paper(db, c["pmid"]) if c["sources"].startswith("pubmed") else _europepmc_paper(db, c["epmc_id"])
            for c in chosen]


def _pubmed_paper(db: sqlite3.Connection, pmid: int) -> dict[str, Any]:
    p = query(db, "SELECT * FROM articles WHERE pmid = ?", [pmid])[0]
    p["authors"] = [_author(a) for a in query(
        db, "SELECT last_name, fore_name, collective_name FROM article_authors WHERE pmid = ? ORDER BY position",
        [pmid]) if a["collective_name"] or a["last_name"]]
    p["keywords"] = [r[0] for r in db.execute(
        "SELECT descriptor_name FROM article_mesh WHERE pmid = ? ORDER BY position", [pmid])]
    return p


def _europepmc_paper(db: sqlite3.Connection, epmc_id: str) -> dict[str, Any]:
    e = query(db, "SELECT * FROM europepmc_records WHERE epmc_id = ?", [epmc_id])[0]
    authors = [_author(a) for a in query(
        db, "SELECT last_name, first_name AS fore_name, collective_name FROM europepmc_authors "
            "WHERE epmc_id = ? ORDER BY position", [epmc_id]) if a["collective_name"] or a["last_name"]]
    if not authors and e["author_string"]:  # lite records carry the byline as "Surname Initials, ..."
        authors = [", ".join(name.strip().rsplit(" ", 1)) for name in e["author_string"].rstrip(".").split(",")
                   if name.strip()]
    preprint = bool(e["is_preprint"])
    return {**e, "kind": "preprint" if preprint else "journal-article", "server": e["preprint_server"],
            "version": e["preprint_version"], "posted_date": e["first_publication_date"],
            "pub_date": e["first_publication_date"], "authors": authors, "url": e["url"],
            "keywords": json.loads(e["mesh"] or "[]")}


def _author(row: dict[str, Any]) -> str | dict[str, str]:
    # A group stays a mapping: "SAGE Investigators, on behalf of SCCM Discovery" is one
    # author, not a person named "on behalf of SCCM Discovery SAGE Investigators".
    if row["collective_name"]:
        return {"collective": row["collective_name"]}
    return ", ".join(filter(None, [row["last_name"], row["fore_name"]]))
