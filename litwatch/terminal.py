"""What the command line shows on a terminal: a command's result lines and errors
(:class:`Output`: text, errors only with --quiet, or one JSON summary with --json), the
progress bars of the library's meters (:class:`Bars`, on a terminal only), and the log lines
of an invocation (:func:`setup_logging`). The commands (:mod:`litwatch.cli`) call the
library and print through this module; it prints and decides nothing else.

Only click's public API is used: a bar is litwatch's own line (:class:`ProgressLine`), drawn
with ``click.echo``, so it can be drawn when asked to (``LITWATCH_PROGRESS=1``) and drawn again
in full below a log line.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable

import click

from .redact import printable

# Exit codes, for cron and CI.
EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_BUSY = 1, 2, 3, 75

log = logging.getLogger("litwatch")


def counted(n: int, unit: str) -> str:
    """``n`` and its unit, singular for one: "1 study", "2 studies"."""
    return f"{n} {_ONE.get(unit, unit) if n == 1 else unit}"


_ONE = {"studies": "study", "records": "record", "papers": "paper", "trials": "trial",
        "paper-trial links": "paper-trial link"}


# --------------------------------------------------------------------- log lines ---

class OneLine(logging.Formatter):
    """Log lines that stay one line each: control characters in a message are escaped; only
    a traceback (logged at debug level, shown with -v) spans lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


class LogLines(logging.StreamHandler):
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


def setup_logging(ctx: click.Context, verbose: bool) -> LogLines:
    """Send log lines to stderr for this invocation (WARNING, or INFO with -v) and undo it
    when the command ends, so a library call or a test that follows starts clean."""
    root = logging.getLogger()
    handler = LogLines()
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


# ----------------------------------------------------------------- progress bars ---

class ProgressLine:
    """One progress bar on one line, redrawn in place: ``label  [####------]  info``, the
    info being the position (``120/304``) or the percentage, the time left once known, and
    the step's note ("1,500 records"). Written with ``click.echo``, which leaves out the
    cursor's escape codes where the stream is not a terminal."""

    WIDTH = 36
    HIDE_CURSOR, SHOW_CURSOR = "\033[?25l", "\033[?25h"

    def __init__(self, stream: IO[str], label: str, total: int | None, show_pos: bool, show_eta: bool):
        self.stream, self.label, self.total = stream, label, total
        self.show_pos, self.show_eta = show_pos, show_eta
        self.done, self.note = 0, ""
        self.started = time.monotonic()
        self.last: str | None = None  # the line on screen; None: draw it in full
        self.drawn = False  # a bar is on the current line (a log line must start a new one)
        self.draw()

    def update(self, done: int, note: str = "") -> None:
        self.done += done
        if note:
            self.note = note
        self.draw()

    def bar(self) -> str:
        if self.total is not None:
            filled = int(min(self.done / (self.total or 1), 1.0) * self.WIDTH)
            return "#" * filled + "-" * (self.WIDTH - filled)
        # Unknown length: a block moving to and fro as units get done.
        span = 2 * (self.WIDTH - 1)
        at = self.done % span if self.done else 0
        at = at if at < self.WIDTH else span - at
        return "".join("#" if self.done and i == at else "-" for i in range(self.WIDTH))

    def info(self) -> str:
        bits = []
        if self.show_pos:
            bits.append(f"{self.done}/{self.total}" if self.total is not None else str(self.done))
        elif self.total is not None:
            bits.append(f"{int(min(self.done / (self.total or 1), 1.0) * 100):3d}%")
        left = self.left()
        if left:
            bits.append(left)
        if self.note:
            bits.append(self.note)
        return "  ".join(bits)

    def left(self) -> str:
        """The time left, as HH:MM:SS, once a second has passed (and the step is not done)."""
        elapsed = time.monotonic() - self.started
        if not (self.show_eta and self.total is not None and self.done and elapsed >= 1 and self.done < self.total):
            return ""
        seconds = int(elapsed / self.done * (self.total - self.done))
        days, rest = divmod(seconds, 86400)
        clock = f"{rest // 3600:02}:{rest % 3600 // 60:02}:{rest % 60:02}"
        return f"{days}d {clock}" if days else clock

    def draw(self) -> None:
        line = f"{self.label}  [{self.bar()}]  {self.info()}".rstrip()
        if line == self.last:
            return
        padding = " " * max(len(self.last or "") - len(line), 0)  # clear what a longer line left
        click.echo(f"\r{self.HIDE_CURSOR}{line}{padding}", file=self.stream, nl=False)
        self.stream.flush()
        self.last, self.drawn = line, True

    def interrupt(self) -> None:
        """A log line is coming: end the bar's line (the bar is drawn in full on its next update)."""
        if self.drawn:
            click.echo("", file=self.stream)
            self.last, self.drawn = None, False

    def close(self) -> None:
        click.echo(self.SHOW_CURSOR, file=self.stream, nl=self.drawn)
        self.drawn = False


class Bars:
    """The library's progress meters as bars on stderr (one at a time): only on a terminal,
    never with --quiet or --json, in a pipe, a log file or cron. LITWATCH_PROGRESS=1 shows
    them anyway, =0 never."""

    def __init__(self, silent: bool):
        wanted = os.environ.get("LITWATCH_PROGRESS", "").strip().lower()
        self.forced = wanted in ("1", "always", "yes")
        self.shown = not silent and wanted not in ("0", "never", "no") and (self.forced or sys.stderr.isatty())
        self.bar: ProgressLine | None = None

    def __call__(self, what: str, total: int | None, unit: str) -> Callable[..., None] | None:
        """A bar for one step (a meter, see :mod:`litwatch.progress`)."""
        self.close()
        if not self.shown:
            return None
        label = f"Importing {Path(what).name}" if unit == "bytes" else what
        # A bar of unknown length (PubMed's two date searches overlap by an amount nobody
        # knows in advance) still counts, with a moving block for the bar.
        self.bar = ProgressLine(sys.stderr, label, total, show_pos=unit != "bytes", show_eta=total is not None)
        return self.update

    def update(self, done: int, note: str = "") -> None:
        if self.bar is not None:
            self.bar.update(done, note)

    def interrupt(self) -> None:
        """A log line is coming: end the bar's line (the bar is drawn again on its next update)."""
        if self.bar is not None:
            self.bar.interrupt()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ---------------------------------------------------------------- a command's lines ---

class Output:
    """Where a command's lines go: text, nothing but errors (--quiet: log warnings too are
    left out), or one JSON summary (--json); and its progress bars (on a terminal only).
    ``log_lines`` is the invocation's log handler (:func:`setup_logging`), told of the bars
    and, with --quiet, kept to errors."""

    def __init__(self, quiet: bool, as_json: bool, log_lines: LogLines | None = None):
        self.quiet, self.as_json = quiet, as_json
        self.bars = Bars(silent=quiet or as_json)
        if log_lines is not None:
            log_lines.bars = self.bars
            if quiet:
                log_lines.setLevel(logging.ERROR)

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
                      f"{source.result_note(result)} [{result.params['mode']}, run {result.run_id}]")

    def close(self) -> None:
        self.bars.close()

    def finish(self, summary: dict[str, Any], evidence: bool = True) -> None:
        """Print the evidence line or the JSON summary; exit 0, 3 (partial) or 1 (failed)."""
        if self.as_json:
            click.echo(json.dumps(summary, indent=2, sort_keys=True))
        elif evidence and "evidence" in summary:
            e = summary["evidence"]
            self.line(f"evidence: {counted(e['links'], 'paper-trial links')}; core to a topic: "
                      f"{counted(e['core_papers'], 'papers')}, {counted(e['core_trials'], 'trials')}")
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


# ------------------------------------------------------------ other commands' lines ---

def emit(text: str, output: str | None, what: str | None = None) -> None:
    """Write ``text`` to ``output`` (saying so on stderr when ``what`` is given), or to stdout."""
    from .api import write_text

    if output:
        write_text(output, text)
        if what:
            click.echo(f"Wrote {what} to {output}", err=True)
    else:
        click.echo(text, nl=False)


def runs_table(rows: list[dict[str, Any]], gaps: list[dict[str, Any]]) -> str:
    """The past runs as a table, then the monitoring gaps still open."""
    from tabulate import tabulate

    shown = [{k: printable(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
    text = tabulate(shown, headers="keys", tablefmt="simple", missingval="")
    if gaps:
        text += f"\n\nOpen monitoring gaps ({len(gaps)}):"
        text += "".join("\n" + printable(f"  {gap['text']}") for gap in gaps)
    return text


def checked(result: dict[str, Any]) -> str:
    """The line of a sound database (and of its copy), from :func:`litwatch.api.check`."""
    from .store.db import SCHEMA_VERSION

    version = result["schema_version"]
    schema = (f"schema version {version}" + ("" if version == SCHEMA_VERSION else
                                             ", older than this litwatch's: `litwatch migrate` upgrades it"))
    copy = f"; copy written to {result['backup']}" if result["backup"] else ""
    return (f"{result['path']}: sound ({result['check']}: ok; foreign keys: ok; {schema}); "
            f"{result['bytes'] / 1e6:.1f} MB checked in {result['seconds']:.1f} s{copy}")


def install_hint(extra: str, package: Path | None = None) -> str:
    """The command that installs an optional extra into the Python running litwatch: from a
    clone (an editable install, the README's set-up), ``pip install -e '<clone>[extra]'``;
    from an installed package, the extra's own requirements, as litwatch's metadata lists
    them (``pip install 'datasette>=0.65,<1.0'``), so the hint never sends a user to a
    package index for a litwatch that may not be there. ``package``: litwatch's folder
    (default: this one's)."""
    root = (package or Path(__file__).resolve().parent).parent
    python = _short(Path(sys.executable))
    if (root / "pyproject.toml").is_file() and (root / "litwatch" / "__init__.py").is_file():
        return f"{python} -m pip install -e {shlex.quote(f'{_short(root)}[{extra}]')}"
    from importlib.metadata import PackageNotFoundError, requires

    try:
        wanted = [r.split(";")[0].strip() for r in requires("litwatch") or []
                  if f'extra == "{extra}"' in r.replace("'", '"')]
    except PackageNotFoundError:
        wanted = []
    return f"{python} -m pip install " + " ".join(shlex.quote(r) for r in wanted or [f"litwatch[{extra}]"])


def _short(path: Path) -> str:
    """``path`` relative to the working directory when it lies in it (``.`` for the directory
    itself, as the README writes ``pip install -e '.[datasette]'``), else absolute."""
    cwd = Path.cwd()
    if cwd == Path(cwd.anchor) or not path.is_relative_to(cwd):
        return str(path)
    return str(path.relative_to(cwd))
