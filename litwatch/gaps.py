"""Monitoring gaps: the windows a topic's search of a source did not cover.

A fetch that fails, is interrupted, dies with its process or cannot reach the service opens
a gap for its (source, topic): from the first day it was meant to cover to the day it began.
The next incremental fetch of that pair starts no later than the oldest open gap, so it
covers them; when it succeeds it closes every gap its window covered. A full fetch covers
them all. The report, ``litwatch runs`` and the events (``gap_opened``, ``gap_closed``) show
them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .sources import in_words, label
from .store.db import transaction

STATUSES = ("failed", "interrupted")


@dataclass(frozen=True)
class Gap:
    """One window not searched: ``window_from`` None means from the start (the topic's first
    fetch failed)."""

    id: int
    source: str
    topic: str
    window_from: str | None
    window_to: str
    opened_run_id: int
    closed_run_id: int | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, label: str) -> str:
        """The gap as a person reads it, in a notice or below ``litwatch runs``."""
        start = f"from {self.window_from}" if self.window_from else "from the start (no fetch had succeeded yet)"
        why = f": {self.reason}" if self.reason else ""
        return (f"{label}: no monitoring {start} to {self.window_to} for topic {self.topic} (the fetch of run "
                f"{self.opened_run_id} did not finish{why}); the next successful update covers it")


def record_failure(conn: sqlite3.Connection, run_id: int) -> Gap | None:
    """Open the gap a topic's fetch left (run ``run_id``, ended failed or interrupted); None
    when the run is no such fetch or its gap is open already."""
    row = conn.execute("SELECT id, source, topic, started_at, status, params, error FROM runs WHERE id = ? "
                       "AND kind = 'fetch' AND topic IS NOT NULL", [run_id]).fetchone()
    if row is None or row[4] not in STATUSES:
        return None
    if conn.execute("SELECT 1 FROM monitoring_gaps WHERE opened_run_id = ?", [run_id]).fetchone():
        return None
    _, source, topic, started, status, params, error = row
    since = json.loads(params or "{}").get("since")
    start = since or _incremental_start(conn, source, topic, started)
    reason = error or ("interrupted" if status == "interrupted" else None)
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO monitoring_gaps (source, topic, window_from, window_to, opened_run_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)", [source, topic, start, started[:10], run_id, reason])
    return gap(conn, int(cursor.lastrowid or 0))


def open_missing(conn: sqlite3.Connection) -> int:
    """Open the gaps of the fetches that failed or were interrupted since their topic's last
    successful fetch from the same source and have none yet (runs a process that died left
    behind, runs recorded before gaps were); return how many were opened."""
    runs = [r[0] for r in conn.execute(
        "SELECT r.id FROM runs r WHERE r.kind = 'fetch' AND r.topic IS NOT NULL AND r.status IN ('failed', "
        "'interrupted') AND NOT EXISTS (SELECT 1 FROM monitoring_gaps g WHERE g.opened_run_id = r.id) "
        "AND r.id > coalesce((SELECT max(s.id) FROM runs s WHERE s.kind = 'fetch' AND s.status = 'success' "
        "AND s.topic = r.topic AND s.source = r.source), 0) ORDER BY r.id")]
    return sum(record_failure(conn, run_id) is not None for run_id in runs)


def _incremental_start(conn: sqlite3.Connection, source: str, topic: str, before: str) -> str | None:
    """Where an incremental fetch started at ``before`` began: the last successful fetch's day
    before it, minus the overlap (see :func:`litwatch.runs.incremental_start`); None if none."""
    from .runs import OVERLAP_DAYS, last_success

    started = last_success(conn, topic, source, before=before)
    if not started:
        return None
    day = datetime.fromisoformat(started.replace("Z", "+00:00")).date()
    return (day - timedelta(days=OVERLAP_DAYS)).isoformat()


def widen(conn: sqlite3.Connection, source: str, topic: str, window: date | None) -> date | None:
    """The start of an incremental window that covers the pair's open gaps too: the oldest
    gap's first day when it is earlier; None (everything) when a gap reaches back to the start."""
    if window is None:
        return None
    for g in open_gaps(conn, source=source, topic=topic):
        if g.window_from is None:
            return None
        window = min(window, date.fromisoformat(g.window_from))
    return window


def close_covered(conn: sqlite3.Connection, source: str, topic: str, window: date | None, run_id: int) -> int:
    """Close the pair's open gaps that a successful fetch from ``window`` (None: everything),
    run ``run_id``, covered; return how many."""
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE monitoring_gaps SET closed_run_id = ? WHERE source = ? AND topic = ? AND closed_run_id IS NULL "
            "AND opened_run_id < ? AND (? IS NULL OR (window_from IS NOT NULL AND window_from >= ?))",
            [run_id, source, topic, run_id, *(2 * [window.isoformat() if window else None])])
    return cursor.rowcount


def gap(conn: sqlite3.Connection, gap_id: int) -> Gap:
    return Gap(*conn.execute(f"SELECT {_COLUMNS} FROM monitoring_gaps WHERE id = ?", [gap_id]).fetchone())


_COLUMNS = "id, source, topic, window_from, window_to, opened_run_id, closed_run_id, reason"


def open_gaps(conn: sqlite3.Connection, *, source: str | None = None, topic: str | None = None,
              run_ids: str | None = None) -> list[Gap]:
    """The gaps still open (of a source, a topic), oldest first. ``run_ids`` (SQL yielding run
    ids: a report's window) limits them to the gaps those runs opened and did not close."""
    sql = f"SELECT {_COLUMNS} FROM monitoring_gaps WHERE coalesce(source = ?, 1) AND coalesce(topic = ?, 1)"
    if run_ids is None:
        sql += " AND closed_run_id IS NULL"
    else:
        sql += (f" AND opened_run_id IN ({run_ids}) AND (closed_run_id IS NULL OR closed_run_id NOT IN ({run_ids}))")
    sql += " ORDER BY id"
    return [Gap(*row) for row in conn.execute(sql, [source, topic])]


def notices(gaps: list[Gap]) -> list[str]:
    """The open gaps of one topic as a report says them: one window per source (its gaps
    merged), sources with the same window in one sentence."""
    windows: dict[str, tuple[str | None, str, int]] = {}
    for g in gaps:
        start, end, n = windows.get(g.source, (g.window_from, g.window_to, 0))
        start = None if g.window_from is None or start is None else min(start, g.window_from)
        windows[g.source] = (start, max(end, g.window_to), n + 1)
    grouped: dict[tuple[str | None, str], list[tuple[str, int]]] = {}
    for source, (start, end, n) in windows.items():
        grouped.setdefault((start, end), []).append((label(source), n))
    out = []
    for (start, end), sources in grouped.items():
        names = [name for name, _ in sources]
        who = in_words(names)
        n = max(count for _, count in sources)  # updates tried of each source (one update tries them all)
        window = f"from {start} to {end}" if start else f"up to {end} (no fetch had succeeded yet)"
        updates = "the update" if n == 1 else f"{n} updates"
        out.append(f"{who}: no monitoring {window} for topic {gaps[0].topic} ({updates} of that window did not "
                   f"finish); the next successful update covers it.")
    return out
