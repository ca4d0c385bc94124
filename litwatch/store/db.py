"""Opening a litwatch database: connection settings, the schema version and its migrations,
transactions and small query helpers.

litwatch talks to SQLite through the standard library's ``sqlite3``: the connection is
opened in autocommit mode and every write happens inside :func:`transaction`, so a batch is
stored whole or not at all. A database carries its schema version in ``PRAGMA
user_version``; a newer litwatch upgrades an older database in place (each step recorded
and run in its own transaction), and an older litwatch refuses a newer database rather than
altering it.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import DamagedDatabase, LitwatchError, UsageError, storage_fault
from .schema import Schema, columns_of, create_views, ensure_schema, fts_sql, rebuild_table

log = logging.getLogger(__name__)

# 1: the first release (no version recorded, user_version 0); 2: this one.
SCHEMA_VERSION = 6
APPLICATION_ID = 0x4C697457  # "LitW": marks a file as a litwatch database


class SchemaError(LitwatchError):
    """The database's schema cannot be used by this litwatch (newer, foreign, or read-only and old)."""


def now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_db(path: str | Path, schema: Schema, *, readonly: bool = False, create: bool = True) -> sqlite3.Connection:
    """Open a litwatch database of ``schema`` (see :func:`litwatch.catalog.schema`: the one
    the registered sources make), creating it (and its folder) or upgrading it as needed.

    :param readonly: open without write access (reports, exports, browsing): the file must
        exist and have the current schema.
    :param create: when False, a missing file is an error instead of a new database.
    :raises UsageError: the file does not exist (and may not be created) or is a directory.
    :raises SchemaError: the file is not a litwatch database, or one this litwatch cannot use.
    """
    path = Path(path)
    check_path(path)
    if (readonly or not create) and not path.is_file():
        raise UsageError(f"no database at {path} (check --db or LITWATCH_DB; `litwatch fetch`, "
                         f"`import` or `update` create one)")
    if readonly:
        conn = connect_readonly(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = _version(conn, path)
        if version == SCHEMA_VERSION:
            check_columns(conn, path, schema)
        if readonly:
            if version != SCHEMA_VERSION:
                raise SchemaError(f"{path} has schema version {version}; this litwatch reads version "
                                  f"{SCHEMA_VERSION}: run `litwatch migrate` (or any fetch/import) to upgrade it")
        else:
            check_sound(conn, path)  # before the first write: a damaged file is never written to
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            upgrade(conn, version, schema)
        conn.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """An SQLite connection that can only read ``path`` (no schema check: see :func:`open_db`)."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)


def examine(conn: sqlite3.Connection, path: str | Path, schema: Schema, *, quick: bool = False) -> dict[str, Any]:
    """What ``litwatch check`` finds in an open database: ``problems`` (SQLite's
    ``integrity_check``, or ``quick_check`` with ``quick``, then the foreign keys: at most 100),
    ``schema_version`` and ``schema`` (why this litwatch cannot use the schema, or None)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    problems = integrity(conn, quick=quick)
    if not problems:
        problems = [f"{table} row {rowid}: no {parent} row for its key"
                    for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check").fetchmany(100)]
    version: int | None = None
    unusable = None
    if not problems:
        try:
            version = _version(conn, Path(path))
            if version == SCHEMA_VERSION:
                check_columns(conn, path, schema)
        except SchemaError as e:
            unusable = str(e)
    return {"check": "quick_check" if quick else "integrity_check", "problems": problems,
            "schema_version": version, "schema": unusable}


def check_path(path: str | Path) -> None:
    """Refuse a database path that is not a regular file (when it exists) before anything is
    opened or created beside it: a directory, a device (``/dev/zero``), a named pipe.

    :raises UsageError: one line naming the path and what it is.
    """
    from ..files import regular_or_absent

    kind = regular_or_absent(path)
    if kind is not None:
        raise UsageError(f"{path} is {kind}, not a database file (check --db or LITWATCH_DB)")


def check_columns(conn: sqlite3.Connection, path: str | Path, schema: Schema) -> None:
    """Refuse a database at this litwatch's schema version whose tables hold columns this
    litwatch does not know (renamed or added by a newer schema, or by another program):
    writing to it would add the columns it lacks beside them, and reading would miss them.
    A column this litwatch adds is only missing, never unknown: it is created on the next
    write, as before.

    :raises SchemaError: one line naming the first such table and columns.
    """
    for name, spec in schema.tables.items():
        existing = columns_of(conn, name)
        unknown = [c for c in existing if c not in spec.columns]
        if unknown:
            missing = [c for c in spec.columns if c not in existing]
            lacks = f" and lacks {', '.join(missing)}" if missing else ""
            raise SchemaError(f"{path}: table {name} has column(s) {', '.join(unknown)} this litwatch does not know"
                              f"{lacks}: its schema is newer than this litwatch's (or was altered); upgrade "
                              f"litwatch, the database is left as it is")


# SQLite's quick_check reads the whole file (2 to 3 ms a MB when cached: 0.15 to 0.35 s for the
# 98 MB of 30,000 PubMed records, 1.6 s from disk). Up to this size it runs each time the
# database is opened for writing (0.4 s at most, cached); a larger store is checked by
# `litwatch check`, whose cost and schedule its owner chooses.
QUICK_CHECK_BYTES = 256 << 20
# How long a statement waits for another program's lock on the database before it fails.
BUSY_TIMEOUT_MS = 5000


def store_bytes(path: str | Path) -> int:
    """The size of a database on disk: its file and its write-ahead log."""
    total = 0
    for name in (str(path), f"{path}-wal"):
        try:
            total += os.stat(name).st_size
        except OSError:
            pass
    return total


def check_sound(conn: sqlite3.Connection, path: str | Path) -> None:
    """Run SQLite's ``quick_check`` on a store of at most :data:`QUICK_CHECK_BYTES` (a larger
    one is left to ``litwatch check``).

    :raises DamagedDatabase: one line with the first problem found and what to do.
    """
    if store_bytes(path) > QUICK_CHECK_BYTES:
        return
    problems = integrity(conn, quick=True)
    if problems:
        raise DamagedDatabase(damage_message(path, "quick_check", problems))


def integrity(conn: sqlite3.Connection, *, quick: bool = False, limit: int = 100) -> list[str]:
    """The problems SQLite's ``integrity_check`` (``quick_check``: without matching indexes to
    their tables, several times faster) finds, at most ``limit``; none for a sound file. A
    file too damaged to be checked gives its error as the one problem."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}({int(limit)})")]
    except sqlite3.DatabaseError as e:
        if (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF not in (11, 26):  # not SQLITE_CORRUPT, SQLITE_NOTADB
            raise
        return [str(e)]
    return [] if rows == ["ok"] else rows


def damage_message(path: str | Path, how: str, problems: list[str]) -> str:
    """One line saying a database is damaged: the first problem, how many, what to do."""
    from ..redact import excerpt

    more = f" ({len(problems)} problems, the first shown)" if len(problems) > 1 else ""
    return (f"{path} is damaged: SQLite's {how} found {excerpt(problems[0], 160)!r}{more}; nothing was written "
            f"to it. Restore the last copy of it (see 'litwatch check' in the README)")


def backup(conn: sqlite3.Connection, target: str | Path) -> int:
    """Write a consistent copy of the database to ``target`` with SQLite's ``VACUUM INTO``
    (never a copy of the file, which misses what its write-ahead log holds), check the copy
    with ``quick_check``, and only then put it in place (replacing an older copy whole);
    return its size in bytes.

    :raises LitwatchError: one line; an older copy at ``target`` is left as it was.
    """
    import tempfile

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)  # VACUUM INTO writes into an empty file
    try:
        conn.execute("VACUUM INTO ?", [tmp])
        copy = sqlite3.connect(f"{Path(tmp).resolve().as_uri()}?mode=ro", uri=True)
        try:
            problems = integrity(copy, quick=True)
        finally:
            copy.close()
        if problems:
            raise DamagedDatabase(f"the copy written to {target} fails SQLite's quick_check ({problems[0]}); "
                                  f"it was not kept")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, os.stat(db_path(conn)).st_mode & 0o777)  # as private as the database
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target.stat().st_size


def _version(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of an open database: 0 for an empty file, 1 for the first release."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        fault = storage_fault(e, str(path))
        if fault is not None:
            raise fault from None
        raise SchemaError(f"{path} is not a usable SQLite database ({e})") from None
    if version > SCHEMA_VERSION:
        raise SchemaError(f"{path} was written by a newer litwatch (schema version {version}; this one "
                          f"knows up to {SCHEMA_VERSION}); upgrade litwatch, the database is left as it is")
    if app == APPLICATION_ID:
        return version
    if not tables:
        return 0
    if {"runs", "articles", "trials"} <= tables and version == 0:
        return 1  # the first release (these were among its tables) recorded no version
    raise SchemaError(f"{path} is an SQLite database, but not a litwatch one; choose another --db")


def upgrade(conn: sqlite3.Connection, version: int, schema: Schema) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`: create it (version 0) or migrate it."""
    if version == SCHEMA_VERSION:
        with transaction(conn):
            ensure_schema(conn, schema)  # cheap and idempotent: heals a half-created schema
        return
    if not version:  # a new database is created as the current version, with nothing to migrate
        with transaction(conn):
            ensure_schema(conn, schema)
            conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('evidence', 'current')")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return
    for target, step in MIGRATIONS:
        if version < target:
            with transaction(conn):
                ensure_schema(conn, schema)
                step(conn, schema)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {target}")
            log.warning("upgraded the database schema from version %d to %d", version, target)
            version = target


def _to_2(conn: sqlite3.Connection, schema: Schema) -> None:
    """Version 1 -> 2: full-text triggers that ignore bookkeeping updates (sqlite-utils' ones
    fired on every update); paper-trial links keyed by paper (derived data: rebuilt by the
    next evidence refresh); child tables stored by their key (WITHOUT ROWID), history dates
    keyed by position so repeats are kept. Records keep their content; what version 1 did not
    extract fills in when a record is next received, as its XML is kept from then on."""
    for name in schema.views:  # views name the tables rebuilt below
        conn.execute(f"DROP VIEW IF EXISTS [{name}]")
    conn.execute("DROP TABLE IF EXISTS article_trial_links")
    for name, spec in schema.tables.items():
        if spec.without_rowid:
            rebuild_table(conn, name, spec)
    create_views(conn, schema)
    for family in schema.families:  # designs by the new rules, relevance in four levels
        conn.execute(f"UPDATE [{family.table}] SET derived_hash = NULL")
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('evidence', 'stale')")
    for table, columns in schema.fts.items():
        for suffix in ("ai", "ad", "au"):
            conn.execute(f"DROP TRIGGER IF EXISTS [{table}_{suffix}]")
        for sql in fts_sql(table, columns)[1:]:
            conn.execute(sql)


def _to_3(conn: sqlite3.Connection, schema: Schema) -> None:
    """Version 2 -> 3: runs grouped in sessions (the runs of one command), reports remember
    the last run they rest on. Earlier runs each form their own session."""
    conn.execute("UPDATE runs SET session = id WHERE session IS NULL")
    conn.execute("UPDATE reports SET last_run_id = (SELECT max(id) FROM runs WHERE started_at <= reports.made_at) "
                 "WHERE last_run_id IS NULL")


def _to_4(conn: sqlite3.Connection, schema: Schema) -> None:
    """Version 3 -> 4: change tables for papers (article_changes, europepmc_changes), the
    events view, link_history and notifications (created by ensure_schema). The links that
    exist now are history: they raise no 'new link' event."""
    conn.execute("INSERT OR IGNORE INTO link_history (paper_id, nct_id, first_run_id) "
                 "SELECT DISTINCT paper_id, nct_id, NULL FROM paper_trial_links")


def _to_5(conn: sqlite3.Connection, schema: Schema) -> None:
    """Version 4 -> 5: monitoring gaps and records that left a search (tables created by
    ensure_schema). The fetches that failed since their topic's last success get their gaps
    when the database is next opened for writing (``settings`` 'gaps' = 'pending': see
    :func:`litwatch.api.writing`), so the next fetch covers them: the store runs no
    monitoring code."""
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('gaps', 'pending')")


def _to_6(conn: sqlite3.Connection, schema: Schema) -> None:
    """Version 5 -> 6: when each record was first seen live (``live_run_id``, on records and on
    their topic rows: news is what a live search brings, whatever a file or the sample held).
    Earlier versions kept no sightings: a record stored live counts from the run that first
    stored it when that run was live, else from the last run that saw it; a topic row, from the
    live run that brought it into the topic, else from its record's."""
    # The design rules changed too (litwatch.designs.RULES_VERSION 2): the next refresh derives again.
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('design_rules', '1')")
    live = "(SELECT kind FROM runs WHERE id = {}) IN ('fetch', 'follow', 'reconcile')"
    for family in schema.families:
        conn.execute(f"UPDATE [{family.table}] SET live_run_id = CASE WHEN {live.format('first_run_id')} "
                     f"THEN first_run_id ELSE seen_run_id END WHERE origin = 'live'")
        conn.execute(f"UPDATE [{family.topics}] SET live_run_id = CASE WHEN {live.format('first_run_id')} "
                     f"THEN first_run_id ELSE (SELECT x.live_run_id FROM [{family.table}] x "
                     f"WHERE x.{family.key} = [{family.topics}].{family.key}) END")


MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection, Schema], None]]] = [(2, _to_2), (3, _to_3), (4, _to_4),
                                                                     (5, _to_5), (6, _to_6)]


_savepoints = itertools.count(1)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one transaction (a savepoint when one is already open): all or nothing."""
    if conn.in_transaction:
        name = f"litwatch_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite ends the transaction itself on some faults (a full disk, I/O)
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # not when SQLite rolled it back already: the fault itself is raised
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def query(conn: sqlite3.Connection, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
    """Rows of a query as dicts, column names as keys."""
    cursor = conn.execute(sql, params if isinstance(params, dict) else list(params))
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def scalar(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> Any:
    """The first column of the first row (None when there is none)."""
    row = conn.execute(sql, list(params)).fetchone()
    return row[0] if row else None


def table_names(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def view_names(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")]


def db_path(conn: sqlite3.Connection) -> str:
    """The file behind a connection."""
    return conn.execute("PRAGMA database_list").fetchone()[2]
