"""The litwatch command line: each command parses its options, makes one library call
(:mod:`litwatch.api`) and prints what came back through :mod:`litwatch.terminal`. Heavy
modules load inside the commands that need them, so ``litwatch --help`` starts fast."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sqlite3
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

import click

from .version import __version__
from .config import DEFAULT_CONFIG_NAME, Config, config_template, load_config
from .errors import DatabaseLocked, LitwatchError, Unexpected, UsageError, debugging, storage_fault
from .exports import CITED, RELEVANCE
from .redact import printable
from .sources import NAMES as SOURCE_NAMES
from .terminal import (EXIT_BUSY, EXIT_FAILED, EXIT_PARTIAL, EXIT_USAGE, LogLines, Output, checked, emit,
                       install_hint, runs_table, setup_logging)

DEFAULT_DB = "data/litwatch.db"
log = logging.getLogger("litwatch")


class Context:
    """What the group's options give every command."""

    def __init__(self, db_path: str, config_path: str | None, log_lines: LogLines | None = None):
        self.db_path = db_path
        self.config_path = config_path
        self.log_lines = log_lines
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def check_config(self) -> Config:
        """The configuration, read now: a command that does not need it still refuses a bad
        --config (or ./litwatch.toml) with one line and exit 2, as every other command does."""
        return self.config

    def output(self, quiet: bool, as_json: bool) -> Output:
        """Where a command's lines go (see :class:`litwatch.terminal.Output`)."""
        return Output(quiet, as_json, self.log_lines)


class Failure(click.ClickException):
    """A one-line error with a chosen exit code (control characters in it escaped, so a
    file name or an ID read from outside cannot forge another line)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(printable(message))
        # click's stubs declare exit_code a class variable; click reads it from the instance.
        self.exit_code = exit_code  # type: ignore[misc]


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


REPORT_FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def report_format(given: str | None, output: str | None, default: str) -> str:
    """The report's format: as given, else as the output file's extension says, else ``default``."""
    if given:
        return given
    return REPORT_FORMATS.get(Path(output).suffix.lower(), default) if output else default


class Described(click.Command):
    """A command whose help names the registered sources ({services}, {files}), read from their
    packages only when help is shown: a new source is named with no edit here."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        original = self.help
        self.help = _named(self.help)
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = original

    def get_short_help_str(self, limit: int = 45) -> str:
        original = self.help
        self.help = _named(self.help)
        try:
            return super().get_short_help_str(limit)
        finally:
            self.help = original


def _named(text: str | None) -> str | None:
    if not text or "{" not in text:
        return text
    from .sources import cards, in_words

    return text.replace("{services}", in_words(cards("LABEL"))).replace("{files}", "; ".join(cards("FILES")))


class Commands(Described, click.Group):
    command_class = Described


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="litwatch")
@click.option("--db", "db_path", envvar="LITWATCH_DB", default=DEFAULT_DB, show_default=True,
              type=click.Path(dir_okay=False), help="SQLite database (env LITWATCH_DB).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help=f"TOML configuration (default: ./{DEFAULT_CONFIG_NAME} if present, else built-in).")
@click.option("-v", "--verbose", is_flag=True,
              help="Log each request (search windows, pages, batches) and the traceback of an unexpected error.")
@click.pass_context
def cli(ctx: click.Context, db_path: str, config_path: str | None, verbose: bool) -> None:
    """Watch the research on a topic (default: ketamine for PTSD) in {services}, and keep it
    in one SQLite database."""
    ctx.obj = Context(db_path, config_path, setup_logging(ctx, verbose))
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
    """Fetch the topics' records from {services} into the database.

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
    out = obj.output(quiet, as_json)
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

    out = obj.output(quiet, as_json)
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

    {files}. The format is read from the content. Exit status as for fetch.

    \b
    Example:
        litwatch import pubmed25n1274.xml.gz pubmed-ketamine-set.nbib ctg-studies.json
    """
    from . import api

    out = obj.output(quiet, as_json)
    try:
        summary = api.import_paths(obj.db_path, paths, obj.config, topic=topic, wait=wait, progress=out.bars,
                                   on_result=out.result, on_error=out.error)
    finally:
        out.close()
    out.finish(summary)


@cli.command()
@click.option("--topic", help="Topic name (default: the first configured topic).")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]),
              help="md, html or json (default: the output file's extension, else md).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@click.option("--charts-dir", type=click.Path(file_okay=False),
              help="Markdown (a whole report): also write PNG charts here and link them; HTML carries its charts "
                   "inline.")
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
def report(obj: Context, topic: str | None, fmt: str | None, output: str | None, charts_dir: str | None,
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
    fmt = report_format(fmt, output, "md")
    if charts_dir and (fmt != "md" or section != "all"):
        unused = f"--format {fmt}" if fmt != "md" else "--section summary"
        inline = " (an HTML report carries its charts inline)" if fmt == "html" else ""
        raise Failure(f"--charts-dir writes the charts of a whole Markdown report, not of {unused}{inline}",
                      EXIT_USAGE)
    data = api.write_report(obj.db_path, obj.config, topic=topic, fmt=fmt, output=output, charts_dir=charts_dir,
                            as_of=as_of, since=since, since_last_report=since_last_report, section=section,
                            changes=changes, record=record)
    if output:
        click.echo(f"Report written to {output}" + (f" ({data['notice']})" if data["notice"] else ""), err=True)
    else:
        click.echo(data["text"], nl=False)


@cli.command()
@click.option("--output", "-o", default="data/report.html", show_default=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]),
              help="md, html or json (default: the output file's extension, else html).")
@click.option("--feed", "feed_output", type=click.Path(dir_okay=False),
              help="Also write the first topic's Atom feed of events here (e.g. data/feed.atom).")
@click.option("--changes-since", "changes", callback=_parse_changes, metavar="WHEN",
              help="What the report's 'What changed' covers: last-update, last-report (since the last report "
                   "update wrote) or a period ('7 days'); default: [report] changes_since, else last-update.")
@machine_options
@click.pass_obj
@reports_errors
def update(obj: Context, output: str, fmt: str | None, feed_output: str | None, changes: str | None, quiet: bool,
           as_json: bool, wait: float) -> None:
    """Fetch every topic from every source, then write the report of the first topic.

    When none of {services} can be reached and the
    database is empty, the bundled real sample (litwatch/sample) is imported instead, and
    the report says so. Exit status as for fetch; the report is written whenever anything
    is stored.

    \b
    Example:
        litwatch update -o public/ketamine-ptsd.html --quiet
        litwatch update --changes-since last-report   # a weekly reader of a nightly update
    """
    from . import api

    fmt = report_format(fmt, output, "html")
    out = obj.output(quiet, as_json)
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

    Datasette is an optional extra: from a clone, pip install -e '.[datasette]' (without
    it, serve says the command for this installation).

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
        raise Failure(f"Datasette is not installed: {install_hint('datasette')}")
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
              show_default=True, help="csv/json: a table, view or query; ris/bibtex: citations of papers (TABLE "
                                      "papers, the default) or of registered trials (TABLE trials).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@click.option("--list", "list_tables", is_flag=True, help="List the tables and views that can be exported.")
@click.option("--topic", help="Citations: papers (or trials) of this topic.")
@click.option("--design", "designs", multiple=True, help="Citations: this study design (repeatable).")
@click.option("--year-from", type=int, help="Citations: published (a trial: first posted) in or after this year.")
@click.option("--year-to", type=int, help="Citations: published (a trial: first posted) in or before this year.")
@click.option("--relevance", type=click.Choice(RELEVANCE),
              help="Citations: relevance to --topic (core: both of its concepts; related: one of them, "
                   "intervention or condition).")
@click.option("--include-retracted", is_flag=True, help="Citations: keep retracted papers.")
@click.pass_obj
@reports_errors
def export(obj: Context, table: str | None, sql: str | None, fmt: str, output: str | None, list_tables: bool,
           topic: str | None, designs: tuple[str, ...], year_from: int | None, year_to: int | None,
           relevance: str | None, include_retracted: bool) -> None:
    """Export a table, view or query to CSV or JSON, or citations of papers or registered
    trials to RIS or BibTeX.

    \b
    Examples:
        litwatch export recruiting_trials -o recruiting.csv
        litwatch export --sql "select nct_id, brief_title from trials" --format json
        litwatch export --format ris --topic ketamine-ptsd --relevance core -o evidence.ris
        litwatch export trials --format ris --topic ketamine-ptsd -o trials.ris
        litwatch export --format bibtex --design "randomized controlled trial" --year-from 2020
    """
    from . import api

    obj.check_config()
    if list_tables:
        click.echo("\n".join(api.exportable(obj.db_path)))
        return
    if fmt in ("ris", "bibtex"):
        if sql or (table and table not in CITED):
            given = "--sql" if sql else repr(table)
            raise Failure(f"--format {fmt} cites papers or trials, not {given}: litwatch export [papers|trials] "
                          f"--format {fmt}", EXIT_USAGE)
        text, n = api.export_citations(obj.db_path, fmt, of=table or "papers", topic=topic, designs=designs,
                                       year_from=year_from, year_to=year_to, relevance=relevance,
                                       include_retracted=include_retracted)
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
    from .api import list_runs, open_gaps

    obj.check_config()
    rows = list_runs(obj.db_path, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("No runs yet. Try: litwatch fetch")
    else:
        click.echo(runs_table(rows, open_gaps(obj.db_path)))


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

    out = obj.output(quiet, as_json)
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

    obj.check_config()
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
            click.echo(checked(result))
        return
    if as_json:
        sys.exit(EXIT_FAILED)
    raise error


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
