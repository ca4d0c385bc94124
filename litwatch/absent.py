"""Linked records a source said it does not have: a trial's reference to a PMID that was
withdrawn, an NCT ID mistyped in an abstract. Following links would ask for them again on
every run, for nothing; they are remembered in ``absent_ids`` and asked for again only
after :data:`RETRY_DAYS`, in case they appear (a record made public late)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from .store.db import now, transaction

# How long an absent ID rests before it is asked for again: records rarely appear after
# being linked, but some do (a PubMed record released after an embargo), so never is too long.
RETRY_DAYS = 30


def resting(conn: sqlite3.Connection, source: str, ids: list[Any], days: float = RETRY_DAYS) -> set[str]:
    """Those of ``ids`` (as text) found absent at ``source`` within the last ``days``."""
    cutoff = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    known = {r[0] for r in conn.execute("SELECT id FROM absent_ids WHERE source = ? AND last_tried > ?",
                                        [source, cutoff])}
    return {str(i) for i in ids} & known


def remember(conn: sqlite3.Connection, source: str, absent: Iterable[Any], served: Iterable[Any] = ()) -> None:
    """Record that ``source`` did not serve the IDs ``absent`` when asked just now, and forget
    the IDs ``served`` (asked for earlier in vain, now arrived)."""
    stamp = now()
    with transaction(conn):
        conn.executemany(
            "INSERT INTO absent_ids (source, id, first_absent, last_tried, tries) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT (source, id) DO UPDATE SET last_tried = excluded.last_tried, tries = tries + 1",
            [(source, str(i), stamp, stamp) for i in absent])
        conn.executemany("DELETE FROM absent_ids WHERE source = ? AND id = ?", [(source, str(i)) for i in served])


def next_try(conn: sqlite3.Connection, source: str, days: float = RETRY_DAYS) -> str | None:
    """The day (YYYY-MM-DD) the first resting ID of ``source`` is asked for again."""
    row = conn.execute("SELECT min(last_tried) FROM absent_ids WHERE source = ?", [source]).fetchone()
    if not row or not row[0]:
        return None
    tried = datetime.fromisoformat(row[0].replace("Z", "+00:00"))
    return (tried + timedelta(days=days)).date().isoformat()
