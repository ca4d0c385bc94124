"""The litwatch command line: thin Click commands over the library."""

from __future__ import annotations

import contextlib
import functools
import signal
import importlib.util
import json
import logging
import os
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import click
import requests
from tabulate import tabulate

from . import __version__
from .config import CONFIG_TEMPLATE, DEFAULT_CONFIG_NAME, Config, load_config
from .errors import ConfigError, LitwatchError
from .lock import LockBusy, RunLock, close_abandoned_runs
from .http import USER_AGENT
from . import browse, citations, evidence, exports
from .report import charts, render
from .report import build as report_mod
from .ingest import fetch_ctgov, fetch_pubmed, follow_links, import_paths
from .store import open_db

DEFAULT_DB = "data/litwatch.db"
SOURCES = ("pubmed", "ctgov")
FETCHERS = {"pubmed": fetch_pubmed, "ctgov": fetch_ctgov}


class Context:
    """What the group's options give every command."""

    def __init__(self, db_path: str, config_path: str | None):
        self.db_path = db_path
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def db(self):
        return open_db(self.db_path)


# Exit codes, for cron and CI.
EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_BUSY = 1, 2, 3, 75


class Failure(click.ClickException):
    """A one-line error with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run is recorded as interrupted."""


def _terminate(signum, frame):
    raise Terminated()


def reports_errors(f):
    """Turn litwatch's exceptions into one-line errors and distinct exit codes."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except ConfigError as e:
            raise Failure(str(e), EXIT_USAGE) from None
        except LockBusy as e:
            raise Failure(str(e), EXIT_BUSY) from None
        except LitwatchError as e:
            raise Failure(str(e)) from None
        except sqlite3.DatabaseError as e:
            raise Failure(f"database error: {e}") from None
        except KeyboardInterrupt as e:
            click.echo("Interrupted; the run is recorded as interrupted.", err=True)
            sys.exit(143 if isinstance(e, Terminated) else 130)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="litwatch")
@click.option("--db", "db_path", envvar="LITWATCH_DB", default=DEFAULT_DB, show_default=True,
              type=click.Path(dir_okay=False), help="SQLite database (env LITWATCH_DB).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help=f"TOML configuration (default: ./{DEFAULT_CONFIG_NAME} if present, else built-in).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
@click.pass_context
def cli(ctx: click.Context, db_path: str, config_path: str | None, verbose: bool) -> None:
    """Watch the research on a topic (default: ketamine for PTSD) in PubMed and
    ClinicalTrials.gov, and keep it in one SQLite database."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    ctx.obj = Context(db_path, config_path)
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
    target = Path(path)
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; use --force to overwrite it")
    target.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    click.echo(f"Wrote {target}")


def _parse_date(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


def machine_options(f):
    """--quiet, --json and --wait: what a scheduled run needs."""
    f = click.option("--wait", type=float, default=0, show_default=True,
                     help="Seconds to wait for another run on this database to finish.")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object instead of text.")(f)
    f = click.option("--quiet", "-q", is_flag=True, help="Print errors only.")(f)
    return f


class Output:
    """Where a command's lines go: text, nothing (--quiet), or one JSON summary (--json)."""

    def __init__(self, quiet: bool, as_json: bool):
        self.quiet, self.as_json = quiet, as_json

    def line(self, text: str) -> None:
        if not (self.quiet or self.as_json):
            click.echo(text)

    def error(self, text: str) -> None:
        if not self.as_json:
            click.echo(f"Error: {text}", err=True)


@contextlib.contextmanager
def writing(obj: "Context", wait: float):
    """Hold the database's write lock; close runs a killed process left 'running'."""
    with RunLock(obj.db_path, wait=wait):
        db = obj.db()
        abandoned = close_abandoned_runs(db)
        if abandoned:
            logging.getLogger("litwatch").warning("marked %d run(s) of a process that died as interrupted", abandoned)
        yield db


def run_summary(db, after: int, extra: dict | None = None) -> dict:
    """The runs made since run ``after``, as the --json summary, and the overall status."""
    runs = []
    for r in db.query("SELECT * FROM runs WHERE id > ? ORDER BY id", [after]):
        params = json.loads(r["params"] or "{}")
        runs.append({"run_id": r["id"], "topic": r["topic"], "source": r["source"], "kind": r["kind"],
                     "status": r["status"], "expected": r["expected"], "received": r["received"],
                     "new": r["new"], "updated": r["updated"], "unchanged": r["unchanged"],
                     "deleted": r["deleted"], "skipped": r["skipped"], "requests": params.get("requests"),
                     "retries": params.get("retries"), "seconds": params.get("seconds"), "error": r["error"]})
    failed = sum(r["status"] != "success" for r in runs)
    status = "success" if not failed else ("failed" if failed == len(runs) else "partial")
    return {"status": status, "runs": runs, **(extra or {})}


def finish_command(summary: dict, out: Output) -> None:
    """Print the JSON summary if asked; exit 0, 3 (partial) or 1 (failed)."""
    if out.as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    if summary["status"] == "partial":
        sys.exit(EXIT_PARTIAL)
    if summary["status"] == "failed":
        sys.exit(EXIT_FAILED)


def last_run_id(db) -> int:
    return db.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]


def fetch_all(db, config: Config, topics: list, sources: tuple[str, ...], full: bool, since: date | None,
              follow: bool, out: Output) -> dict:
    """Fetch every topic from every source, follow links, refresh the evidence; return the summary."""
    first = last_run_id(db)
    for topic in topics:
        for name in sources:
            if name == "ctgov" and not (topic.ctgov_condition or topic.ctgov_intervention or topic.ctgov_term):
                out.line(f"ctgov {topic.name}: skipped (the topic has no ClinicalTrials.gov query)")
                continue
            try:
                result = FETCHERS[name](db, config, topic, full=full, since=since)
            except LitwatchError as e:
                out.error(f"{name} {topic.name}: {e}")
                continue
            c = result.counts
            unit = "studies" if name == "ctgov" else "records"
            out.line(f"{name} {topic.name}: {c.received} of {c.expected} {unit} fetched "
                     f"({c.new} new, {c.updated} updated, {c.unchanged} unchanged, {c.deleted} deleted) "
                     f"[{result.params['mode']}, run {result.run_id}]")
    if follow:
        evidence.refresh(db, config.topics)  # the links tell what to follow
        try:
            for result in follow_links(db, config, sources=sources):
                unit = "studies" if result.source == "ctgov" else "records"
                out.line(f"{result.source} linked {unit}: {result.counts.received} of {result.counts.expected} "
                         f"fetched by ID [run {result.run_id}]")
        except LitwatchError as e:
            out.error(f"following links: {e}")
    summary = evidence.refresh(db, config.topics)
    out.line(_evidence_line(summary))
    return run_summary(db, first, {"evidence": summary})


@cli.command()
@click.option("--source", type=click.Choice(("all",) + SOURCES), default="all", show_default=True,
              help="Which source to fetch.")
@click.option("--topic", "topics", multiple=True, help="Topic name (repeatable; default: every topic).")
@click.option("--full", is_flag=True, help="Fetch everything, not only what changed since the last run.")
@click.option("--since", type=str, callback=_parse_date, help="Fetch what was added or revised since YYYY-MM-DD.")
@click.option("--no-follow", is_flag=True, help="Do not fetch the linked records the topic queries missed.")
@machine_options
@click.pass_obj
@reports_errors
def fetch(obj: Context, source: str, topics: tuple[str, ...], full: bool, since: date | None,
          no_follow: bool, quiet: bool, as_json: bool, wait: float) -> None:
    """Fetch the topics' records from PubMed and ClinicalTrials.gov into the database.

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
    if full and since:
        raise click.UsageError("--full and --since cannot be combined")
    config = obj.config
    chosen = [config.topic(name) for name in topics] if topics else list(config.topics)
    sources = SOURCES if source == "all" else (source,)
    out = Output(quiet, as_json)
    with writing(obj, wait) as db:
        summary = fetch_all(db, config, chosen, sources, full, since, not no_follow, out)
    finish_command(summary, out)


def _evidence_line(summary: dict[str, int]) -> str:
    return (f"evidence: {summary['links']} paper-trial links; core to a topic: "
            f"{summary['core_articles']} papers, {summary['core_trials']} trials")


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--topic", help="Tag the imported records with this topic.")
@click.option("--workers", type=click.IntRange(1, 64), help="Parser processes for large XML files (default: CPUs).")
@machine_options
@click.pass_obj
@reports_errors
def import_(obj: Context, paths: tuple[str, ...], topic: str | None, workers: int | None,
            quiet: bool, as_json: bool, wait: float) -> None:
    """Import files; a file that fails is reported and the others still load.

    PubMed files (efetch XML, baseline/update files .xml/.xml.gz, MEDLINE
    text exports .nbib/.txt) and ClinicalTrials.gov JSON (website downloads, API pages,
    single studies). The format is read from the content. Exit status as for fetch.

    \b
    Example:
        litwatch import pubmed25n1274.xml.gz pubmed-ketamine-set.nbib ctg-studies.json
    """
    out = Output(quiet, as_json)
    with writing(obj, wait) as db:
        first = last_run_id(db)
        failures = 0
        for path in paths:
            size = Path(path).stat().st_size
            try:
                with _progress(size if not (quiet or as_json) else 0, f"Importing {Path(path).name}") as bar:
                    (result,) = import_paths(db, [path], topic=topic, progress=bar.update, workers=workers)
            except LitwatchError as e:
                failures += 1
                out.error(str(e))
                continue
            c = result.counts
            unit = "studies" if result.source == "ctgov" else "records"
            out.line(f"{path}: {c.received} {unit} ({c.new} new, {c.updated} updated, "
                     f"{c.unchanged} unchanged, {c.deleted} deleted, {c.skipped} skipped) [run {result.run_id}]")
        refreshed = evidence.refresh(db, obj.config.topics)
        out.line(_evidence_line(refreshed))
        summary = run_summary(db, first, {"evidence": refreshed})
        if failures and summary["status"] == "success":  # a file refused before any run began
            summary["status"] = "partial" if summary["runs"] else "failed"
    finish_command(summary, out)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _progress(length: int, label: str):
    """A progress bar on a terminal; nothing when output goes to a file or pipe."""
    if length and sys.stderr.isatty():
        return click.progressbar(length=length, label=label, file=sys.stderr)
    return _NoBar()


def emit(text: str, output: str | None, what: str | None = None) -> None:
    """Write ``text`` to ``output`` (saying so on stderr when ``what`` is given), or to stdout."""
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        if what:
            click.echo(f"Wrote {what} to {output}", err=True)
    else:
        click.echo(text, nl=False)


def _write_report(db, config: Config, topic_name: str | None, fmt: str, output: str | None,
                  charts_dir: str | None, as_of: date | None, since: date | None,
                  since_last_report: bool) -> dict:
    """Build a report, render it in ``fmt`` and write it to ``output`` (or stdout)."""
    topic = config.topic(topic_name)
    data = report_mod.build_report(db, topic, as_of=as_of, since=since, since_last_report=since_last_report)
    if fmt == "json":
        text = report_mod.to_json(data)
    elif fmt == "html":
        text = render.html(data, charts.svg_charts(data))
    else:
        paths = None
        if charts_dir:
            written = charts.write_charts(data, charts_dir)
            base = Path(output).parent if output else Path(".")
            paths = {k: os.path.relpath(v, base) for k, v in written.items()}
        text = render.markdown(data, paths)
    emit(text, output)
    report_mod.record_report(db, data, fmt, output)
    return data


@cli.command()
@click.option("--topic", help="Topic name (default: the first configured topic).")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@click.option("--charts-dir", type=click.Path(file_okay=False), help="Markdown: also write PNG charts here and link them.")
@click.option("--as-of", type=str, callback=_parse_date, help="Report the state after the runs started by YYYY-MM-DD.")
@click.option("--since", type=str, callback=_parse_date, help="'What changed' since YYYY-MM-DD (default: the last run).")
@click.option("--since-last-report", is_flag=True, help="'What changed' since the last report of this topic.")
@click.pass_obj
@reports_errors
def report(obj: Context, topic: str | None, fmt: str, output: str | None, charts_dir: str | None,
           as_of: date | None, since: date | None, since_last_report: bool) -> None:
    """Write the "ongoing research" brief: trials in progress, completed trials and
    their results, published evidence by design, the evidence behind the topic's claims,
    what changed, and the sources. Markdown, self-contained HTML with charts, or JSON.

    \b
    Example:
        litwatch report --format html -o report.html
        litwatch report --charts-dir charts -o report.md --since-last-report
    """
    if since and since_last_report:
        raise click.UsageError("--since and --since-last-report cannot be combined")
    data = _write_report(obj.db(), obj.config, topic, fmt, output, charts_dir, as_of, since, since_last_report)
    if output:
        click.echo(f"Report written to {output}" + (f" ({data['notice']})" if data["notice"] else ""), err=True)


SAMPLE_DIRS = [Path("data/sample"), Path(__file__).resolve().parents[1] / "data" / "sample"]


@cli.command()
@click.option("--output", "-o", default="data/report.html", show_default=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="html", show_default=True)
@machine_options
@click.pass_obj
@reports_errors
def update(obj: Context, output: str, fmt: str, quiet: bool, as_json: bool, wait: float) -> None:
    """Fetch every topic from every source, then write the report of the first topic.

    When neither service can be reached and the database is empty, the bundled real
    sample in data/sample is imported instead, and the report says so. Exit status as
    for fetch; the report is written whenever anything is stored.

    \b
    Example:
        litwatch update -o public/ketamine-ptsd.html --quiet
    """
    config = obj.config
    out = Output(quiet, as_json)
    with writing(obj, wait) as db:
        first = last_run_id(db)
        reachable = [name for name, url in (("pubmed", f"{config.eutils_url}/einfo.fcgi"),
                                            ("ctgov", f"{config.ctgov_url}/version")) if probe(url)]
        if reachable:
            summary = fetch_all(db, config, list(config.topics), SOURCES, False, None, True, out)
        elif not db.execute("SELECT count(*) FROM runs WHERE status = 'success'").fetchone()[0]:
            sample = next((d for d in SAMPLE_DIRS if d.is_dir()), None)
            if sample is None:
                raise Failure("services unreachable and no bundled sample found (data/sample)")
            if not as_json:
                click.echo(f"Offline: PubMed and ClinicalTrials.gov cannot be reached; importing the bundled real "
                           f"sample in {sample} instead of a live fetch.", err=True)
            for path in sorted(sample.iterdir()):
                import_paths(db, [path], topic=config.topics[0].name)
            summary = run_summary(db, first, {"evidence": evidence.refresh(db, config.topics), "offline": True})
        else:
            if not as_json:
                click.echo("Offline: PubMed and ClinicalTrials.gov cannot be reached; reporting the data "
                           "already stored.", err=True)
            summary = {"status": "failed", "runs": [], "offline": True}
        data = _write_report(db, config, None, fmt, output, None, None, None, False)
    summary.update(report=output, notice=data["notice"])
    out.line(f"Report written to {output}")
    if data["notice"]:
        out.line(f"Notice: {data['notice']}")
    finish_command(summary, out)


def probe(url: str) -> bool:
    """Whether a service answers at all (one quick request, no retries)."""
    try:
        requests.get(url, timeout=5, headers={"User-Agent": USER_AGENT})
        return True
    except requests.RequestException:
        return False


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
    emit(json.dumps(browse.datasette_metadata(obj.db_path), indent=2) + "\n", output, "metadata")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--open", "open_browser", is_flag=True, help="Open a browser.")
@click.pass_obj
@reports_errors
def serve(obj: Context, host: str, port: int, open_browser: bool) -> None:
    """Browse the database in Datasette, with litwatch's metadata (Ctrl-C to stop).

    Datasette is an optional extra: pip install 'litwatch[datasette]'.

    \b
    Example:
        litwatch serve --port 8001
    """
    if importlib.util.find_spec("datasette") is None:
        raise click.ClickException("Datasette is not installed: pip install 'litwatch[datasette]'")
    obj.db().close()  # create the schema (and views) before Datasette reads it
    metadata = Path(obj.db_path).with_suffix(".metadata.json")
    metadata.write_text(json.dumps(browse.datasette_metadata(obj.db_path), indent=2), encoding="utf-8")
    command = [sys.executable, "-m", "datasette", "serve", obj.db_path, "-m", str(metadata),
               "--host", host, "--port", str(port)] + (["--open"] if open_browser else [])
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
@click.option("--relevance", type=click.Choice(["core", "peripheral"]), help="Citations: relevance to --topic.")
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
    db = obj.db()
    if list_tables:
        click.echo("\n".join(sorted(n for n in db.table_names() + db.view_names() if "_fts" not in n)))
        return
    if fmt in ("ris", "bibtex"):
        papers = exports.citations(db, topic=topic, designs=designs, year_from=year_from, year_to=year_to,
                                   relevance=relevance, include_retracted=include_retracted)
        text = citations.to_ris(papers) if fmt == "ris" else citations.to_bibtex(papers)
        summary = f"{len(papers)} citations"
    else:
        if bool(table) == bool(sql):
            raise click.UsageError("give a TABLE or --sql (one of them)")
        columns, data = exports.rows(db, table=table, sql=sql)
        text = exports.to_csv(columns, data) if fmt == "csv" else exports.to_json(columns, data)
        summary = f"{len(data)} rows"
    emit(text, output, summary)


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many runs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
@reports_errors
def runs(obj: Context, limit: int, as_json: bool) -> None:
    """List past runs: what was fetched or imported, when, and how it ended.

    \b
    Example:
        litwatch runs --limit 5
    """
    rows = list(obj.db().query(
        "SELECT id, topic, source, kind, started_at, finished_at, status, expected, received, "
        "new, updated, unchanged, deleted, skipped, error FROM runs ORDER BY id DESC LIMIT ?", [limit]))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("No runs yet. Try: litwatch fetch")
    else:
        click.echo(tabulate(rows, headers="keys", tablefmt="simple", missingval=""))
