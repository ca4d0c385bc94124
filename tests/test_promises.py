"""What the README and `--help` promise about the command line, each held by a test: the
services the help names, the exit statuses, what `export` cites and how it selects, the
options it refuses rather than ignores, and the install hint of `serve`."""

import re
import shlex
import sys
import tomllib
from pathlib import Path

import pytest
import rispy
from click.testing import CliRunner

from litwatch import evidence
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC
from litwatch.exports import RELEVANCE
from litwatch.sources import all_sources
from litwatch.catalog import open_db
from litwatch.sync import import_file
from litwatch.terminal import EXIT_BUSY, EXIT_FAILED, EXIT_PARTIAL, EXIT_USAGE, install_hint

from conftest import FIXTURES, SUBSET

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOPIC = DEFAULT_TOPIC.name


def invoke(*args, db=None):
    return CliRunner().invoke(cli, [*(["--db", str(db)] if db else []), *args])


def one_line_error(result, code, *words):
    """The command refused with exit ``code`` and one ``Error:`` line holding ``words``."""
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert all(word in lines[0] for word in words), lines[0]


@pytest.fixture(scope="module")
def dbfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("promises") / "litwatch.db"
    db = open_db(path)
    import_file(db, SUBSET, topic=TOPIC)
    import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json", topic=TOPIC)
    evidence.refresh(db, [DEFAULT_TOPIC])
    db.close()
    return path


# --- --help names the services of the registry ------------------------------------------------

@pytest.mark.parametrize("args", [["--help"], ["update", "--help"], ["fetch", "--help"]])
def test_help_names_every_service_of_the_source_registry(args):
    result = invoke(*args)
    text = " ".join(result.output.split())
    labels = [source.label for source in all_sources()]
    assert result.exit_code == 0 and len(labels) == 3
    assert all(label in text for label in labels), (labels, text)
    assert "neither" not in text  # "when neither service can be reached": there are three


# --- exit statuses ------------------------------------------------------------------------------

def test_the_readme_gives_each_exit_status_as_the_code_has_it(tmp_path, monkeypatch):
    paragraph = README.split("Every error is printed as one line starting `Error:`", 1)[1].split("\n\n", 1)[0]
    for code, kind in ((EXIT_USAGE, "bad usage or configuration"), (EXIT_FAILED, "a failure"),
                       (EXIT_PARTIAL, "some sources or files failed"), (EXIT_BUSY, "another run")):
        assert re.search(rf"\b{code} (for|when) {kind}", paragraph), (code, kind)
    assert "exits with status 1" not in README  # the old promise: every error exits 1
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[ncbi\n")
    one_line_error(invoke("--config", "bad.toml", "fetch"), EXIT_USAGE, "not valid TOML")
    failed = invoke("import", str(FIXTURES / "efetch_not_xml.html"))
    assert failed.exit_code == EXIT_FAILED and failed.output.startswith("Error: ")


@pytest.mark.parametrize("command", [["runs"], ["runs", "--limit", "5"], ["export", "--list"], ["check"]])
def test_a_bad_config_is_refused_by_commands_that_do_not_need_it(tmp_path, monkeypatch, dbfile, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[ncbi]\napi_kee = 'k'\n")
    one_line_error(invoke("--config", "bad.toml", *command, db=dbfile), EXIT_USAGE,
                   "config key 'ncbi.api_kee' is not recognised")
    assert invoke(*command, db=dbfile).exit_code == 0  # without it, the command runs


# --- export: relevance ------------------------------------------------------------------------------

def test_the_readme_lists_the_relevance_values_export_takes():
    (listed,) = re.findall(r"--relevance ([a-z|]+)\]", README)
    assert tuple(listed.split("|")) == RELEVANCE == ("core", "related", "intervention", "condition", "none")
    assert "peripheral" not in README


def cited(dbfile, *args):
    result = invoke("export", *args, "--format", "ris", "--topic", TOPIC, db=dbfile)
    assert result.exit_code == 0, result.output
    return {e.get("accession_number") or e["issn"] for e in rispy.loads(result.stdout)}


@pytest.mark.parametrize("of", ["papers", "trials"])
def test_related_relevance_is_intervention_or_condition(dbfile, of):
    related = cited(dbfile, of, "--relevance", "related")
    assert related and related == cited(dbfile, of, "--relevance", "intervention") | cited(
        dbfile, of, "--relevance", "condition")
    assert not related & cited(dbfile, of, "--relevance", "core")
    refused = invoke("export", of, "--format", "ris", "--relevance", "peripheral", db=dbfile)
    assert refused.exit_code == EXIT_USAGE and "'peripheral' is not one of" in refused.output


# --- export: what citations are of ------------------------------------------------------------------

@pytest.mark.parametrize("args,words", [
    (["articles", "--format", "ris"], ["--format ris cites papers or trials, not 'articles'"]),
    (["recruiting_trials", "--format", "bibtex"], ["not 'recruiting_trials'"]),
    (["--sql", "select 1", "--format", "ris"], ["not --sql"]),
])
def test_a_table_citations_cannot_be_of_is_refused_not_ignored(dbfile, args, words):
    one_line_error(invoke("export", *args, db=dbfile), EXIT_USAGE, *words)


def test_papers_is_what_citations_are_of_by_default(dbfile):
    papers = invoke("export", "--format", "ris", db=dbfile)
    assert papers.exit_code == 0 and papers.stdout == invoke("export", "papers", "--format", "ris", db=dbfile).stdout
    assert {e["type_of_reference"] for e in rispy.loads(papers.stdout)} == {"JOUR"}


# --- report --charts-dir -------------------------------------------------------------------------------

@pytest.mark.parametrize("args,words", [
    (["--format", "html"], ["--format html", "inline"]),
    (["--format", "json"], ["--format json"]),
    (["--section", "summary"], ["--section summary"]),
])
def test_charts_dir_is_refused_where_no_chart_is_written(dbfile, tmp_path, args, words):
    charts, out = tmp_path / "charts", tmp_path / "report.out"
    result = invoke("report", *args, "--charts-dir", str(charts), "-o", str(out), db=dbfile)
    one_line_error(result, EXIT_USAGE, "--charts-dir", *words)
    assert not charts.exists() and not out.exists()


# --- serve: the install hint ----------------------------------------------------------------------------

def test_the_datasette_hint_of_a_clone_installs_this_clone_with_its_extra(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    hint = shlex.split(install_hint("datasette"))
    assert hint[1:5] == ["-m", "pip", "install", "-e"] and hint[5] == ".[datasette]"
    assert Path(hint[0]).resolve() == Path(sys.executable).resolve()  # the Python running litwatch
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "datasette" in extras
    for elsewhere in ("/", tmp_path):
        monkeypatch.chdir(elsewhere)
        assert shlex.split(install_hint("datasette"))[5] == f"{ROOT}[datasette]"  # from anywhere


def specifiers(requirement):
    return sorted(requirement.removeprefix("datasette").split(","))


def test_the_datasette_hint_of_an_installed_package_names_datasettes_requirement(tmp_path):
    installed = tmp_path / "site-packages" / "litwatch"  # no pyproject.toml beside it
    installed.mkdir(parents=True)
    hint = shlex.split(install_hint("datasette", installed))
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (requirement,) = extras["datasette"]
    assert hint[1:4] == ["-m", "pip", "install"] and len(hint) == 5
    assert hint[4].startswith("datasette") and specifiers(hint[4]) == specifiers(requirement)
    assert "litwatch[datasette]" not in hint and "-e" not in hint


@pytest.mark.parametrize("args,starts", [
    (["report", "-o", "brief.md"], "# Ongoing research"), (["report", "-o", "brief.json"], "{"),
    (["report", "-o", "brief.html"], "<!DOCTYPE html>"), (["report", "--format", "md", "-o", "brief.html"], "# "),
])
def test_the_report_format_follows_the_output_file_unless_given(dbfile, tmp_path, monkeypatch, args, starts):
    """`-o brief.md` writes Markdown, whatever the command's default format; --format wins."""
    monkeypatch.chdir(tmp_path)
    assert invoke("--db", str(dbfile), *args).exit_code == 0
    assert (tmp_path / args[-1]).read_text().lstrip().startswith(starts)
