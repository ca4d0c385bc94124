"""litwatch as a library: every command is one call, and a call leaves no database open."""

import pytest
import os
from pathlib import Path

from click.testing import CliRunner

import litwatch
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC, Config

from conftest import FIXTURES, SUBSET

CONFIG = Config(topics=(DEFAULT_TOPIC,))


def open_files(path: Path) -> list[str]:
    """Files of this process that are the database or its journals."""
    fds = Path("/proc/self/fd")
    names = []
    for fd in fds.iterdir():
        try:
            names.append(os.readlink(fd))
        except OSError:
            continue
    return [n for n in names if n.startswith(str(path))]


@pytest.mark.slow
def test_the_commands_are_library_calls_that_close_what_they_open(tmp_path):
    db = tmp_path / "litwatch.db"
    summary = litwatch.import_paths(db, [SUBSET, FIXTURES / "ctg-studies_dtx_psychiatric.json"], CONFIG,
                                    topic=DEFAULT_TOPIC.name)
    assert summary["status"] == "success" and [r["received"] for r in summary["runs"]] == [304, 128]
    data = litwatch.build_report(db, CONFIG)
    text, rows = litwatch.export(db, table="recruiting_trials")
    assert rows == text.count("\n") - 1 and litwatch.list_runs(db)[0]["kind"] == "import"
    litwatch.write_report(db, CONFIG, fmt="md", output=tmp_path / "report.md")
    assert open_files(db) == []  # every connection was closed
    # The command line prints what the library returns, byte for byte.
    result = CliRunner().invoke(cli, ["--db", str(db), "report"])
    assert result.output == (tmp_path / "report.md").read_text() == litwatch.render_report(data, "md")


@pytest.mark.slow
def test_a_python_scheduler_runs_the_offline_update(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("litwatch.http.probe", lambda url: False)
    lines = []
    summary = litwatch.update("data/litwatch.db", CONFIG, output="out/report.html", echo=lines.append)
    assert summary["status"] == "success" and summary["report"] == "out/report.html" and summary["notice"]
    assert lines and lines[0].startswith("Offline:")
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert open_files(tmp_path / "data" / "litwatch.db") == []
