"""Exports: any table, view or read-only query to CSV or JSON, and the papers or registered
trials to cite, as the dicts :mod:`litwatch.citations` turns into RIS and BibTeX for reference
managers (Zotero, EndNote, Mendeley, JabRef...)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from typing import Any, Iterable

from .labels import readable_rows
from .errors import LitwatchError, UsageError, storage_fault
from .sources import get
from .store.db import db_path, query, table_names, view_names
from .store.guard import DENIED_FUNCTIONS

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# What a query may do: read. VACUUM INTO, ATTACH, pragmas that write and every write are refused
# even though the connection is read-only (VACUUM INTO writes a copy of the database anywhere).
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
MAX_SECONDS = 60.0
MAX_ROWS = 1_000_000
# What citations are of: the papers (one per paper, whichever sources returned it) or the
# registered trials; and a record's relevance to a topic (see litwatch.evidence), or "related":
# intervention or condition, the brief's related research.
CITED = ("papers", "trials")
RELEVANCE = ("core", "related", "intervention", "condition", "none")


def _authorize(action: int, arg1: str | None, arg2: str | None, db_name: str | None, source: str | None) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
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


def citations(db: sqlite3.Connection, *, of: str = "papers", topic: str | None = None, designs: Iterable[str] = (),
              year_from: int | None = None, year_to: int | None = None, relevance: str | None = None,
              include_retracted: bool = False, preprints: bool = True) -> list[dict[str, Any]]:
    """Papers (``of="papers"``) or registered trials (``of="trials"``) selected by topic,
    design, year range and relevance, with what a citation needs, as
    :func:`litwatch.citations.to_ris` and :func:`~litwatch.citations.to_bibtex` take them.

    A paper (one per paper, from the ``papers`` view) is a PubMed paper's ``articles`` row or a
    Europe PMC paper's record (``kind`` "preprint" with its ``server`` for a preprint), with
    ``authors`` in byline order (``"Last, First"`` for a person, ``{"collective": name}`` for a
    group, whose name may hold a comma) and ``keywords`` (MeSH headings); its year is the year
    of publication. A trial (``kind`` "trial") is cited as registered: title, lead sponsor,
    date first posted (its year is the one ``year_from``/``year_to`` compare), summary and
    link. ``relevance`` is one of :data:`RELEVANCE` ("related": intervention or condition).

    :raises UsageError: ``of`` or ``relevance`` is none of the known values.
    """
    if of not in CITED:
        raise UsageError(f"citations are of {' or '.join(CITED)}, not {of!r}")
    if relevance is not None and relevance not in RELEVANCE:
        raise UsageError(f"unknown relevance {relevance!r} (known: {', '.join(RELEVANCE)})")
    trials = of == "trials"
    where: list[str] = ["1 = 1"]
    params: list[str | int] = []
    if topic or relevance:
        key, topics = ("t.nct_id", "SELECT nct_id FROM trial_topics") if trials else \
            ("p.paper_id", "SELECT paper_id FROM paper_topics")
        clause = f"{key} IN ({topics} WHERE 1 = 1"
        if topic:
            clause += " AND topic = ?"
            params.append(topic)
        if relevance == "related":
            clause += " AND relevance IN ('intervention', 'condition')"
        elif relevance:
            clause += " AND relevance = ?"
            params.append(relevance)
        where.append(clause + ")")
    designs = list(designs)
    alias, year = ("t", "CAST(substr(t.first_posted, 1, 4) AS INTEGER)") if trials else ("p", "p.pub_year")
    if designs:
        where.append(f"{alias}.design IN ({', '.join('?' * len(designs))})")
        params += designs
    if year_from:
        where.append(f"{year} >= ?")
        params.append(year_from)
    if year_to:
        where.append(f"{year} <= ?")
        params.append(year_to)
    if trials:
        return [{"kind": "trial", **t} for t in query(
            db, f"SELECT t.nct_id, t.brief_title, t.lead_sponsor, t.first_posted, t.brief_summary AS abstract, t.url, "
                f"t.design FROM trials t WHERE {' AND '.join(where)} ORDER BY t.first_posted DESC, t.nct_id", params)]
    if not include_retracted:
        where.append("NOT p.retracted")
    if not preprints:
        where.append("NOT p.preprint")
    chosen = query(db, f"SELECT source, record_key FROM papers p WHERE {' AND '.join(where)} "
                       f"ORDER BY p.pub_year DESC, p.paper_id", params)
    out = []
    for c in chosen:  # each paper as the source whose copy it is cites it
        source = get(c["source"])
        out.append(source.citation(db, source.key_of(c["record_key"])))
    return out


