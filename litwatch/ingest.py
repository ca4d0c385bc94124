"""Runs: fetch a topic from a source, or import files, into the store, with a run log.

Data flows one way: a client fetches (or a file is opened), a parser turns bytes into
rows, :mod:`litwatch.store` saves them in whole batches, and the run row records what
happened. A failed run is recorded as failed and leaves earlier data intact; its
incremental window is not advanced, so the next run asks again.
"""

from __future__ import annotations

import collections
import io
import json
import logging
import multiprocessing
import os
import sqlite3
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import sqlite_utils

from .config import Config, Topic
from .sources.ctgov.client import REQUESTS_PER_SECOND, CtgovClient, search_params
from .sources.ctgov.parse import parse_study, read_json
from .errors import IncompleteFetch, LitwatchError, ParseError
from .files import JSON, MEDLINE, PUBMED_XML, open_input
from .http import HttpClient, HttpStats
from .sources.pubmed.client import PubMedClient, SearchResult
from .sources.pubmed.parse import Event, iter_medline, iter_xml, parse_xml_bytes, split_xml
from .store import (
    ARTICLES,
    Counts,
    create_stage,
    delete_articles,
    finish_run,
    last_success,
    merge_stage,
    prepare_records,
    save_articles,
    save_trials,
    start_run,
    write_stage,
)

log = logging.getLogger(__name__)

# How far back an incremental run reaches before the last successful run's start:
# records indexed late on that day, or dated by NCBI in US Eastern time, are not missed.
OVERLAP_DAYS = 3
# Records per store transaction when importing files.
IMPORT_BATCH = 500


@dataclass
class RunResult:
    """The outcome of one run, as recorded in the ``runs`` table."""

    run_id: int
    source: str
    topic: str | None
    status: str
    counts: Counts
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@contextmanager
def recorded_run(db: sqlite_utils.Database, *, topic: str | None, source: str, kind: str,
                 params: dict[str, Any], query: str | None = None,
                 stats: HttpStats | None = None) -> Iterator[tuple[int, Counts]]:
    """Record a run around a block: ``running`` on entry, then ``success``, ``failed`` (with
    the error's one-line message) or ``interrupted`` (Ctrl-C, SIGTERM). ``params`` may be
    filled in by the block; the HTTP requests and retries made (from ``stats``) and the
    duration are added to them.
    """
    run_id = start_run(db, topic=topic, source=source, kind=kind, query=query, params=params)
    counts = Counts()
    started = time.monotonic()
    before = (stats.requests, stats.retries) if stats else (0, 0)

    def finish(status: str, error: str | None = None) -> None:
        params["seconds"] = round(time.monotonic() - started, 3)
        if stats:
            params["requests"], params["retries"] = stats.requests - before[0], stats.retries - before[1]
        finish_run(db, run_id, status, counts, error=error, params=params)

    try:
        yield run_id, counts
    except LitwatchError as e:
        finish("failed", str(e))
        raise
    except BaseException as e:  # Ctrl-C, SIGTERM or a bug: record it, never leave 'running'
        finish("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", f"{type(e).__name__}: {e}")
        raise
    finish("success")


def pubmed_client(config: Config, http: HttpClient | None = None) -> PubMedClient:
    """A PubMed client for ``config``, paced at NCBI's limit for the key (or lack of one)."""
    # NCBI allows 3 requests/s without a key and 10 with one; stay a little under
    # (Bio.Entrez found 1/3 s spacing still drew 429s).
    rate = 9.0 if config.ncbi_api_key else 2.8
    http = http or HttpClient(per_second=rate)
    return PubMedClient(http, config.eutils_url, api_key=config.ncbi_api_key,
                        email=config.ncbi_email, tool=config.ncbi_tool)


def fetch_pubmed(db: sqlite_utils.Database, config: Config, topic: Topic, *,
                 full: bool = False, since: date | None = None,
                 client: PubMedClient | None = None) -> RunResult:
    """Fetch the topic's PubMed records: all of them, or those added or revised since the
    last successful run (``since`` overrides; ``full`` forces everything).

    :raises LitwatchError: after recording the run as failed.
    """
    client = client or pubmed_client(config)
    window_start = None if full else (since or _incremental_start(db, topic.name, "pubmed"))
    params: dict[str, Any] = {
        "mode": "full" if window_start is None else "incremental",
        "since": window_start.isoformat() if window_start else None,
        "eutils_url": config.eutils_url,
    }
    with recorded_run(db, topic=topic.name, source="pubmed", kind="fetch", query=topic.pubmed_query,
                      params=params, stats=client.http.stats) as (run_id, counts):
        searches = _plan_searches(client, topic.pubmed_query, window_start)
        params["searches"] = [s.describe() for s in searches]
        params["query_translation"] = next((s.translation for s in searches if s.translation), None)
        counts.expected = sum(s.count for s in searches)
        seen: set[int] = set()
        for search in searches:
            served = 0
            for events in client.efetch(search):
                served += sum(1 for e in events if e.kind in ("article", "book"))
                _store_events(db, events, run_id, topic.name, counts, seen)
            if served < search.count:
                raise IncompleteFetch(
                    f"PubMed reported {search.count} records for {search.describe()} but served "
                    f"{served}; the run is marked failed and the next run will ask again")
    return RunResult(run_id, "pubmed", topic.name, "success", counts, params)


def ctgov_client(config: Config, http: HttpClient | None = None) -> CtgovClient:
    """A ClinicalTrials.gov client for ``config``, paced at one request per second."""
    return CtgovClient(http or HttpClient(per_second=REQUESTS_PER_SECOND), config.ctgov_url)


def fetch_ctgov(db: sqlite_utils.Database, config: Config, topic: Topic, *,
                full: bool = False, since: date | None = None,
                client: CtgovClient | None = None) -> RunResult:
    """Fetch the topic's ClinicalTrials.gov studies: all of them, or those updated since the
    last successful run (``since`` overrides; ``full`` forces everything), recording what
    changed in each study.

    :raises IncompleteFetch: when fewer studies arrive than the service counted (what did
        arrive is stored; the run is marked failed so the next run asks again).
    """
    client = client or ctgov_client(config)
    window_start = None if full else (since or _incremental_start(db, topic.name, "ctgov"))
    query = search_params(topic, window_start)
    params: dict[str, Any] = {
        "mode": "full" if window_start is None else "incremental",
        "since": window_start.isoformat() if window_start else None,
        "ctgov_url": config.ctgov_url, "query": query, "pages": 0,
    }
    with recorded_run(db, topic=topic.name, source="ctgov", kind="fetch",
                      query=json.dumps({k: v for k, v in query.items() if k.startswith(("query.", "filter."))}),
                      params=params, stats=client.http.stats) as (run_id, counts):
        for page in client.pages(query):
            params["pages"] += 1
            if counts.expected is None and "totalCount" in page:
                counts.expected = page["totalCount"]
            records = [parse_study(study) for study in page["studies"]]
            counts.add(save_trials(db, records, run_id, topic.name))
        if counts.expected is not None and counts.received < counts.expected:
            raise IncompleteFetch(
                f"ClinicalTrials.gov reported {counts.expected} studies but served {counts.received} "
                f"over {params['pages']} pages; those are stored, the run is marked failed and the "
                f"next run will ask again")
        if counts.expected is not None and counts.received > counts.expected:
            log.warning("ClinicalTrials.gov reported %d studies but served %d (studies added while paging)",
                        counts.expected, counts.received)
    return RunResult(run_id, "ctgov", topic.name, "success", counts, params)


def missing_links(db: sqlite_utils.Database) -> tuple[list[str], list[int]]:
    """Records the topics' records link to but the store lacks: the trials behind their
    papers' NCT IDs, and the papers their trials list as RESULT (or DERIVED) references."""
    nct_ids = [row[0] for row in db.execute(
        "SELECT DISTINCT l.nct_id FROM article_trial_links l JOIN article_topics t ON t.pmid = l.pmid "
        "WHERE l.nct_id NOT IN (SELECT nct_id FROM trials) ORDER BY l.nct_id")]
    pmids = [row[0] for row in db.execute(
        "SELECT DISTINCT l.pmid FROM article_trial_links l JOIN trial_topics t ON t.nct_id = l.nct_id "
        "WHERE l.source = 'ctgov_reference' AND l.reference_type IN ('RESULT', 'DERIVED') "
        "AND l.pmid NOT IN (SELECT pmid FROM articles) ORDER BY l.pmid")]
    return nct_ids, pmids


FOLLOW_BATCH = 500  # IDs per request: PubMed takes them in one POST, ClinicalTrials.gov in filter.ids


def follow_links(db: sqlite_utils.Database, config: Config, *, sources: tuple[str, ...] = ("pubmed", "ctgov"),
                 pubmed: PubMedClient | None = None, ctgov: CtgovClient | None = None) -> list[RunResult]:
    """Fetch, by ID and in batched requests, the linked records the topic queries missed,
    from the given ``sources`` only.

    One hop only: records fetched here are not followed further. Call
    :func:`litwatch.evidence.refresh` before (to know the links) and after.
    """
    nct_ids, pmids = missing_links(db)
    nct_ids = nct_ids if "ctgov" in sources else []
    pmids = pmids if "pubmed" in sources else []
    results = []
    if nct_ids:
        ctgov = ctgov or ctgov_client(config)
        params: dict[str, Any] = {"ids": nct_ids}
        with recorded_run(db, topic=None, source="ctgov", kind="follow", params=params,
                          stats=ctgov.http.stats) as (run_id, counts):
            counts.expected = len(nct_ids)
            for i in range(0, len(nct_ids), FOLLOW_BATCH):
                studies = ctgov.studies_by_id(nct_ids[i:i + FOLLOW_BATCH])
                counts.add(save_trials(db, [parse_study(s) for s in studies], run_id))
        results.append(RunResult(run_id, "ctgov", None, "success", counts, params))
    if pmids:
        pubmed = pubmed or pubmed_client(config)
        params = {"ids": pmids}
        with recorded_run(db, topic=None, source="pubmed", kind="follow", params=params,
                          stats=pubmed.http.stats) as (run_id, counts):
            counts.expected = len(pmids)
            for i in range(0, len(pmids), FOLLOW_BATCH):
                _store_events(db, pubmed.efetch_ids(pmids[i:i + FOLLOW_BATCH]), run_id, None, counts)
        results.append(RunResult(run_id, "pubmed", None, "success", counts, params))
    for result in results:
        if result.counts.received < (result.counts.expected or 0):
            log.warning("%s: %d of %d linked records exist at the source", result.source,
                        result.counts.received, result.counts.expected)
    return results


def _plan_searches(client: PubMedClient, term: str, since: date | None) -> list[SearchResult]:
    if since is None:
        return client.search(term)
    # Added (entry date) or revised (modification date) since the window start.
    return client.search(term, datetype="edat", mindate=since) + \
        client.search(term, datetype="mdat", mindate=since)


def _incremental_start(db: sqlite_utils.Database, topic: str, source: str) -> date | None:
    started = last_success(db, topic, source)
    if not started:
        return None
    return datetime.fromisoformat(started.replace("Z", "+00:00")).date() - timedelta(days=OVERLAP_DAYS)


def _store_events(db: sqlite_utils.Database, events: Iterable[Event], run_id: int,
                  topic: str | None, counts: Counts, seen: set[int] | None = None) -> None:
    """Save a batch of parsed events in file order: articles, then any deletions."""
    batch = []
    for event in events:
        if event.kind == "article":
            pmid = event.record["articles"]["pmid"]
            if seen is not None:
                if pmid in seen:
                    continue  # already stored by an overlapping search of this run
                seen.add(pmid)
            batch.append(event.record)
        elif event.kind == "delete":
            counts.add(save_articles(db, batch, run_id, topic))
            batch = []
            counts.deleted += delete_articles(db, event.pmids)
        else:
            counts.skipped += 1
            log.warning("skipped book record PMID %s (books are not stored)",
                        event.pmids[0] if event.pmids else "?")
    counts.add(save_articles(db, batch, run_id, topic))


def import_paths(db: sqlite_utils.Database, paths: Iterable[str | Path], *,
                 topic: str | None = None, progress: Callable[[int], None] | None = None,
                 workers: int | None = None) -> list[RunResult]:
    """Import PubMed files (efetch XML, baseline/update ``.xml[.gz]``, MEDLINE text).

    One run is recorded per file. ``progress`` receives bytes read from disk.
    :raises LitwatchError: on the first file that fails (earlier files stay imported).
    """
    results = []
    for path in paths:
        results.append(import_file(db, path, topic=topic, progress=progress, workers=workers))
    return results


def import_file(db: sqlite_utils.Database, path: str | Path, *, topic: str | None = None,
                progress: Callable[[int], None] | None = None, workers: int | None = None) -> RunResult:
    """Import one file; see :func:`import_paths`.

    Large PubMed XML files are parsed by ``workers`` processes (default: one per CPU, at
    most :data:`MAX_WORKERS`) while this process merges their output into the store.
    """
    path = Path(path)
    with open_input(path) as (fmt, stream, raw):
        source = "ctgov" if fmt == JSON else "pubmed"
        params: dict[str, Any] = {"file": str(path), "format": fmt}
        with recorded_run(db, topic=topic, source=source, kind="import", params=params) as (run_id, counts):
            workers = _worker_count(workers, path)
            params["workers"] = workers if fmt == PUBMED_XML else 1
            if fmt == JSON:
                batches = _import_studies(db, stream, path, run_id, topic, counts)
            elif fmt == PUBMED_XML and workers > 1:
                batches = _parallel_xml(db, stream, workers, run_id, topic, counts)
            else:
                batches = (_store_events(db, batch, run_id, topic, counts)
                           for batch in _batches(_events(fmt, stream, path), IMPORT_BATCH))
            last = 0
            for _ in batches:
                if progress:
                    pos = raw.tell()
                    progress(pos - last)
                    last = pos
            counts.expected = counts.received
    return RunResult(run_id, source, topic, "success", counts, params)


def _import_studies(db: sqlite_utils.Database, stream: IO[bytes], path: Path, run_id: int,
                    topic: str | None, counts: Counts) -> Iterator[None]:
    try:
        studies = read_json(stream)
        records = [parse_study(study) for study in studies]
    except ParseError as e:
        raise ParseError(f"{path}: {e}") from None
    for i in range(0, len(records), IMPORT_BATCH):
        counts.add(save_trials(db, records[i:i + IMPORT_BATCH], run_id, topic))
        yield None


# Parallel import: the file is cut into pieces of whole records (split_xml); workers
# parse each piece and write its rows into a staging SQLite file; this process attaches
# each staging file in order and merges it (merge_stage), which is plain SQL. Rows never
# travel between processes as Python objects, which would cost more than parsing.
MAX_WORKERS = 4
PARALLEL_MIN_BYTES = 4 << 20
PIECE_BYTES = 1 << 20  # ~170 records: small pieces keep every process under 100 MB


def _worker_count(requested: int | None, path: Path) -> int:
    if threading.active_count() > 1:
        # Forking a process that runs other threads (a notebook kernel, a server) can
        # deadlock the child on a lock one of them held; parse in this process instead.
        if requested and requested > 1:
            log.info("other threads are running: parsing %s in this process", path)
        return 1
    if requested is not None:
        return max(1, requested)
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def _parallel_xml(db: sqlite_utils.Database, stream: IO[bytes], workers: int, run_id: int,
                  topic: str | None, counts: Counts) -> Iterator[None]:
    # fork: workers only run stage_xml_piece and never touch this process's connection;
    # spawn would re-import the caller's __main__ (scripts, notebooks) in each worker.
    # _worker_count only allows it when this process runs no other thread.
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="litwatch-") as tmp, context.Pool(workers) as pool:
        pending: collections.deque = collections.deque()
        pieces = enumerate(split_xml(stream, PIECE_BYTES))
        while True:
            while len(pending) < workers * 2:  # bounded read-ahead keeps memory flat
                item = next(pieces, None)
                if item is None:
                    break
                i, piece = item
                pending.append(pool.apply_async(stage_xml_piece, (piece, os.path.join(tmp, f"{i}.db"))))
            if not pending:
                break
            try:
                staged, deletes, books = pending.popleft().get()
            except ParseError as e:
                raise ParseError(f"{stream_name(stream)}: {e}") from None
            _merge_file(db, staged, run_id, topic, counts)
            counts.deleted += delete_articles(db, deletes)
            counts.skipped += books
            yield None


def stage_xml_piece(piece: bytes, staged: str) -> tuple[str, list[int], int]:
    """Worker: parse one piece of a PubMed XML file into a staging database file.

    Returns the file, the PMIDs its DeleteCitation block deletes, and how many book
    records were skipped.
    """
    records, deletes, books = [], [], 0
    for event in parse_xml_bytes(piece):
        if event.kind == "article":
            records.append(event.record)
        elif event.kind == "delete":
            deletes += event.pmids
        else:
            books += 1
    conn = sqlite3.connect(staged)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        create_stage(conn, "main", ARTICLES)
        write_stage(conn, "main", ARTICLES, prepare_records(ARTICLES, records))
        conn.commit()
    finally:
        conn.close()
    return staged, deletes, books


def _merge_file(db: sqlite_utils.Database, staged: str, run_id: int, topic: str | None,
                counts: Counts) -> None:
    conn = db.conn
    conn.execute("ATTACH DATABASE ? AS stage", (staged,))
    try:
        counts.add(merge_stage(conn, "stage", ARTICLES, run_id, topic))
    finally:
        conn.execute("DETACH DATABASE stage")
        os.remove(staged)


def stream_name(stream: Any) -> str:
    return getattr(getattr(stream, "raw", None), "name", None) or getattr(stream, "name", "input")


def _events(fmt: str, stream: io.BufferedIOBase, path: Path) -> Iterator[Event]:
    try:
        if fmt == PUBMED_XML:
            yield from iter_xml(stream)
        elif fmt == MEDLINE:
            text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
            try:
                yield from iter_medline(text)
            finally:
                text.detach()  # closing the wrapper would close the file under the caller
        else:
            raise ParseError(f"{path}: {fmt} files are not PubMed records")
    except ParseError as e:
        raise ParseError(f"{path}: {e}") from None
    except (OSError, EOFError) as e:  # truncated or corrupt gzip
        raise ParseError(f"{path}: cannot read ({e})") from None


def _batches(events: Iterator[Event], size: int) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size or event.kind == "delete":
            yield batch
            batch = []
    if batch:
        yield batch
