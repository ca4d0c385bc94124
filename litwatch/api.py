"""litwatch as a library: every command is one call here, usable from a notebook, a
scheduler written in Python or a test exactly as the command line uses it.

Functions that write take ``db`` as a path (the write lock is taken, the database opened,
created or upgraded, and closed again) or as an open ``sqlite3.Connection`` (used as is:
the caller holds the lock). Progress reaches the caller through optional callbacks;
nothing here prints.

    >>> import litwatch
    >>> summary = litwatch.update("data/litwatch.db", output="report.html")  # doctest: +SKIP
    >>> summary["status"]                                                     # doctest: +SKIP
    'success'
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import evidence, gaps
from .config import Config, Topic, load_config
from .errors import LitwatchError, Unexpected, Unreachable, UsageError, debugging
from .lock import RunLock, abandoned_runs, close_abandoned_runs
from .progress import Meter
from .redact import printable
from .runs import RunResult, last_run_id, session, summary
from .sources import all_sources, get, in_words
from .sources.base import Source
from .catalog import open_db, schema
from .store.db import check_path, scalar, transaction
from .sync import fetch_topic, follow_links, import_file, unreachable

log = logging.getLogger(__name__)

DEFAULT_DB = "data/litwatch.db"
Db = str | Path | sqlite3.Connection
OnResult = Callable[[RunResult], None]
OnError = Callable[[str, LitwatchError], None]  # (what failed, why)
Echo = Callable[[str], None]


@contextmanager
def writing(db: Db, wait: float = 0.0, *, check_parsers: bool = True) -> Iterator[sqlite3.Connection]:
    """A connection to write through: a path is locked, opened and closed; runs left
    'running' by a process that died are marked interrupted first."""
    if isinstance(db, sqlite3.Connection):
        yield db
        return
    check_path(db)  # a device or a pipe is refused before a lock file is made beside it
    with RunLock(db, wait=wait):
        conn = open_db(db)
        try:
            abandoned = close_abandoned_runs(conn, [s.family.table for s in all_sources()])
            if abandoned:
                log.warning("marked %d run(s) of a process that died as interrupted", abandoned)
            pending = conn.execute("SELECT 1 FROM settings WHERE key = 'gaps' AND value = 'pending'").fetchone()
            if abandoned or pending:
                # What failed fetches without a gap were to cover is a gap: the runs of a process
                # that died, and the failures recorded before gaps were (schema 4 and older).
                with transaction(conn):
                    gaps.open_missing(conn)
                    conn.execute("DELETE FROM settings WHERE key = 'gaps'")
            if check_parsers:
                _check_parsers(conn)
            yield conn
        finally:
            conn.close()


def _check_parsers(conn: sqlite3.Connection) -> None:
    """Say when a source's records were read by an older parser than this litwatch's (the
    fix reaches them through `litwatch reparse`); a source with no records yet is current."""
    for source in all_sources():
        key = f"parser:{source.name}"
        row = conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        stored = int(row[0]) if row else None
        if stored == source.parser_version:
            continue
        if not conn.execute(f"SELECT 1 FROM [{source.family.table}] LIMIT 1").fetchone():
            with transaction(conn):
                conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                             [key, str(source.parser_version)])
        elif (stored or 1) < source.parser_version:
            log.warning("%s records in this database were read by an older litwatch (parser version %d, now %d): "
                        "run `litwatch reparse` to read them again from their stored copies", source.label,
                        stored or 1, source.parser_version)


@contextmanager
def reading(db: Db) -> Iterator[sqlite3.Connection]:
    """A read-only connection (a path must name an existing litwatch database). Runs a process
    that died left 'running' are seen as interrupted (see :func:`_see_abandoned`)."""
    if isinstance(db, sqlite3.Connection):
        yield db
        return
    conn = open_db(db, readonly=True)
    try:
        _see_abandoned(conn, db)
        yield conn
    finally:
        conn.close()


def _see_abandoned(conn: sqlite3.Connection, db: str | Path) -> None:
    """Runs left 'running' by a process that died (killed with ``kill -9``, a machine that
    stopped) are recorded as interrupted, with the gaps they leave, as the next writer would
    record them; when the database cannot be written here, this connection shows them so."""
    from .runs import show_interrupted

    abandoned = abandoned_runs(conn, db)
    if not abandoned:
        return
    try:
        with writing(db, check_parsers=False):
            pass  # writing() closes abandoned runs first
    except (LitwatchError, sqlite3.Error, OSError) as e:
        log.warning("%d run(s) of a process that died are shown as interrupted; they cannot be recorded so here "
                    "(%s): the next run that writes records it", len(abandoned), printable(str(e)))
        show_interrupted(conn, abandoned)


def current(db: Db, config: Config) -> None:
    """Recompute which records are on each topic whose concepts changed in the configuration
    since they were placed (or that is new to a store of records), so that nothing read next
    mixes new terms with old counts. Needs write access: without it, one line says how."""
    with reading(db) as conn:
        changed = evidence.stale(conn, config.topics)
        rules = evidence.outdated(conn)
    if not changed and not rules:
        return
    what = (f"the terms of topic {', '.join(t.name for t in changed)} changed since its records were placed"
            if changed else "this litwatch's study-design rules are newer than the stored designs")
    try:
        with writing(db) as conn:
            evidence.refresh(conn, config.topics)
    except (LitwatchError, sqlite3.Error, OSError) as e:
        raise UsageError(f"{what}, and the database cannot be brought up to date here ({printable(str(e))}): run "
                         f"`litwatch migrate` where the database can be written, then try again") from None
    log.warning("%s: recomputed before reading", what)


def _topics(config: Config, names: Iterable[str]) -> list[Topic]:
    names = list(names)
    return [config.topic(n) for n in names] if names else list(config.topics)


def _sources(names: Iterable[str]) -> list[Source]:
    names = list(names)
    return [get(n) for n in names] if names else all_sources()


Errors = list[dict[str, str]]


@contextmanager
def contained(what: str, errors: Errors, on_error: OnError | None = None) -> Iterator[None]:
    """Run one step of a command (a source's fetch, a file, the report): when it fails, the
    error is kept in ``errors`` and passed to ``on_error`` (one line each), and the command
    goes on with its next step.

    An exception litwatch did not foresee (a bug, a fault no rule covers) is contained the
    same way, as :class:`~litwatch.errors.Unexpected`, its traceback logged at debug level;
    a run it broke is already recorded as failed. With ``LITWATCH_DEBUG`` set it propagates
    instead, so that a test meets the bug itself.
    """
    try:
        yield
    except LitwatchError as e:
        _failed(what, e, errors, on_error)
    except Exception as e:
        if debugging():
            raise
        log.debug("%s failed", printable(what), exc_info=True)
        _failed(what, Unexpected(e), errors, on_error)


def _failed(what: str, error: LitwatchError, errors: Errors, on_error: OnError | None) -> None:
    errors.append({"what": printable(what), "error": printable(str(error))})
    if on_error:
        on_error(what, error)


def _summary(conn: sqlite3.Connection, first: int, extra: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """The runs' summary with the errors of the steps that failed; a step that failed outside
    any run (a file refused before it began, the report) makes a success partial, or a
    command that made no run failed."""
    out = summary(conn, first, extra)
    out["errors"] = errors
    if errors and out["status"] == "success":
        out["status"] = "partial" if out["runs"] else "failed"
    return out


def fetch(db: Db, config: Config | None = None, *, topics: Iterable[str] = (), sources: Iterable[str] = (),
          full: bool = False, since: date | None = None, follow: bool = True, wait: float = 0.0,
          on_result: OnResult | None = None, on_error: OnError | None = None,
          on_skip: Echo | None = None, progress: Meter | None = None) -> dict[str, Any]:
    """Fetch every topic (or those named) from every source (or those named), follow the
    links to records the queries missed, and bring the evidence layer up to date.

    One source failing, for whatever reason, does not stop the others (see :func:`contained`);
    a source that cannot be reached at all is not asked again in this call (its other
    topics and its linked records are skipped, each with one ``on_skip`` line).
    ``progress`` meters each fetch and the following of links (see :mod:`litwatch.progress`).
    Returns the summary of the runs made (``status``: success, partial or failed; ``runs``;
    ``evidence``; ``errors``: one ``{"what", "error"}`` per step that failed).
    """
    config = config or load_config()
    chosen = _sources(sources)
    skip = on_skip or (lambda line: None)
    errors: Errors = []
    down: set[str] = set()  # sources that could not be reached
    with writing(db, wait) as conn, session():
        first = last_run_id(conn)
        for source in chosen:  # what a service asks of its clients, said once, if a topic asks it
            advice = source.advice(config.settings(source))
            if advice and any(source.query(t) is not None for t in _topics(config, topics)):
                log.warning("%s", advice)
        for topic in _topics(config, topics):
            for source in chosen:
                if source.query(topic) is None:
                    skip(f"{source.name} {topic.name}: skipped (the topic has no {source.label} query)")
                    continue
                if source.name in down:
                    unreachable(conn, source, topic, config.settings(source).url)
                    skip(f"{source.name} {topic.name}: skipped ({source.label} could not be reached)")
                    continue
                with contained(f"{source.name} {topic.name}", errors, on_error):
                    try:
                        result = fetch_topic(conn, config, source, topic, full=full, since=since, progress=progress)
                    except Unreachable:
                        down.add(source.name)
                        raise
                    if on_result:
                        on_result(result)
        if follow:
            # Links are followed only into the sources the topics use (or whose URL is configured):
            # a service a topic never asks is not asked for its linked records either.
            used = [s for s in chosen if s.name in config.urls or any(s.query(t) is not None
                                                                       for t in _topics(config, topics))]
            for source in used:
                if source.name in down and source.missing_links(conn):
                    skip(f"{source.name} linked {source.unit}: skipped ({source.label} could not be reached)")
            with contained("following links", errors, on_error):
                evidence.refresh(conn, config.topics)  # the links tell what to follow
                reachable = [s for s in used if s.name not in down]
                for result in follow_links(conn, config, reachable, progress=progress):
                    if on_result:
                        on_result(result)
        extra: dict[str, Any] = {}
        with contained("evidence", errors, on_error):
            extra["evidence"] = evidence.refresh(conn, config.topics)
        return _summary(conn, first, extra, errors)


def reconcile(db: Db, config: Config | None = None, *, topics: Iterable[str] = (), sources: Iterable[str] = (),
              wait: float = 0.0, on_result: OnResult | None = None, on_error: OnError | None = None,
              on_skip: Echo | None = None, progress: Meter | None = None, accept: bool = False) -> dict[str, Any]:
    """Compare each topic's stored records with the full ID list its search holds at each
    source (or those named): fetch the missing, flag those that left the search (kept, with
    an event), then refresh the evidence. One source failing does not stop the others. A
    listing that would flag a mass of records (none listed where records are stored; more than
    a fifth of them, or 50) fails its run and flags nothing, unless ``accept``.

    Returns the runs' summary plus ``reconciled``: per source and topic, ``listed`` (IDs the
    service listed), ``expected`` (the count it gave), ``stored``, ``fetched``, ``left``,
    ``returned``, ``not_served``. ``progress`` meters the missing records fetched (see
    :mod:`litwatch.progress`).
    """
    from .reconcile import reconcile_topic, reconciles

    config = config or load_config()
    errors: Errors = []
    done: list[dict[str, Any]] = []
    with writing(db, wait) as conn, session():
        first = last_run_id(conn)
        for topic in _topics(config, topics):
            for source in _sources(sources):
                if source.query(topic) is None or not reconciles(source):
                    if on_skip:
                        why = (f"the topic has no {source.label} query" if source.query(topic) is None
                               else f"{source.label} cannot list a search's IDs alone")
                        on_skip(f"{source.name} {topic.name}: not reconciled ({why})")
                    continue
                with contained(f"{source.name} {topic.name}", errors, on_error):
                    result = reconcile_topic(conn, config, source, topic, progress=progress, accept=accept)
                    done.append({"source": source.name, "topic": topic.name, "run_id": result.run_id,
                                 "expected": result.counts.expected,
                                 **{k: result.params[k] for k in ("listed", "stored", "fetched", "left", "returned",
                                                                  "not_served")}})
                    if on_result:
                        on_result(result)
        extra: dict[str, Any] = {"reconciled": done}
        if done:
            with contained("evidence", errors, on_error):
                extra["evidence"] = evidence.refresh(conn, config.topics)
        return _summary(conn, first, extra, errors)


def import_paths(db: Db, paths: Iterable[str | Path], config: Config | None = None, *, topic: str | None = None,
                 origin: str = "import", wait: float = 0.0, progress: Meter | None = None,
                 on_result: OnResult | None = None, on_error: OnError | None = None) -> dict[str, Any]:
    """Import files (PubMed XML or MEDLINE text, ClinicalTrials.gov JSON...; the format is read
    from the content); a file that fails is reported and the others still load.

    ``progress`` meters each file's bytes read (with the records read as its note; see
    :mod:`litwatch.progress`). Returns the runs' summary, like :func:`fetch`.
    """
    config = config or load_config()
    if topic is not None:
        config.topic(topic)  # an unknown topic is a usage error, before anything is written
    errors: Errors = []
    with writing(db, wait) as conn, session():
        first = last_run_id(conn)
        for path in paths:
            with contained(str(path), errors, on_error):
                result = import_file(conn, path, topic=topic, origin=origin,
                                     progress=progress(str(path), _size(path), "bytes") if progress else None)
                if on_result:
                    on_result(result)
        extra: dict[str, Any] = {}
        with contained("evidence", errors, on_error):
            extra["evidence"] = evidence.refresh(conn, config.topics)
            if topic is not None:  # files join the topic only as far as their records match it
                runs = [r[0] for r in conn.execute("SELECT id FROM runs WHERE id > ?", [first])]
                placed = evidence.joined(conn, topic, runs)
                extra["topic"] = {"name": topic, **placed, "left_out": extra["evidence"]["left_out"].get(topic, 0)}
        return _summary(conn, first, extra, errors)


def _size(path: str | Path) -> int | None:
    try:
        return Path(path).stat().st_size
    except OSError:
        return None  # the import says why in its own words


SAMPLE_DIR = Path(__file__).parent / "sample"  # package data: installed with litwatch


def update(db: Db = DEFAULT_DB, config: Config | None = None, *, output: str | Path = "data/report.html",
           fmt: str = "html", wait: float = 0.0, echo: Echo | None = None, on_result: OnResult | None = None,
           on_error: OnError | None = None, feed_output: str | Path | None = None,
           progress: Meter | None = None, changes: str | None = None) -> dict[str, Any]:
    """The scheduled job: fetch every topic from every source, then write the report of the
    first topic to ``output``.

    When no service can be reached and nothing was ever fetched, the bundled real sample is
    imported instead (and the report says so). With ``feed_output``, the first topic's Atom
    feed of events is written there too. ``changes`` is what the report's "what changed"
    covers (default: the configuration's ``changes_since``; ``last-report`` suits a weekly
    reader of a nightly update). Returns the runs' summary plus ``report`` (None when
    it could not be written), ``notice`` (and ``feed_entries``); a step that fails is in
    ``errors`` and the steps after it still run, as in :func:`fetch`.
    """
    from .http import probe

    config = config or load_config()
    say = echo or (lambda line: None)
    with writing(db, wait) as conn, session():
        first = last_run_id(conn)
        if any(probe(s.probe_url(config.settings(s))) for s in all_sources()):  # one answer is enough
            done = fetch(conn, config, on_result=on_result, on_error=on_error, progress=progress)
        elif not scalar(conn, "SELECT count(*) FROM runs WHERE status = 'success'"):
            files = sorted(SAMPLE_DIR.glob("*.json")) + sorted(SAMPLE_DIR.glob("*.xml.gz"))
            if not files:
                raise LitwatchError(f"no service can be reached and the bundled sample is missing ({SAMPLE_DIR})")
            say(f"Offline: {_labels()} cannot be reached; importing the bundled real sample instead of a live "
                f"fetch.")
            _unreached(conn, config, gap=False)  # tried: the report says when and how it ended
            first = last_run_id(conn)  # the fallback is the plan offline, not a failure: exit 0
            done = dict(import_paths(conn, files, config, topic=config.topics[0].name, origin="sample",
                                     on_error=on_error, progress=progress), offline=True)
        else:
            say(f"Offline: {_labels()} cannot be reached; reporting the data already stored.")
            _unreached(conn, config)  # the attempt is recorded, so the report says it failed
            done = {"offline": True, "errors": []}
        errors: Errors = done["errors"]
        extra: dict[str, Any] = {key: done[key] for key in ("evidence", "offline") if key in done}
        extra.update(report=None, notice=None)
        with contained("report", errors, on_error):
            data = write_report(conn, config, fmt=fmt, output=output, record=True, changes=changes)
            extra.update(report=str(output), notice=data["notice"])
        if feed_output:
            with contained("feed", errors, on_error):
                text, extra["feed_entries"] = feed(conn, config)
                write_text(feed_output, text)
        return _summary(conn, first, extra, errors)


def _labels() -> str:
    return in_words([s.label for s in all_sources()])


def _unreached(conn: sqlite3.Connection, config: Config, *, gap: bool = True) -> None:
    """Record each topic's fetch from each of its sources as tried and failed: no service
    answered. With ``gap``, what it was to cover is a monitoring gap (not for the first run of a
    store that falls back to the sample: nothing was being watched yet)."""
    for topic in config.topics:
        for source in all_sources():
            if source.query(topic) is not None:
                unreachable(conn, source, topic, config.settings(source).url, gap=gap)


def build_report(db: Db, config: Config | None = None, *, topic: str | None = None, as_of: date | None = None,
                 since: date | None = None, since_last_report: bool = False,
                 changes: str | None = None) -> dict[str, Any]:
    """The report's data (what ``--format json`` prints) for a topic (default: the first).
    ``changes``: what "what changed" covers (default: the configuration's ``changes_since``)."""
    from .report.build import build_report as build

    config = config or load_config()
    chosen = config.topic(topic)
    current(db, config)
    with reading(db) as conn:
        return build(conn, chosen, as_of=as_of, since=since, since_last_report=since_last_report,
                     changes=changes or config.changes_since)


def render_report(data: dict[str, Any], fmt: str, *, output: str | Path | None = None,
                  charts_dir: str | Path | None = None, section: str = "all") -> str:
    """The report as text: ``md`` (charts written to ``charts_dir`` and linked, if given),
    self-contained ``html``, or ``json``. ``section="summary"`` gives the summary alone: a
    Markdown paragraph with its references, an HTML fragment, or the JSON ``summary``."""
    import os

    from .report import build, charts, render

    if fmt == "json":
        return build.to_json(data["summary"] if section == "summary" else data)
    if section == "summary":
        return render.html(data, {}, section) if fmt == "html" else render.markdown(data, None, section)
    if fmt == "html":
        return render.html(data, charts.svg_charts(data))
    paths = None
    if charts_dir:
        written = charts.write_charts(data, charts_dir)
        base = Path(output).parent if output else Path(".")
        paths = {k: os.path.relpath(v, base) for k, v in written.items()}
    return render.markdown(data, paths)


def write_report(db: Db, config: Config | None = None, *, topic: str | None = None, fmt: str = "md",
                 output: str | Path | None = None, charts_dir: str | Path | None = None,
                 as_of: date | None = None, since: date | None = None, since_last_report: bool = False,
                 section: str = "all", record: bool = False, changes: str | None = None) -> dict[str, Any]:
    """Build and render a report, write it to ``output`` (when given) and return its data
    with the rendered ``text``. ``record`` remembers the report in the database (for the next
    report's ``since_last_report``), which needs a writable database."""
    from .report.build import build_report as build
    from .report.build import record_report

    config = config or load_config()
    config.topic(topic)
    if not record:  # a recording report writes anyway: it refreshes below
        current(db, config)
    opener = writing if record else reading
    with opener(db) as conn:
        if record and evidence.stale(conn, config.topics):
            evidence.refresh(conn, config.topics)
        data = build(conn, config.topic(topic), as_of=as_of, since=since, since_last_report=since_last_report,
                     changes=changes or config.changes_since, output=str(output) if output else None)
        text = render_report(data, fmt, output=output, charts_dir=charts_dir, section=section)
        if output:
            write_text(output, text)
        if record:
            record_report(conn, data, fmt, str(output) if output else None)
    return dict(data, text=text)


def feed(db: Db, config: Config | None = None, *, topic: str | None = None, kinds: Iterable[str] = (),
         limit: int | None = None, link: str | None = None) -> tuple[str, int]:
    """A topic's events (default: the first topic's) as an Atom feed; returns (XML text,
    entries). Entry IDs are stable: a feed reader shows each event once. ``link``, the page
    the feed stands for, must be an http(s) URL.

    :raises UsageError: an unknown event kind, or a ``link`` that is not an http(s) URL.
    """
    from .events import KINDS, events
    from .feed import FEED_ENTRIES, atom
    from .redact import excerpt, web_url

    config = config or load_config()
    chosen = config.topic(topic)
    if link is not None and web_url(link) is None:
        raise UsageError(f"the feed's link (--link) must be an http(s) URL, got '{excerpt(link)}'")
    kinds = list(kinds)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise UsageError(f"unknown event kind(s): {', '.join(unknown)} (known: {', '.join(KINDS)})")
    current(db, config)
    with reading(db) as conn:
        items = events(conn, chosen.name, kinds=kinds, limit=limit or FEED_ENTRIES)
        checked = conn.execute("SELECT max(finished_at) FROM runs WHERE status != 'running'").fetchone()[0]
    return atom(chosen, items, link=link, checked=checked), len(items)


def _plain(mail: Any) -> str:
    """The plain-text part of a digest message."""
    body = mail.get_body(("plain",))
    return body.get_content() if body is not None else ""


def notify(db: Db, config: Config | None = None, *, topics: Iterable[str] = (), dry_run: bool = False,
           wait: float = 0.0) -> dict[str, Any]:
    """Send the e-mail digest of the events not sent yet (every topic, or those named), over
    the SMTP server of ``[notify]``; with ``dry_run``, return it as text and send nothing.
    Returns ``{"events", "sent", "to", "refused", "text", "message_id"}``: ``to`` the
    addresses the server accepted, ``refused`` those it refused (address -> its reply).

    Delivery is at most once per event (see :mod:`litwatch.notify`): the digest is recorded
    under the write lock, sent with the lock released (a fetch may start meanwhile), and its
    outcome recorded in one small transaction; digests an earlier notify left unsettled are
    settled first, each with a warning.

    :raises NotifyError: the send failed (the events stay unsent for next time), or the
        message was handed over and the answer lost (they are not sent again).
    """
    from .config import Notify
    from .notify import (Delivery, Undelivered, deliver, failure, mark_backlog, message, pending, record, reopened,
                         settle, settle_abandoned)

    config = config or load_config()
    settings = config.notify
    if settings is None:
        if not dry_run:
            raise UsageError("no SMTP server configured: add a [notify] table to litwatch.toml (smtp_host, from, to) "
                             "or set LITWATCH_SMTP_HOST, LITWATCH_NOTIFY_FROM and LITWATCH_NOTIFY_TO")
        settings = Notify(smtp_host="(not configured)", sender="litwatch@example.org", to=("you@example.org",))
    chosen = _topics(config, topics)
    current(db, config)
    result: dict[str, Any] = {"events": 0, "sent": 0, "to": list(settings.to), "refused": {}, "text": "",
                              "message_id": None}
    if dry_run:
        with reading(db) as conn:
            digest = pending(conn, config, chosen, settings)
            text = _plain(message(config, digest, settings)) if digest.count else ""
        return dict(result, events=digest.count, text=text)
    with writing(db, wait) as conn:
        for line in settle_abandoned(conn):
            log.warning("%s", line)
        digest = pending(conn, config, chosen, settings)
        if not digest.count:
            mark_backlog(conn, digest)
            return result
        mail = message(config, digest, settings)
        record(conn, digest, mail)  # before the send: whatever happens next, it is never sent twice
    outcome: Delivery | Undelivered
    try:
        outcome = deliver(mail, settings)
    except Undelivered as e:
        outcome = e
    try:
        with reopened(db) as conn:
            settle(conn, digest, outcome)
    except (sqlite3.Error, OSError) as e:  # a full disk, say: the digest stays recorded as being sent
        what = ("could not be sent" if isinstance(outcome, Undelivered) and not outcome.handed_over
                else "was handed to the mail server")
        raise LitwatchError(f"the digest of {digest.count} event(s) {what}, and recording that failed "
                            f"({printable(str(e))}): its events are not sent again, delivery being at most once "
                            f"(Message-ID {digest.message_id})") from None
    if isinstance(outcome, Undelivered):
        raise failure(digest, settings, outcome)
    return dict(result, events=digest.count, sent=digest.count, to=outcome.accepted, refused=outcome.refused,
                text=_plain(mail), message_id=digest.message_id)


def export(db: Db, *, table: str | None = None, sql: str | None = None, fmt: str = "csv") -> tuple[str, int]:
    """A table, view or read-only query as CSV or JSON text; returns (text, rows)."""
    from . import exports

    with reading(db) as conn:
        columns, data = exports.rows(conn, table=table, sql=sql)
    return (exports.to_csv(columns, data) if fmt == "csv" else exports.to_json(columns, data)), len(data)


def export_citations(db: Db, fmt: str = "ris", **filters: Any) -> tuple[str, int]:
    """Citations of the selected papers as RIS or BibTeX text; returns (text, citations).
    ``filters`` are those of :func:`litwatch.exports.citations` (topic, designs, years...)."""
    from . import citations, exports

    with reading(db) as conn:
        papers = exports.citations(conn, **filters)
    return (citations.to_ris(papers) if fmt == "ris" else citations.to_bibtex(papers)), len(papers)


def exportable(db: Db) -> list[str]:
    """The tables and views :func:`export` takes (full-text index internals left out)."""
    from .store.db import table_names, view_names

    with reading(db) as conn:
        return sorted(n for n in table_names(conn) + view_names(conn) if "_fts" not in n)


def list_runs(db: Db, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs: what was fetched or imported, when, how it ended."""
    from .store.db import query

    with reading(db) as conn:
        return query(conn, "SELECT id, topic, source, kind, started_at, finished_at, status, expected, received, "
                           "new, updated, unchanged, deleted, skipped, error FROM runs ORDER BY id DESC LIMIT ?",
                     [limit])


def open_gaps(db: Db, topic: str | None = None) -> list[dict[str, Any]]:
    """The monitoring gaps still open, oldest first, each with ``text``: how a person reads it."""
    with reading(db) as conn:
        return [{**g.as_dict(), "text": g.describe(gaps.label(g.source))} for g in gaps.open_gaps(conn, topic=topic)]


def reparse(db: Db, config: Config | None = None, *, sources: Iterable[str] = (), wait: float = 0.0,
            on_result: OnResult | None = None) -> dict[str, Any]:
    """Rebuild the normalized tables from the raw copies stored with the records, without the
    network (after an upgrade whose parser reads more, or fixes a reading); then refresh the
    evidence. Returns the runs' summary."""
    from .sync import reparse as rebuild

    config = config or load_config()
    with writing(db, wait, check_parsers=False) as conn, session():
        first = last_run_id(conn)
        for result in rebuild(conn, _sources(sources)):
            with transaction(conn):  # its records are now as this litwatch's parser reads them
                conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                             [f"parser:{result.source}", str(get(result.source).parser_version)])
            if on_result:
                on_result(result)
        return summary(conn, first, {"evidence": evidence.refresh(conn, config.topics)})


def migrate(db: str | Path, config: Config | None = None) -> int:
    """Upgrade a database's schema in place (and refresh the evidence derived from it);
    return the schema version."""
    from .store.db import SCHEMA_VERSION

    if not Path(db).is_file():
        raise UsageError(f"no database at {db}")
    with writing(db) as conn:
        evidence.refresh(conn, (config or load_config()).topics)
    return SCHEMA_VERSION


def check(db: str | Path, *, quick: bool = False, backup: str | Path | None = None) -> dict[str, Any]:
    """Check a database with SQLite's own checks: ``integrity_check`` (with ``quick``,
    ``quick_check``: several times faster, it does not match each index to its table), the
    foreign keys, and whether this litwatch can use its schema. With ``backup``, a sound
    database is then copied there (``VACUUM INTO``, the copy checked before it replaces an
    older one). Reads the database only, without the lock: a run may write meanwhile.

    Returns ``{"path", "sound", "check", "problems", "schema_version", "schema", "bytes",
    "seconds", "backup"}``: ``problems`` what SQLite found (at most 100; none when
    ``sound``), ``schema`` why this litwatch cannot use the database (or None), ``backup`` the
    copy written (or None).

    :raises UsageError: no database at ``db``.
    """
    import time

    from .store.db import backup as copy
    from .store.db import connect_readonly, examine, store_bytes

    path = Path(db)
    check_path(path)
    if not path.is_file():
        raise UsageError(f"no database at {path} (check --db or LITWATCH_DB)")
    started = time.monotonic()
    conn = connect_readonly(path)
    try:
        found = examine(conn, path, schema(), quick=quick)
        result = {"path": str(path), "sound": not found["problems"], **found, "bytes": store_bytes(path),
                  "seconds": round(time.monotonic() - started, 3), "backup": None}
        if backup is not None and result["sound"] and not result["schema"]:
            copy(conn, backup)
            result["backup"] = str(backup)
    finally:
        conn.close()
    return result


def write_text(path: str | Path, text: str) -> None:
    """Write a file atomically (creating its folder): the text goes to a temporary file
    beside it, which then replaces the file, so a reader never sees half a report and a
    failure (a full disk) leaves the previous file as it was."""
    from .files import atomic_write

    atomic_write(path, text.encode("utf-8"))


__all__ = ["DEFAULT_DB", "build_report", "check", "export", "export_citations", "exportable", "feed", "fetch",
           "import_paths", "list_runs", "migrate", "notify", "open_gaps", "reading", "reconcile", "render_report",
           "reparse", "update", "write_report", "writing"]
