"""Runs that bring records in: a topic fetched from a source, the linked records fetched by
ID, a file imported. Each is one recorded run; data flows one way: a source fetches (or a
file is read) and parses, :mod:`litwatch.store` saves whole batches, the run row records
what happened.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from . import gaps
from .config import Config, Topic
from .errors import DeadlineExceeded, IncompleteFetch, LitwatchError, UnknownFormat
from .files import open_input
from .progress import Meter, Progress, start
from .runs import RunResult, incremental_start, recorded_run
from .sources import all_sources
from .sources.base import Source
from .store.writes import Counts

if TYPE_CHECKING:  # the HTTP stack loads only for runs that use the network
    from .http import Deadline

log = logging.getLogger(__name__)


def fetch_topic(conn: sqlite3.Connection, config: Config, source: Source, topic: Topic, *,
                full: bool = False, since: date | None = None, client: Any = None,
                progress: Meter | None = None) -> RunResult:
    """Fetch a topic's records from a source: all of them, or those added or revised since the
    last successful fetch (``since`` overrides; ``full`` forces everything).

    The run succeeds only if the distinct records received are all the search holds, and it
    stops when the run's time budget (``config.run_budget_minutes``) is spent. ``progress``
    meters the records received of those the search holds.

    :raises LitwatchError: after recording the run as failed (what arrived is kept).
    """
    budget = _budget(config)
    client = client or source.client(config.settings(source), budget=budget)
    window = None if full else (since or gaps.widen(conn, source.name, topic.name,
                                                     incremental_start(conn, topic.name, source.name)))
    params: dict[str, Any] = {"mode": "full" if window is None else "incremental",
                              "since": window.isoformat() if window else None, "url": config.settings(source).url}
    with _gap_on_failure(conn) as opened, \
            recorded_run(conn, topic=topic.name, source=source.name, kind="fetch", query=source.query_text(topic),
                         params=params, stats=client.http.stats) as (run_id, counts), \
            _within(budget, client, source, counts):
        opened.append(run_id)
        search = source.search(client, topic, window)
        params.update(search.params)
        counts.expected = search.expected
        advance = start(progress, f"{source.name} {topic.name}", search.expected, source.unit)
        for batch in search.batches:
            saved = source.save(conn, batch, run_id=run_id, topic=topic.name, origin="live")
            counts.add(saved)
            if advance:
                advance(saved.received)
        params.update(search.params)
        counts.expected = search.expected  # the source may have listed the search again
        repeats = f" (and {counts.repeated} repeats)" if counts.repeated else ""
        if counts.expected is not None and counts.received < counts.expected:
            raise IncompleteFetch(
                f"{source.label} reported {counts.expected} {source.unit} but served {counts.received} "
                f"distinct ones{repeats}; those are stored, the run is marked failed and the next run will "
                f"ask again")
        if counts.expected is not None and counts.received > counts.expected:
            log.warning("%s reported %d %s but served %d (changed while paging)", source.label, counts.expected,
                        source.unit, counts.received)
    params["gaps_closed"] = gaps.close_covered(conn, source.name, topic.name, window, run_id)
    return RunResult(run_id, source.name, topic.name, "fetch", "success", counts, params)


@contextmanager
def _gap_on_failure(conn: sqlite3.Connection) -> Iterator[list[int]]:
    """Open a monitoring gap for the fetch run put in the list, when the block fails (the run
    is recorded as failed or interrupted by then)."""
    run: list[int] = []
    try:
        yield run
    except BaseException:
        if run:
            gaps.record_failure(conn, run[0])
        raise


def _budget(config: Config) -> "Deadline":
    from .http import Deadline

    return Deadline(config.run_budget_seconds)


@contextmanager
def _within(budget: "Deadline", client: Any, source: Source, counts: Counts) -> Iterator[None]:
    """Run a block with the run's time budget on the client's requests (a client passed in
    without one gets it for the run); when the budget is spent, say so in one line."""
    http = client.http
    lent = http.budget is None
    if lent:
        http.budget = budget
    try:
        yield
    except DeadlineExceeded:
        spent = next((d for d in (http.budget, budget) if d is not None and d.expired), None)
        if spent is None:
            raise  # one request's own deadline, not the run's
        expected = "" if counts.expected is None else f" of {counts.expected}"
        raise DeadlineExceeded(
            f"{source.label}: the run's time budget of {_duration(spent.seconds)} is spent "
            f"({counts.received}{expected} {source.unit} arrived and are kept); the run is marked failed and the "
            f"next run will ask again ([run] budget_minutes or LITWATCH_RUN_BUDGET sets the budget)") from None
    finally:
        if lent:
            http.budget = None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    minutes = seconds / 60
    return f"{minutes:g} minutes" if minutes < 120 else f"{minutes / 60:g} hours"


def unreachable(conn: sqlite3.Connection, source: Source, topic: Topic, url: str, *, gap: bool = True) -> None:
    """Record a fetch of the topic that could not start: the service did not answer (and, with
    ``gap``, the window it was to cover as a monitoring gap)."""
    from .runs import finish_run, start_run
    from .store.writes import Counts

    run_id = start_run(conn, topic=topic.name, source=source.name, kind="fetch", query=source.query_text(topic),
                       params={"url": url})
    finish_run(conn, run_id, "failed", Counts(), error=f"{source.label} could not be reached ({source.service})")
    if gap:
        gaps.record_failure(conn, run_id)


def follow_links(conn: sqlite3.Connection, config: Config, sources: Iterable[Source],
                 clients: dict[str, Any] | None = None, progress: Meter | None = None) -> list[RunResult]:
    """Fetch, by ID and in batched requests, the linked records the topic queries missed.

    One hop only: records fetched here are not followed further. The links must be current
    (:func:`litwatch.evidence.refresh`) before. IDs the source did not serve are remembered
    (:mod:`litwatch.absent`) and not asked for again until they have rested a while.
    ``progress`` meters the IDs asked of those to ask.
    """
    from . import absent

    results = []
    for source in sources:
        ids = source.missing_links(conn)
        known = absent.resting(conn, source.name, ids)
        ids = [i for i in ids if str(i) not in known]
        if not ids:
            if known:
                log.info("%s: %d linked %s known to be absent, asked again from %s", source.label, len(known),
                         source.unit, absent.next_try(conn, source.name))
            continue
        budget = _budget(config)
        client = (clients or {}).get(source.name) or source.client(config.settings(source), budget=budget)
        params: dict[str, Any] = {"ids": ids, "known_absent": len(known)}
        with recorded_run(conn, topic=None, source=source.name, kind="follow", params=params,
                          stats=client.http.stats) as (run_id, counts), _within(budget, client, source, counts):
            counts.expected = len(ids)
            advance = start(progress, f"{source.name} linked {source.unit}", len(ids), source.unit)
            for batch in source.fetch_ids(client, ids):
                saved = source.save(conn, batch, run_id=run_id, topic=None, origin="live")
                counts.add(saved)
                if advance:
                    advance(saved.received)
            still = {str(i) for i in source.missing_links(conn)}
            missed = [i for i in ids if str(i) in still]
            absent.remember(conn, source.name, missed, served=[i for i in ids if str(i) not in still])
            params["absent"] = len(missed)
            if advance and missed:
                advance(len(missed), f"{len(missed)} not at {source.label}")  # asked too: the bar ends full
        results.append(RunResult(run_id, source.name, None, "follow", "success", counts, params))
    return results


def source_for(fmt: str, head: bytes, path: Path) -> Source:
    """The source whose records a file of this format holds."""
    for source in all_sources():
        if source.reads(fmt, head):
            return source
    raise UnknownFormat(f"{path}: {fmt} files hold no records litwatch reads")


def import_file(conn: sqlite3.Connection, path: str | Path, *, topic: str | None = None, origin: str = "import",
                progress: Progress | None = None) -> RunResult:
    """Import one file (the format is read from the content, not the name); one recorded run.

    ``progress`` receives the bytes read from disk since its last call, and the records read.
    :raises LitwatchError: the file is unreadable, of no known format, or malformed.
    """
    path = Path(path)
    with open_input(path) as (fmt, stream, raw, head):
        source = source_for(fmt, head, path)
        params: dict[str, Any] = {"file": str(path), "format": fmt}
        with recorded_run(conn, topic=topic, source=source.name, kind="import", params=params) as (run_id, counts):
            last = 0
            for batch in source.read(fmt, stream, str(path)):
                counts.add(source.save(conn, batch, run_id=run_id, topic=topic, origin=origin))
                if progress:
                    pos = raw.tell()
                    progress(pos - last, f"{counts.received:,} {source.unit}")
                    last = pos
            counts.expected = counts.received
    return RunResult(run_id, source.name, topic, "import", "success", counts, params)


def reparse(conn: sqlite3.Connection, sources: Iterable[Source] | None = None) -> list[RunResult]:
    """Rebuild every source's normalized rows from the raw copies stored with them (no
    network): after a parser fix, old records get what the fixed parser reads. One recorded
    run per source; ``received`` counts the records reparsed, ``updated`` those whose rows
    changed."""
    from .evidence import mark_stale
    from .store.writes import rewrite

    mark_stale(conn)  # designs, links and relevance follow the reparsed rows
    results = []
    for source in sources or all_sources():
        params: dict[str, Any] = {}
        with recorded_run(conn, topic=None, source=source.name, kind="reparse", params=params) as (run_id, counts):
            for batch in source.reparse(conn):
                counts.received += len(batch)
                changed = rewrite(conn, source.writer, batch)
                counts.updated += changed
                counts.unchanged += len(batch) - changed
            counts.expected = counts.received
            params["without_raw"] = conn.execute(
                f"SELECT count(*) FROM [{source.family.table}]").fetchone()[0] - counts.received
        results.append(RunResult(run_id, source.name, None, "reparse", "success", counts, params))
    return results


__all__ = ["LitwatchError", "fetch_topic", "follow_links", "import_file", "source_for"]
