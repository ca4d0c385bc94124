"""What a query handed to a reader may call: SQLite's functions that reach past the data are
refused on connections that run SQL a visitor wrote (Datasette's, ``litwatch serve``) or a
user passed (``litwatch export --sql``)."""

from __future__ import annotations

import sqlite3

# SQL functions a visitor may not call: each reads or writes memory or files beyond the
# database, or loads code. Those this SQLite lacks are refused too, should a build add them.
DENIED_FUNCTIONS = frozenset({
    "fts3_tokenizer",  # 1 argument: a pointer leak; 2: overwrites a tokenizer with any address
    "load_extension",  # loads and runs a shared library
    "readfile", "writefile", "edit",  # the sqlite3 shell's file functions (fileio extension)
    "fts5",  # hands out the FTS5 API pointer
    "rtreenode", "rtreedepth",  # debugging functions that decode raw blobs as R-tree nodes
    "sqlite_dbpage", "sqlite_dbdata", "sqlite_dbptr",  # raw pages and pointers (recovery extensions)
})


def authorize(action: int, arg1: str | None, arg2: str | None, database: str | None, source: str | None) -> int:
    """SQLite's authorizer callback: refuse a call of a denied function (``arg2`` is the
    function's name for ``SQLITE_FUNCTION``), allow everything else."""
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def harden(conn: sqlite3.Connection) -> None:
    """Make a connection safe to hand a visitor: the denied functions refused."""
    conn.set_authorizer(authorize)
