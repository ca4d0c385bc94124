"""The litwatch command line: each command parses its options, makes one library call
(:mod:`litwatch.api`) and prints what came back. Heavy modules load inside the commands
that need them, so ``litwatch --help`` starts fast."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import signal
import sqlite3
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

import click

from . import __version__
from .config import DEFAULT_CONFIG_NAME, Config, config_template, load_config
from .errors import DatabaseLocked, LitwatchError, Unexpected, UsageError, debugging, storage_fault
from .redact import printable
from .sources import NAMES as SOURCE_NAMES

DEFAULT_DB = "data/litwatch.db"
# Exit codes, for cron and CI.
EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_BUSY = 1, 2, 3, 75


class Context:
    """What the group's options give every command."""

    def __init__(self, db_path: str, config_path: str | None, terminal: Terminal | None = None):
        self.db_path = db_path
        self.config_path = config_path
        self.terminal = terminal
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


log = logging.getLogger("litwatch")


def counted(n: int, unit: str) -> str:
    """``n`` and its unit, singular for one: "1 study", "2 studies"."""
    return f"{n} {_ONE.get(unit, unit) if n == 1 else unit}"


_ONE = {"studies": "study", "records": "record", "papers": "paper", "trials": "trial",
        "paper-trial links": "paper-trial link"}


class Failure(click.ClickException):
    """A one-line error with a chosen exit code (control characters in it escaped, so a
    file name or an ID read from outside cannot forge another line)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(printable(message))
        # click's stubs declare exit_code a class variable; click reads it from the instance.
        self.exit_code = exit_code  # type: ignore[misc]


class OneLine(logging.Formatter):
    """Log lines that stay one line each: control characters in a message are escaped; only
    a traceback (logged at debug level, shown with -v) spans lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


class Terminal(logging.StreamHandler):
    """Log lines on stderr, one line each; a progress bar being drawn is moved past first,
    so that a warning never lands in the middle of it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)  # the stream of this invocation (CliRunner swaps it)
        self.setFormatter(OneLine("%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"))
        self.bars: Bars | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.bars is not None:
            self.bars.interrupt()
        super().emit(record)


# Libraries that log at INFO what a litwatch user has no use for (matplotlib's font cache,
# urllib3's connections): -v shows litwatch's own progress, not theirs.
QUIET_LOGGERS = ("matplotlib", "PIL", "fontTools", "urllib3", "charset_normalizer", "asyncio", "feedgenerator",
                 "datasette", "jinja2")


def _setup_logging(ctx: click.Context, verbose: bool) -> Terminal:
    """Send log lines to stderr for this invocation (WARNING, or INFO with -v) and undo it
    when the command ends, so a library call or a test that follows starts clean."""
    root = logging.getLogger()
    handler = Terminal()
    # With -v the handler passes litwatch's debug lines (tracebacks) too: the loggers' levels
    # decide, other libraries' stay at INFO (root) or WARNING (QUIET_LOGGERS).
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    saved = [(root, root.level), (log, log.level)] + [(logging.getLogger(n), logging.getLogger(n).level)
                                                     for n in QUIET_LOGGERS]
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        log.setLevel(logging.DEBUG)  # litwatch's own debug lines: the tracebacks of unexpected errors
    root.addHandler(handler)

    def restore() -> None:
        root.removeHandler(handler)
        for logger, level in saved:
            logger.setLevel(level)
    ctx.call_on_close(restore)
    return handler


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run is recorded as interrupted."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def reports_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every exception into one ``Error:`` line and a distinct exit code: litwatch's own,
    database errors, and unexpected ones (a bug: the traceback is logged at debug level, shown
    with -v; with LITWATCH_DEBUG set it propagates). A command given --json still prints a
    JSON summary, with the error in it."""
    from .lock import LockBusy

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except KeyboardInterrupt as e:
            click.echo("Interrupted; the run is recorded as interrupted.", err=True)
            sys.exit(143 if isinstance(e, Terminated) else 130)
        except UsageError as e:
            failure = Failure(str(e), EXIT_USAGE)
        except (LockBusy, DatabaseLocked) as e:
            failure = Failure(str(e), EXIT_BUSY)
        except LitwatchError as e:
            failure = Failure(str(e))
        except Exception as e:
            # A storage fault (a full disk, a read-only or damaged file, a lock held by another
            # program, an I/O error) is said in one line with what to do.
            fault = storage_fault(e, next((a.db_path for a in args if isinstance(a, Context)), None))
            if fault is not None:
                failure = Failure(str(fault), EXIT_BUSY if isinstance(fault, DatabaseLocked) else EXIT_FAILED)
            elif isinstance(e, sqlite3.DatabaseError):
                failure = Failure(f"database error: {e}")
            else:
                if debugging():
                    raise
                log.debug("unexpected error", exc_info=True)
                failure = Failure(str(Unexpected(e)))
        if kwargs.get("as_json"):
            click.echo(json.dumps({"status": "failed", "runs": [], "errors": [{"what": "", "error": failure.message}]},
                                  indent=2, sort_keys=True))
        raise failure
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="litwatch")
@click.option("--db", "db_path", envvar="LITWATCH_DB", default=DEFAULT_DB, show_default=True,
              type=click.Path(dir_okay=False), help="SQLite database (env LITWATCH_DB).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help=f"TOML configuration (default: ./{DEFAULT_CONFIG_NAME} if present, else built-in).")
@click.option("-v", "--verbose", is_flag=True,
              help="Log each request (search windows, pages, batches) and the traceback of an unexpected error.")
@click.pass_context
def cli(ctx: click.Context, db_path: str, config_path: str | None, verbose: bool) -> None:
    """Watch the research on a topic (default: ketamine for PTSD) in PubMed and
    ClinicalTrials.gov, and keep it in one SQLite database."""
    ctx.obj = Context(db_path, config_path, _setup_logging(ctx, verbose))
    signal.signal(signal.SIGTERM, _terminate)


@cli.command()
@click.option("--path", default=DEFAULT_CONFIG_NAME, show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented configuration file with the built-in topic.

    \b
    Example:
        litwatch init && $EDITOR litwatch.toml
    """
    from .api import write_text

    target = Path(path)
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists; use --force to overwrite it")
    write_text(target, config_template())
    click.echo(f"Wrote {target}")


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


def _parse_changes(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from .config import changes_since
    from .errors import ConfigError

    try:
        return changes_since(value)
    except ConfigError:
        raise click.BadParameter(f"{value!r}: give last-update, last-report or a period such as '7 days'") from None


def machine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--quiet, --json and --wait: what a scheduled run needs."""
    f = click.option("--wait", type=float, default=0, show_default=True,
                     help="Seconds to wait for another run on this database to finish.")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object instead of text.")(f)
    f = click.option("--quiet", "-q", is_flag=True, help="Print errors only.")(f)
    return f


class Output:
    """Where a command's lines go: text, nothing but errors (--quiet: log warnings too are
    left out), or one JSON summary (--json); and its progress bars (on a terminal only)."""

    def __init__(self, quiet: bool, as_json: bool):
        self.quiet, self.as_json = quiet, as_json
        self.bars = Bars(silent=quiet or as_json)
        ctx = click.get_current_context(silent=True)
        obj = ctx.find_object(Context) if ctx else None
        terminal = obj.terminal if obj else None
        if terminal is not None:
            terminal.bars = self.bars
            if quiet:
                terminal.setLevel(logging.ERROR)

    def line(self, text: str) -> None:
        if not (self.quiet or self.as_json):
            self.bars.close()
            click.echo(printable(text))

    def note(self, text: str) -> None:
        """A line for a person watching (stderr), silent with --quiet or --json."""
        if not (self.quiet or self.as_json):
            self.bars.close()
            click.echo(printable(text), err=True)

    def error(self, what: str, error: Exception) -> None:
        """One line per failure, whatever the file name or message holds (the JSON summary
        has the same errors)."""
        if not self.as_json:
            self.bars.close()
            text = str(error)
            named = not what or text.startswith(f"{what}:")  # the message names the file already
            click.echo(printable(f"Error: {text}" if named else f"Error: {what}: {text}"), err=True)

    def result(self, result: Any) -> None:
        from .absent import RETRY_DAYS
        from .sources import get

        c = result.counts
        source = get(result.source)
        unit = source.unit
        if result.kind == "reparse":
            self.line(f"{result.source}: {c.received} {unit} reparsed from their raw copies ({c.updated} changed); "
                      f"{result.params['without_raw']} without a raw copy kept as stored [run {result.run_id}]")
        elif result.kind == "import":
            self.line(f"{result.params['file']}: {counted(c.received, unit)} ({c.new} new, {c.updated} updated, "
                      f"{c.unchanged} unchanged, {c.deleted} deleted, {c.skipped} skipped) [run {result.run_id}]")
        elif result.kind == "reconcile":
            from .reconcile import line

            self.line(line(result, result.source, unit))
        elif result.kind == "follow":
            absent, known = result.params.get("absent"), result.params.get("known_absent")
            absent = f"; {absent} not at {source.label} (asked again after {RETRY_DAYS} days)" if absent else ""
            known = f"; {known} known to be absent not asked" if known else ""
            self.line(f"{result.source} linked {unit}: {c.received} of {c.expected} fetched by ID{absent}{known} "
                      f"[run {result.run_id}]")
        else:
            fetched = f"{c.received}{'' if c.expected is None else f' of {c.expected}'} {unit} fetched"
            left = result.params.get("left_while_paging")
            if left and c.expected is not None and c.received > c.expected:  # not "77 of 76"
                fetched = (f"{c.received} {unit} fetched, {c.expected} of them still in the search ({left} left it "
                           f"while paging; kept)")
            skipped = f", {c.skipped} skipped" if c.skipped else ""
            self.line(f"{result.source} {result.topic}: {fetched} "
                      f"({c.new} new, {c.updated} updated, {c.unchanged} unchanged, {c.deleted} deleted{skipped})"
                      f"{_overlap(result)} [{result.params['mode']}, run {result.run_id}]")

    def close(self) -> None:
        self.bars.close()

    def finish(self, summary: dict[str, Any], evidence: bool = True) -> None:
        """Print the evidence line or the JSON summary; exit 0, 3 (partial) or 1 (failed)."""
        if self.as_json:
            click.echo(json.dumps(summary, indent=2, sort_keys=True))
        elif evidence and "evidence" in summary:
            e = summary["evidence"]
            self.line(f"evidence: {counted(e['links'], 'paper-trial links')}; core to a topic: "
                      f"{counted(e['core_articles'], 'papers')}, {counted(e['core_trials'], 'trials')}")
            if "topic" in summary:
                t = summary["topic"]
                placed = t["core"] + t["related"]
                self.line(f"topic {t['name']}: {placed} of {placed + t['left_out']} imported records match it "
                          f"({t['core']} on both concepts, {t['related']} on one); {t['left_out']} match neither "
                          f"and were left out")
        if summary["status"] == "partial":
            sys.exit(EXIT_PARTIAL)
        if summary["status"] == "failed":
            sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--source", "sources", type=click.Choice(("all",) + SOURCE_NAMES), multiple=True,
              help="Which source to fetch (repeatable; default: all).")
@click.option("--topic", "topics", multiple=True, help="Topic name (repeatable; default: every topic).")
@click.option("--full", is_flag=True, help="Fetch everything, not only what changed since the last run.")
@click.option("--since", type=str, callback=_parse_date, help="Fetch what was added or revised since YYYY-MM-DD.")
@click.option("--no-follow", is_flag=True, help="Do not fetch the linked records the topic queries missed.")
@machine_options
@click.pass_obj
@reports_errors
def fetch(obj: Context, sources: tuple[str, ...], topics: tuple[str, ...], full: bool, since: date | None,
          no_follow: bool, quiet: bool, as_json: bool, wait: float) -> None:
    """Fetch the topics' records from PubMed, ClinicalTrials.gov and Europe PMC into the database.

    The first run of a topic fetches everything; later runs ask only for records
    added or revised since the last successful run (minus a small overlap). Then the
    trials behind the papers' NCT IDs and the papers the trials list as results are
    fetched by ID (unless --no-follow), and the evidence layer is recomputed. When one
    source fails the others still run. Exit status: 0 all succeeded, 3 some source
    failed, 1 all failed, 2 bad usage or configuration, 75 another run holds the database.

    \b
    Example:
        NCBI_API_KEY=... litwatch fetch --source pubmed --json
    """
    from . import api

    if full and since:
        raise click.UsageError("--full and --since cannot be combined")
    out = Output(quiet, as_json)
    try:
        summary = api.fetch(obj.db_path, obj.config, topics=topics, sources=() if "all" in sources else sources,
                            full=full, since=since, follow=not no_follow, wait=wait, on_result=out.result,
                            on_error=out.error, on_skip=out.line, progress=out.bars)
    finally:
        out.close()
    out.finish(summary)


@cli.command()
@click.option("--source", "sources", type=click.Choice(SOURCE_NAMES), multiple=True,
              help="Which source to reconcile (repeatable; default: all).")
@click.option("--topic", "topics", multiple=True, help="Topic name (repeatable; default: every topic).")
@click.option("--accept-departures", "accept", is_flag=True,
              help="Flag the records a listing lacks even when they are more than a fifth of the topic's (or 50): "
                   "the query was changed on purpose.")
@machine_options
@click.pass_obj
@reports_errors
def reconcile(obj: Context, sources: tuple[str, ...], topics: tuple[str, ...], accept: bool, quiet: bool,
              as_json: bool, wait: float) -> None:
    """Compare each topic's stored records with the full list of IDs its search holds now.

    Asks each service for the search's IDs alone (cheap requests), fetches the records
    the database lacks (say, one indexed with an old entry date, which an incremental
    fetch cannot see), and flags the records that left the search: they are kept, listed
    in the left_search table and told as events. Prints, per source and topic, how many
    IDs the service listed, how many were stored, fetched and flagged. Run it weekly.
    Exit status as for fetch.

    \b
    Example:
        litwatch reconcile --topic ketamine-ptsd --source pubmed
    """
    from . import api

    out = Output(quiet, as_json)
    try:
        summary = api.reconcile(obj.db_path, obj.config, topics=topics, sources=sources, wait=wait,
                                on_result=out.result, on_error=out.error, on_skip=out.line, progress=out.bars,
                                accept=accept)
    finally:
        out.close()
    out.finish(summary, evidence=False)


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--topic", help="Tag the imported records with this topic.")
@machine_options
@click.pass_obj
@reports_errors
def import_(obj: Context, paths: tuple[str, ...], topic: str | None, quiet: bool, as_json: bool,
            wait: float) -> None:
    """Import files; a file that fails is reported and the others still load.

    PubMed files (efetch XML, baseline/update files .xml/.xml.gz, MEDLINE
    text exports .nbib/.txt) and ClinicalTrials.gov JSON (website downloads, API pages,
    single studies). The format is read from the content. Exit status as for fetch.

    \b
    Example:
        litwatch import pubmed25n1274.xml.gz pubmed-ketamine-set.nbib ctg-studies.json
    """
    from . import api

    out = Output(quiet, as_json)
    try:
        summary = api.import_paths(obj.db_path, paths, obj.config, topic=topic, wait=wait, progress=out.bars,
                                   on_result=out.result, on_error=out.error)
    finally:
        out.close()
    out.finish(summary)


def _overlap(result: Any) -> str:
    """For PubMed's incremental fetch: its two date searches (added since, revised since)
    share the records added and revised since; each is counted once, so say why the searches'
    counts add up to more."""
    searches = result.params.get("searches") or []
    listed = sum(s.get("count") or 0 for s in searches)
    if len(searches) < 2 or listed <= result.counts.received:
        return ""
    return (f"; each counted once: the searches for records added and revised since {result.params['since']} "
            f"overlap ({listed} between them)")


class Bars:
    """The library's progress meters as bars on stderr (one at a time): only on a terminal,
    never with --quiet or --json, in a pipe, a log file or cron. LITWATCH_PROGRESS=1 shows
    them anyway, =0 never."""

    def __init__(self, silent: bool):
        wanted = os.environ.get("LITWATCH_PROGRESS", "").strip().lower()
        self.forced = wanted in ("1", "always", "yes")
        self.shown = not silent and wanted not in ("0", "never", "no") and (self.forced or sys.stderr.isatty())
        self.bar: Any = None
        self.drawn = False

    def __call__(self, what: str, total: int | None, unit: str) -> Callable[..., None] | None:
        """A bar for one step (a meter, see :mod:`litwatch.progress`)."""
        self.close()
        if not self.shown:
            return None
        label = f"Importing {Path(what).name}" if unit == "bytes" else what
        # An endless iterable: a bar of unknown length (PubMed's two date searches overlap by
        # an amount nobody knows in advance) still counts, with a moving block for the bar.
        self.bar = click.progressbar(itertools.repeat(None) if total is None else None, length=total, label=label,
                                     file=sys.stderr, show_pos=unit != "bytes", show_eta=total is not None,
                                     item_show_func=lambda note: note)
        if self.forced:
            self.bar._is_atty = True  # click draws only on a terminal; asked to, draw anyway
        self.bar.__enter__()
        self.drawn = True
        return self.update

    def update(self, done: int, note: str = "") -> None:
        if self.bar is not None:
            self.bar.update(done, note or None)
            self.drawn = True

    def interrupt(self) -> None:
        """A log line is coming: end the bar's line (the bar is drawn again on its next update)."""
        if self.bar is not None and self.drawn:
            self.drawn = False
            sys.stderr.write("\n")
            self.bar._last_line = None  # so the next update draws it in full below the log line

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def emit(text: str, output: str | None, what: str | None = None) -> None:
    """Write ``text`` to ``output`` (saying so on stderr when ``what`` is given), or to stdout."""
    from .api import write_text

    if output:
        write_text(output, text)
        if what:
            click.echo(f"Wrote {what} to {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.option("--topic", help="Topic name (default: the first configured topic).")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@click.option("--charts-dir", type=click.Path(file_okay=False),
              help="Markdown: also write PNG charts here and link them.")
@click.option("--as-of", type=str, callback=_parse_date,
              help="Report the state after the runs started by YYYY-MM-DD.")
@click.option("--since", type=str, callback=_parse_date,
              help="'What changed' since YYYY-MM-DD (default: the last run).")
@click.option("--since-last-report", is_flag=True, help="'What changed' since the last report `update` wrote.")
@click.option("--changes-since", "changes", callback=_parse_changes, metavar="WHEN",
              help="What 'What changed' covers: last-update, last-report or a period ('7 days'); default: "
                   "[report] changes_since, else last-update.")
@click.option("--section", type=click.Choice(["all", "summary"]), default="all", show_default=True,
              help="summary: only the opening paragraph and its references (HTML: a fragment to include).")
@click.option("--record", is_flag=True, help="Remember this report (needs write access): the next "
                                             "--changes-since last-report for the same --output starts after it.")
@click.pass_obj
@reports_errors
def report(obj: Context, topic: str | None, fmt: str, output: str | None, charts_dir: str | None,
           as_of: date | None, since: date | None, since_last_report: bool, changes: str | None,
           section: str, record: bool) -> None:
    """Write the "ongoing research" brief of a topic: a summary to quote, trials in
    progress, completed trials and their results, published evidence by design, the
    evidence behind the topic's claims, what changed, related research, and the sources.
    Only records that mention both of the topic's concepts are counted. Markdown,
    self-contained HTML with charts, or JSON. Reads the database only (unless --record,
    or a topic's terms changed and its records must be placed again first).

    \b
    Example:
        litwatch report --format html -o report.html
        litwatch report --charts-dir charts -o report.md --since-last-report
        litwatch report --section summary --format html -o summary.html
        litwatch report -o weekly.html --changes-since last-report --record
    """
    from . import api

    if since and since_last_report:
        raise click.UsageError("--since and --since-last-report cannot be combined")
    data = api.write_report(obj.db_path, obj.config, topic=topic, fmt=fmt, output=output, charts_dir=charts_dir,
                            as_of=as_of, since=since, since_last_report=since_last_report, section=section,
                            changes=changes, record=record)
    if output:
        click.echo(f"Report written to {output}" + (f" ({data['notice']})" if data["notice"] else ""), err=True)
    else:
        click.echo(data["text"], nl=False)


@cli.command()
@click.option("--output", "-o", default="data/report.html", show_default=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="html", show_default=True)
@click.option("--feed", "feed_output", type=click.Path(dir_okay=False),
              help="Also write the first topic's Atom feed of events here (e.g. data/feed.atom).")
@click.option("--changes-since", "changes", callback=_parse_changes, metavar="WHEN",
              help="What the report's 'What changed' covers: last-update, last-report (since the last report "
                   "update wrote) or a period ('7 days'); default: [report] changes_since, else last-update.")
@machine_options
@click.pass_obj
@reports_errors
def update(obj: Context, output: str, fmt: str, feed_output: str | None, changes: str | None, quiet: bool,
           as_json: bool, wait: float) -> None:
    """Fetch every topic from every source, then write the report of the first topic.

    When neither service can be reached and the database is empty, the bundled real
    sample (litwatch/sample) is imported instead, and the report says so. Exit status as
    for fetch; the report is written whenever anything is stored.

    \b
    Example:
        litwatch update -o public/ketamine-ptsd.html --quiet
        litwatch update --changes-since last-report   # a weekly reader of a nightly update
    """
    from . import api

    out = Output(quiet, as_json)
    try:
        summary = api.update(obj.db_path, obj.config, output=output, fmt=fmt, wait=wait, echo=out.note,
                             on_result=out.result, on_error=out.error, feed_output=feed_output, progress=out.bars,
                             changes=changes)
    finally:
        out.close()
    if summary["report"]:
        out.line(f"Report written to {output}")
    if feed_output and "feed_entries" in summary:
        out.line(f"Feed written to {feed_output} ({summary['feed_entries']} entries)")
    if summary["notice"]:
        out.line(f"Notice: {summary['notice']}")
    out.finish(summary, evidence=False)


@cli.command()
@click.option("--topic", help="Topic name (default: the first configured topic).")
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help="Only these kinds of event (repeatable): new_paper, new_trial, trial_status, trial_results, "
                   "paper_retracted... (see the events view).")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True, help="Newest events kept.")
@click.option("--link", help="The page the feed stands for (e.g. the published report's URL).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@click.pass_obj
@reports_errors
def feed(obj: Context, topic: str | None, kinds: tuple[str, ...], limit: int, link: str | None,
         output: str | None) -> None:
    """Write an Atom feed of a topic's events: new papers and trials, trial status changes,
    results posted, retractions... Entry IDs are stable, so a feed reader shows each event
    once. Reads the database only.

    \b
    Example:
        litwatch feed -o public/ketamine-ptsd.atom --link https://example.org/ketamine-ptsd.html
        litwatch feed --kind trial_status --kind trial_results
    """
    from . import api

    text, entries = api.feed(obj.db_path, obj.config, topic=topic, kinds=kinds, limit=limit, link=link)
    emit(text, output, f"a feed of {entries} entries")


@cli.command()
@click.option("--topic", "topics", multiple=True, help="Topic name (repeatable; default: every topic).")
@click.option("--dry-run", is_flag=True, help="Print the digest; send nothing, remember nothing.")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait this long for another run's lock.")
@click.pass_obj
@reports_errors
def notify(obj: Context, topics: tuple[str, ...], dry_run: bool, wait: float) -> None:
    """E-mail a digest of the events not sent yet, grouped by importance, over the SMTP
    server of [notify] in litwatch.toml (password from LITWATCH_SMTP_PASSWORD). Each event
    is sent at most once; nothing new, no mail; a send the server refused is retried next
    time. The first digest covers what the last update brought. Exit status: 0 sent (or
    nothing to send), 3 sent but some recipients refused, 1 not sent, 2 bad configuration.

    \b
    Example:
        litwatch update --quiet && litwatch notify
    """
    from . import api

    result = api.notify(obj.db_path, obj.config, topics=topics, dry_run=dry_run, wait=wait)
    if dry_run:
        click.echo(result["text"] or "Nothing new to send.", nl=bool(not result["text"]))
    elif not result["sent"]:
        click.echo("Nothing new to send.")
    elif result["refused"]:
        refused = "; ".join(f"{address} ({reply})" for address, reply in result["refused"].items())
        click.echo(printable(f"Sent a digest of {result['sent']} event(s) to {', '.join(result['to'])}; refused by "
                             f"the server, not sent to: {refused}"))
        sys.exit(EXIT_PARTIAL)
    else:
        click.echo(printable(f"Sent a digest of {result['sent']} event(s) to {', '.join(result['to'])}"))


@cli.command(name="datasette-metadata")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@click.pass_obj
@reports_errors
def datasette_metadata(obj: Context, output: str | None) -> None:
    """Write Datasette metadata (JSON) for the database: descriptions of every table and
    column, facets, sort orders, full-text search, canned queries.

    \b
    Example:
        litwatch datasette-metadata -o metadata.json && datasette data/litwatch.db -m metadata.json
    """
    from . import browse

    metadata = browse.datasette_metadata(obj.db_path, obj.config.topics[0].name)
    emit(json.dumps(metadata, indent=2) + "\n", output, "metadata")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--open", "open_browser", is_flag=True, help="Open a browser.")
@click.pass_obj
@reports_errors
def serve(obj: Context, host: str, port: int, open_browser: bool) -> None:
    """Browse the database in Datasette, with litwatch's metadata (Ctrl-C to stop).
    Visitors read: SQL functions that reach memory or files (fts3_tokenizer,
    load_extension) are refused. A damaged database is refused before it is served.

    Datasette is an optional extra: pip install 'litwatch[datasette]'.

    \b
    Example:
        litwatch serve --port 8001
    """
    import importlib.util
    import subprocess

    from . import browse
    from .api import reading, write_text
    from .store.db import check_sound

    if importlib.util.find_spec("datasette") is None:
        raise click.ClickException("Datasette is not installed: pip install 'litwatch[datasette]'")
    with reading(obj.db_path) as conn:  # a missing, foreign or outdated database is refused here, with one line
        check_sound(conn, obj.db_path)  # and a damaged one (up to QUICK_CHECK_BYTES; larger: litwatch check)
    metadata = Path(obj.db_path).with_suffix(".metadata.json")
    write_text(metadata, json.dumps(browse.datasette_metadata(obj.db_path, obj.config.topics[0].name), indent=2))
    # Datasette with litwatch's plugin (litwatch/datasette_plugin.py): visitors read, nothing more.
    command = [sys.executable, "-m", "litwatch.datasette_plugin", "serve", obj.db_path, "-m", str(metadata),
               "--host", host, "--port", str(port)] + (["--open"] if open_browser else [])
    for name, value in browse.DATASETTE_SETTINGS.items():
        command += ["--setting", name, value]
    click.echo(f"Datasette on http://{host}:{port}/ (metadata: {metadata})", err=True)
    try:
        sys.exit(subprocess.call(command))
    except KeyboardInterrupt:
        sys.exit(0)


@cli.command()
@click.argument("table", required=False)
@click.option("--sql", help="A read-only SQL query to export instead of a table.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "ris", "bibtex"]), default="csv",
              show_default=True, help="csv/json: a table, view or query; ris/bibtex: citations of papers.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@click.option("--list", "list_tables", is_flag=True, help="List the tables and views that can be exported.")
@click.option("--topic", help="Citations: papers of this topic.")
@click.option("--design", "designs", multiple=True, help="Citations: this study design (repeatable).")
@click.option("--year-from", type=int, help="Citations: published in or after this year.")
@click.option("--year-to", type=int, help="Citations: published in or before this year.")
@click.option("--relevance", type=click.Choice(["core", "intervention", "condition", "none"]),
              help="Citations: relevance to --topic (core: both of its concepts).")
@click.option("--include-retracted", is_flag=True, help="Citations: keep retracted papers.")
@click.pass_obj
@reports_errors
def export(obj: Context, table: str | None, sql: str | None, fmt: str, output: str | None, list_tables: bool,
           topic: str | None, designs: tuple[str, ...], year_from: int | None, year_to: int | None,
           relevance: str | None, include_retracted: bool) -> None:
    """Export a table, view or query to CSV or JSON, or citations to RIS or BibTeX.

    \b
    Examples:
        litwatch export recruiting_trials -o recruiting.csv
        litwatch export --sql "select nct_id, brief_title from trials" --format json
        litwatch export --format ris --topic ketamine-ptsd --relevance core -o evidence.ris
        litwatch export --format bibtex --design "randomized controlled trial" --year-from 2020
    """
    from . import api

    if list_tables:
        click.echo("\n".join(api.exportable(obj.db_path)))
        return
    if fmt in ("ris", "bibtex"):
        text, n = api.export_citations(obj.db_path, fmt, topic=topic, designs=designs, year_from=year_from,
                                       year_to=year_to, relevance=relevance, include_retracted=include_retracted)
        summary = f"{n} citations"
    else:
        if bool(table) == bool(sql):
            raise click.UsageError("give a TABLE or --sql (one of them)")
        text, n = api.export(obj.db_path, table=table, sql=sql, fmt=fmt)
        summary = f"{n} rows"
    emit(text, output, summary)


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many runs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
@reports_errors
def runs(obj: Context, limit: int, as_json: bool) -> None:
    """List past runs: what was fetched or imported, when, and how it ended; then the
    monitoring gaps still open (windows a failed fetch left unsearched).

    \b
    Example:
        litwatch runs --limit 5
    """
    from tabulate import tabulate

    from .api import list_runs, open_gaps

    rows = list_runs(obj.db_path, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("No runs yet. Try: litwatch fetch")
    else:
        shown = [{k: printable(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
        click.echo(tabulate(shown, headers="keys", tablefmt="simple", missingval=""))
        gaps = open_gaps(obj.db_path)
        if gaps:
            click.echo(f"\nOpen monitoring gaps ({len(gaps)}):")
            for gap in gaps:
                click.echo(printable(f"  {gap['text']}"))


@cli.command()
@click.option("--source", "sources", type=click.Choice(SOURCE_NAMES), multiple=True,
              help="Only this source's records (repeatable; default: all).")
@machine_options
@click.pass_obj
@reports_errors
def reparse(obj: Context, sources: tuple[str, ...], quiet: bool, as_json: bool, wait: float) -> None:
    """Rebuild every table from the records' raw copies kept in the database, without the
    network: after an upgrade of litwatch, old records get what the new parser reads.

    \b
    Example:
        litwatch reparse --source pubmed
    """
    from . import api

    out = Output(quiet, as_json)
    summary = api.reparse(obj.db_path, obj.config, sources=sources, wait=wait, on_result=out.result)
    out.finish(summary)


@cli.command()
@click.option("--quick", is_flag=True, help="SQLite's quick_check instead of integrity_check: several times faster, "
                                            "it does not match each index to its table.")
@click.option("--backup", type=click.Path(dir_okay=False), metavar="PATH",
              help="When the database is sound, write a checked copy of it here (VACUUM INTO), replacing an older "
                   "copy only once the new one is complete.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as one JSON object.")
@click.pass_obj
@reports_errors
def check(obj: Context, quick: bool, backup: str | None, as_json: bool) -> None:
    """Check the database with SQLite's own checks (integrity_check, foreign keys) and
    whether this litwatch can use its schema; exit 1 when it is damaged or unusable.
    Reads only. Writers run quick_check on their own on stores up to 256 MB; a larger
    store is checked by this command (a scheduled job can run it weekly).

    \b
    Example:
        litwatch check
        litwatch check --quick --backup backups/litwatch.db
    """
    from . import api
    from .errors import DamagedDatabase
    from .store.db import damage_message

    result = api.check(obj.db_path, quick=quick, backup=backup)
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    unmade = f" (no copy was written to {backup})" if backup else ""
    if not result["sound"]:
        error: LitwatchError = DamagedDatabase(damage_message(obj.db_path, result["check"], result["problems"])
                                               + unmade)
    elif result["schema"]:
        error = LitwatchError(result["schema"] + unmade)
    else:
        if not as_json:
            click.echo(_checked(result))
        return
    if as_json:
        sys.exit(EXIT_FAILED)
    raise error


def _checked(result: dict[str, Any]) -> str:
    """The line of a sound database (and of its copy)."""
    from .store.db import SCHEMA_VERSION

    version = result["schema_version"]
    schema = (f"schema version {version}" + ("" if version == SCHEMA_VERSION else
                                             ", older than this litwatch's: `litwatch migrate` upgrades it"))
    copy = f"; copy written to {result['backup']}" if result["backup"] else ""
    return (f"{result['path']}: sound ({result['check']}: ok; foreign keys: ok; {schema}); "
            f"{result['bytes'] / 1e6:.1f} MB checked in {result['seconds']:.1f} s{copy}")


@cli.command()
@click.pass_obj
@reports_errors
def migrate(obj: Context) -> None:
    """Upgrade the database's schema to this version of litwatch (fetch, import and update
    do it on their own; read-only commands ask for it).

    \b
    Example:
        litwatch migrate
    """
    from .api import migrate as upgrade

    click.echo(f"{obj.db_path}: schema version {upgrade(obj.db_path, obj.config)}")
