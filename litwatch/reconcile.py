"""Reconciling a topic's stored records with what its search holds now, whole.

An incremental fetch sees only what was added or revised in its window: a record indexed
with an old entry date, or one that left the search (its indexing changed, a study's
conditions were edited) goes unseen. ``litwatch reconcile`` asks each service for the full
list of the search's IDs (cheap ID-only requests: esearch ID lists, ClinicalTrials.gov
``fields=NCTId`` pages, Europe PMC ``resultType=idlist`` pages), fetches the records it lacks,
and flags the records the query had brought that the list no longer holds: kept, recorded in
``left_search`` and told as an event. A record listed again is unflagged.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

from .config import Config, Topic
from .progress import Meter, start
from .runs import RunResult, recorded_run
from .sources.base import Source, in_keys
from .errors import LitwatchError
from .store.db import transaction

log = logging.getLogger(__name__)


def reconcile_topic(conn: sqlite3.Connection, config: Config, source: Source, topic: Topic, *,
                    client: Any = None, progress: Meter | None = None, accept: bool = False) -> RunResult:
    """Compare the topic's search at ``source`` with the store: fetch what is missing, flag
    what left. One recorded run (kind ``reconcile``); ``params`` holds ``listed``, ``stored``,
    ``fetched``, ``left`` (newly flagged), ``returned`` (listed again) and ``not_served``.
    ``progress`` meters the missing records fetched by ID.

    :raises LitwatchError: the service failed, its listing did not add up, or it would flag
        more records at once than a search loses in the normal course (:func:`_sane`; unless
        ``accept``): recorded as a failed run; nothing is flagged.
    """
    from .sync import _budget, _within

    if not reconciles(source):
        raise LitwatchError(f"{source.label} cannot list a search's IDs alone; it is not reconciled")
    budget = _budget(config)
    client = client or source.client(config.settings(source), budget=budget)
    params: dict[str, Any] = {"url": config.settings(source).url}
    with recorded_run(conn, topic=topic.name, source=source.name, kind="reconcile", query=source.query_text(topic),
                      params=params, stats=client.http.stats) as (run_id, counts), \
            _within(budget, client, source, counts):
        listing = source.listing(client, topic)
        assert listing is not None
        counts.expected = listing.expected
        listed = listing.keys
        _sane(source, topic, _members(conn, source, topic), listed, accept)
        stored = _stored(conn, source, listed)
        missing = sorted(listed - stored)
        advance = start(progress, f"{source.name} {topic.name} missing {source.unit}", len(missing), source.unit)
        for batch in source.fetch_ids(client, missing):
            saved = source.save(conn, batch, run_id=run_id, topic=topic.name, origin="live")
            counts.add(saved)
            if advance:
                advance(saved.received)
        not_served = sorted(listed - _stored(conn, source, listed))
        if not_served:
            log.warning("%s lists %d %s for %s that it did not serve by ID (%s)", source.label, len(not_served),
                        source.unit, topic.name, ", ".join(map(str, not_served[:3])))
        _join(conn, source, topic, stored, run_id)
        left, returned = _flag(conn, source, topic, listed, run_id)
        params.update(listed=len(listed), stored=len(stored), fetched=len(missing) - len(not_served),
                      left=left, returned=returned, not_served=len(not_served))
    return RunResult(run_id, source.name, topic.name, "reconcile", "success", counts, params)


# A listing that would flag more of a topic's records than this at once is more likely a fault
# of the service (an empty answer, a backend glitch) than records leaving: the larger of a
# fifth of the records and fifty.
MASS_SHARE, MASS_FLOOR = 0.2, 50


def _members(conn: sqlite3.Connection, source: Source, topic: Topic) -> set[Any]:
    """The records the topic's query brought from this source (a fetch or reconcile of it)."""
    table, key = source.family.topics, source.family.key
    return {r[0] for r in conn.execute(
        f"SELECT {key} FROM [{table}] WHERE topic = ? AND first_run_id IN (SELECT id FROM runs WHERE topic = ? "
        f"AND source = ? AND kind IN ('fetch', 'reconcile'))", [topic.name, topic.name, source.name])}


def _sane(source: Source, topic: Topic, members: set[Any], listed: set[Any], accept: bool) -> None:
    """Refuse a listing that would flag a mass of records as having left the search: one that
    lists nothing where records are stored, or whose departures pass the larger of a fifth of
    the topic's records and fifty (unless ``accept``: the query was changed on purpose)."""
    from .errors import IncompleteFetch

    gone = len([k for k in members if k not in listed])
    limit = max(math.ceil(MASS_SHARE * len(members)), MASS_FLOOR)
    if accept or not gone:
        return
    if not listed:
        raise IncompleteFetch(f"{source.label} listed no {source.unit} for {topic.name}, where {len(members)} are "
                              f"stored from its search: taken for a fault of the service, nothing is flagged; try "
                              f"again later")
    if gone > limit:
        raise IncompleteFetch(f"{source.label}'s listing for {topic.name} would flag {gone} of its {len(members)} "
                              f"stored {source.unit} as having left the search (more than {limit} at once): taken for "
                              f"a fault of the service, nothing is flagged; if the query was changed on purpose, run "
                              f"`litwatch reconcile --accept-departures`")


def reconciles(source: Source) -> bool:
    """Whether the source's service can list a search's IDs alone."""
    return type(source).listing is not Source.listing


def _stored(conn: sqlite3.Connection, source: Source, keys: set[Any]) -> set[Any]:
    """The keys among ``keys`` whose records are stored."""
    table, key = source.family.table, source.family.key
    found: set[Any] = set()
    for where, params in in_keys(key, sorted(keys)):
        found.update(r[0] for r in conn.execute(f"SELECT {key} FROM [{table}] WHERE 1{where}", params))
    return found


def _join(conn: sqlite3.Connection, source: Source, topic: Topic, keys: set[Any], run_id: int) -> None:
    """Place the listed records already stored in the topic as its query's (a record that only
    concept matching had placed there, or that a link brought, is now known to be the query's);
    one that only files or the sample held is news from this live listing on."""
    table, key = source.family.topics, source.family.key
    rows = [(k, topic.name, run_id, run_id) for k in sorted(keys)]
    with transaction(conn):
        conn.executemany(f"INSERT INTO [{table}] ({key}, topic, first_run_id, live_run_id) VALUES (?, ?, ?, ?) "
                         f"ON CONFLICT ({key}, topic) DO UPDATE SET first_run_id = coalesce(first_run_id, "
                         f"excluded.first_run_id), live_run_id = coalesce(live_run_id, excluded.live_run_id)", rows)


def _flag(conn: sqlite3.Connection, source: Source, topic: Topic, listed: set[Any], run_id: int) -> tuple[int, int]:
    """Flag the records the topic's query brought that the listing lacks; unflag those listed
    again. Returns (newly flagged, returned)."""
    members = _members(conn, source, topic)
    flagged = {r[0] for r in conn.execute(
        "SELECT record_key FROM left_search WHERE source = ? AND topic = ? AND returned_run_id IS NULL",
        [source.name, topic.name])}
    listed_text = {str(k) for k in listed}
    gone = sorted(k for k in members if k not in listed and str(k) not in flagged)
    back = sorted(k for k in flagged if k in listed_text)
    names = source.record_ids(conn, gone)
    rows = []
    for k in gone:
        record_id, title, url = names.get(k, (str(k), None, None))
        rows.append((source.name, topic.name, record_id, str(k), title, url, run_id))
    with transaction(conn):
        conn.executemany(
            "INSERT INTO left_search (source, topic, record_id, record_key, title, url, left_run_id, returned_run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (source, topic, record_key) DO UPDATE SET "
            "record_id = excluded.record_id, title = excluded.title, url = excluded.url, "
            "left_run_id = excluded.left_run_id, returned_run_id = NULL",
            rows)
        conn.executemany("UPDATE left_search SET returned_run_id = ? WHERE source = ? AND topic = ? "
                         "AND record_key = ?", [(run_id, source.name, topic.name, k) for k in back])
    if gone:
        log.info("%s %s: %d records left the search since (%s); kept and flagged", source.label, topic.name,
                 len(gone), ", ".join(map(str, gone[:5])))
    return len(gone), len(back)


def line(result: RunResult, label: str, unit: str) -> str:
    """A reconcile's outcome in one line: the three numbers (and those who left)."""
    p = result.params
    extra = f", {p['not_served']} listed but not served" if p.get("not_served") else ""
    back = f", {p['returned']} listed again" if p.get("returned") else ""
    said = "" if result.counts.expected in (None, p["listed"]) else f" (it said {result.counts.expected})"
    return (f"{label} {result.topic}: {p['listed']} {unit} listed by the service{said}, {p['stored']} stored, "
            f"{p['fetched']} fetched (missing), {p['left']} left the search (flagged){back}{extra} "
            f"[run {result.run_id}]")

