"""The run log: every fetch, link-following and import is one row of ``runs``, opened as
``running`` and closed as ``success``, ``failed`` (with a one-line error) or ``interrupted``.
A failed run leaves earlier data intact and does not advance the incremental window, so
the next run asks again."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterator

from .version import __version__
from .errors import LitwatchError
from .redact import redact
from .store.db import now, transaction
from .store.spec import sql_text
from .lock import ABANDONED
from .store.writes import Counts

if TYPE_CHECKING:  # the HTTP stack loads only for runs that use the network
    from .http import HttpStats

log = logging.getLogger(__name__)

# How far back an incremental run reaches before the last successful run's start:
# records indexed late on that day, or dated by NCBI in US Eastern time, are not missed.
OVERLAP_DAYS = 3


@dataclass
class RunResult:
    """The outcome of one run, as recorded in the ``runs`` table."""

    run_id: int
    source: str
    topic: str | None
    kind: str
    status: str
    counts: Counts
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# The runs of one command (or library call) form a session: its first run's id.
_SESSION: ContextVar[list[int] | None] = ContextVar("litwatch_session", default=None)


@contextmanager
def session() -> Iterator[None]:
    """Group the runs started inside the block (what one ``update`` brought, say); inside an
    open session, the runs join it."""
    if _SESSION.get() is not None:
        yield
        return
    token = _SESSION.set([])
    try:
        yield
    finally:
        _SESSION.reset(token)


def start_run(conn: sqlite3.Connection, *, topic: str | None, source: str, kind: str,
              query: str | None = None, params: dict[str, Any] | None = None) -> int:
    """Record a run as started and return its id."""
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO runs (topic, source, kind, started_at, status, query, params, litwatch_version, "
            "expected, received, new, updated, unchanged, deleted, skipped, repeated) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, NULL, 0, 0, 0, 0, 0, 0, 0)",
            (topic, source, kind, now(), redact(query) if query else None, _params(params or {}), __version__))
        run_id = int(cursor.lastrowid or 0)
        group = _SESSION.get()
        if group is not None and not group:
            group.append(run_id)
        conn.execute("UPDATE runs SET session = ? WHERE id = ?", [group[0] if group else run_id, run_id])
    return run_id


def finish_run(conn: sqlite3.Connection, run_id: int, status: str, counts: Counts,
               error: str | None = None, params: dict[str, Any] | None = None) -> None:
    """Close a run with its final status, counts and (for failures) the error message."""
    values = {"finished_at": now(), "status": status, "error": redact(error) if error else None, **counts.as_row()}
    if params is not None:
        values["params"] = _params(params)
    sets = ", ".join(f"[{k}] = :{k}" for k in values)
    with transaction(conn):
        conn.execute(f"UPDATE runs SET {sets} WHERE id = :id", {**values, "id": run_id})


def _params(params: dict[str, Any]) -> str:
    return redact(json.dumps(params, sort_keys=True, default=str))


@contextmanager
def recorded_run(conn: sqlite3.Connection, *, topic: str | None, source: str, kind: str,
                 params: dict[str, Any], query: str | None = None,
                 stats: "HttpStats | None" = None) -> Iterator[tuple[int, Counts]]:
    """Record a run around a block: ``running`` on entry, then ``success``, ``failed`` (with
    the error's one-line message) or ``interrupted`` (Ctrl-C, SIGTERM). ``params`` may be
    filled in by the block; the HTTP requests and retries made (from ``stats``) and the
    duration are added to them.
    """
    run_id = start_run(conn, topic=topic, source=source, kind=kind, query=query, params=params)
    counts = Counts()
    started = time.monotonic()
    before = (stats.requests, stats.retries) if stats else (0, 0)

    def finish(status: str, error: str | None = None) -> None:
        params["seconds"] = round(time.monotonic() - started, 3)
        if stats:
            params["requests"], params["retries"] = stats.requests - before[0], stats.retries - before[1]
        finish_run(conn, run_id, status, counts, error=error, params=params)

    try:
        yield run_id, counts
    except LitwatchError as e:
        finish("failed", str(e))
        raise
    except BaseException as e:  # Ctrl-C, SIGTERM or a bug: record it, never leave 'running'
        finish("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", f"{type(e).__name__}: {e}")
        raise
    finish("success")


def last_success(conn: sqlite3.Connection, topic: str, source: str, before: str | None = None) -> str | None:
    """``started_at`` of the topic's last successful fetch from ``source``, if any (started no
    later than ``before``, when given)."""
    row = conn.execute(
        "SELECT max(started_at) FROM runs WHERE topic = ? AND source = ? AND kind = 'fetch' "
        "AND status = 'success' AND started_at <= coalesce(?, started_at)", [topic, source, before]).fetchone()
    return row[0] if row else None


# (topic, source) pairs already warned about, so a wrong clock is reported once, not every run.
_FUTURE_WARNED: set[tuple[str, str]] = set()


def incremental_start(conn: sqlite3.Connection, topic: str, source: str) -> date | None:
    """Where an incremental fetch starts: the last successful fetch's day, minus the overlap;
    None (everything) if there is none.

    A run dated in the future (recorded while a clock was ahead) would start every later
    window after today, and find nothing: such runs are passed over, with a warning, and the
    window starts from the last successful run dated no later than now. Clamping to today
    instead could skip what was published between that run and today.
    """
    current = now()
    started = last_success(conn, topic, source, before=current)
    latest = last_success(conn, topic, source)
    if latest and latest > current and (topic, source) not in _FUTURE_WARNED:
        _FUTURE_WARNED.add((topic, source))
        log.warning("%s %s: the last successful fetch is dated %s, in the future (a clock was wrong?); the "
                    "incremental window starts from %s instead", source, topic, latest,
                    f"the last one dated before now ({started})" if started else "scratch (a full fetch)")
    if not started:
        return None
    return datetime.fromisoformat(started.replace("Z", "+00:00")).date() - timedelta(days=OVERLAP_DAYS)


def show_interrupted(conn: sqlite3.Connection, run_ids: list[int]) -> None:
    """Show runs a process that died left 'running' as interrupted on a connection that
    cannot record it (a read-only database): a temporary view ``runs`` stands in front of
    the table for this connection's queries, with those runs' status and error as
    :func:`~litwatch.lock.close_abandoned_runs` would record them."""
    if not run_ids:
        return
    ids = ", ".join(str(int(i)) for i in run_ids)
    shown = {"status": f"CASE WHEN id IN ({ids}) THEN 'interrupted' ELSE status END",
             "error": f"CASE WHEN id IN ({ids}) THEN coalesce(error, {sql_text(ABANDONED)}) ELSE error END"}
    columns = [r[1] for r in conn.execute("PRAGMA main.table_info(runs)")]
    select = ", ".join(f"{shown[c]} AS [{c}]" if c in shown else f"[{c}]" for c in columns)
    conn.execute("DROP VIEW IF EXISTS temp.runs")
    conn.execute(f"CREATE TEMP VIEW runs AS SELECT {select} FROM main.runs")


def last_run_id(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]


def summary(conn: sqlite3.Connection, after: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The runs made since run ``after``, as a JSON-ready summary, with the overall status:
    success, partial (some failed) or failed (all failed)."""
    runs = []
    for r in conn.execute("SELECT id, topic, source, kind, status, expected, received, new, updated, unchanged, "
                          "deleted, skipped, repeated, params, error FROM runs WHERE id > ? ORDER BY id", [after]):
        params = json.loads(r[13] or "{}")
        runs.append({"run_id": r[0], "topic": r[1], "source": r[2], "kind": r[3], "status": r[4],
                     "expected": r[5], "received": r[6], "new": r[7], "updated": r[8], "unchanged": r[9],
                     "deleted": r[10], "skipped": r[11], "repeated": r[12], "requests": params.get("requests"),
                     "retries": params.get("retries"), "seconds": params.get("seconds"),
                     "fetched_by_id": params.get("fetched_by_id"), "error": r[14]})
    failed = sum(r["status"] != "success" for r in runs)
    status = "success" if not failed else ("failed" if failed == len(runs) else "partial")
    return {"status": status, "runs": runs, **(extra or {})}
