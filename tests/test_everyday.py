"""Everyday use, as a person at a terminal and a cron job meet it: progress bars on a
terminal only, -v naming each request, --quiet printing errors only, an offline run that
gives up in seconds, one NCBI e-mail warning, fetch lines that count each record once, and
linked records a service does not have asked for again only after a while."""

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
from datetime import date

import pytest
from click.testing import CliRunner

from litwatch.absent import RETRY_DAYS
from litwatch.cli import cli

from conftest import FIXTURES, within
from ctgov_standin import CtgovStandin, load_studies
from eutils_standin import EutilsStandin
from hostile_servers import refused_port

# The clients' pauses between requests (the services' rate limits) are recorded, not waited out.
pytestmark = pytest.mark.usefixtures("no_sleep")

ONE_FILE = FIXTURES / "pubmed-29768149.xml"
SERVICES = ("LITWATCH_EUTILS_URL", "LITWATCH_CTGOV_URL", "LITWATCH_EUROPEPMC_URL")


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("NCBI_API_KEY", "NCBI_EMAIL", "LITWATCH_DB", "LITWATCH_PROGRESS", *SERVICES):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args, env=None):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return invoke


@pytest.fixture
def services(real_records):
    """PubMed and ClinicalTrials.gov stand-ins serving real records; Europe PMC left out."""
    eutils, ctgov = EutilsStandin(real_records), CtgovStandin(load_studies(), page_size=60)
    with eutils.serve() as eutils_url, ctgov.serve() as ctgov_url:
        yield eutils, ctgov, {"LITWATCH_EUTILS_URL": eutils_url, "LITWATCH_CTGOV_URL": ctgov_url,
                              "NCBI_EMAIL": "dev@example.org"}


def fetch(run, env, *args):
    return run("fetch", "--source", "pubmed", "--source", "ctgov", *args, env=env)


# --- Progress bars ------------------------------------------------------------------------

def test_no_progress_bar_when_output_is_not_a_terminal(run):
    result = run("import", str(ONE_FILE))
    assert result.exit_code == 0 and result.stderr == ""
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [str(ONE_FILE), "evidence"]


def test_a_progress_bar_when_forced_and_never_with_quiet_or_json(run):
    shown = run("import", str(ONE_FILE), env={"LITWATCH_PROGRESS": "1"})
    assert "Importing pubmed-29768149.xml" in shown.stderr and "100%" in shown.stderr
    assert "1 records" in shown.stderr  # the records read, beside the bytes
    for flag in ("--quiet", "--json"):
        hidden = run("import", str(ONE_FILE), flag, env={"LITWATCH_PROGRESS": "1"})
        assert hidden.stderr == ""


@pytest.mark.slow
def test_fetch_shows_one_bar_per_source_of_the_searchs_count(run, services):
    _, _, env = services
    result = fetch(run, {**env, "LITWATCH_PROGRESS": "1"}, "--no-follow")
    assert result.exit_code == 0, result.output
    assert "pubmed ketamine-ptsd" in result.stderr and "304/304" in result.stderr
    assert "ctgov ketamine-ptsd" in result.stderr and "128/128" in result.stderr


def on_a_terminal(*args, cwd):
    """Run litwatch with its stderr on a pseudo-terminal; return what the terminal showed."""
    main, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "LITWATCH_PROGRESS"}
    process = subprocess.Popen([sys.executable, "-m", "litwatch", *args], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=secondary, stdin=subprocess.DEVNULL)
    os.close(secondary)
    shown = b""
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        try:
            chunk = os.read(main, 65536) if ready else b""
        except OSError:  # the other end closed
            chunk = b""
        if not chunk:
            break
        shown += chunk
    process.wait(30)
    os.close(main)
    return shown.decode()


def test_a_progress_bar_on_a_terminal(tmp_path):
    shown = on_a_terminal("import", str(ONE_FILE), cwd=tmp_path)
    assert "Importing pubmed-29768149.xml" in shown and "100%" in shown
    assert on_a_terminal("import", str(ONE_FILE), "--quiet", cwd=tmp_path) == ""


# --- -v and --quiet --------------------------------------------------------------------------

@pytest.mark.slow
def test_verbose_names_each_search_window_batch_and_page(run, services):
    _, _, env = services
    result = fetch(run, env, "--no-follow", "--since", "1900-01-01")
    verbose = run("-v", "fetch", "--source", "pubmed", "--source", "ctgov", "--since", "1900-01-01", "--no-follow",
                  env=env)
    assert "PubMed esearch" not in result.stderr  # without -v: none of it
    lines = [line.split(" INFO ", 1)[1] for line in verbose.stderr.splitlines() if " INFO " in line]
    assert "PubMed esearch (edat 1900/01/01 to 3000/12/31): 304 records" in lines
    assert "PubMed esearch (mdat 1900/01/01 to 3000/12/31): 304 records" in lines
    assert lines.count("PubMed efetch: records 1-304 of 304") == 2
    assert "ClinicalTrials.gov: page 1 brought 60 studies (after 1 page, 60 of 128 studies)" in lines
    assert "ClinicalTrials.gov: page 3 brought 8 studies (after 3 pages, 128 of 128 studies)" in lines
    assert not any("api_key" in line for line in lines)


def test_verbose_leaves_out_other_libraries_info_lines(run, monkeypatch):
    import logging

    def fetch_and_chatter(*args, **kwargs):
        logging.getLogger("matplotlib.font_manager").info("generated new fontManager")
        logging.getLogger("urllib3.connectionpool").info("Starting new HTTP connection (1): example.org:80")
        logging.getLogger("litwatch.sync").info("a line of litwatch's own")
        return {"status": "success", "runs": [], "errors": []}
    monkeypatch.setattr("litwatch.api.fetch", fetch_and_chatter)
    result = run("-v", "fetch")
    assert "a line of litwatch's own" in result.stderr
    assert "fontManager" not in result.stderr and "Starting new" not in result.stderr


def test_verbose_shows_the_traceback_of_an_unexpected_error(run, monkeypatch):
    monkeypatch.delenv("LITWATCH_DEBUG")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")
    monkeypatch.setattr("litwatch.api.fetch", broken)
    plain, verbose = run("fetch"), run("-v", "fetch")
    assert plain.stderr == "Error: unexpected RuntimeError: a bug (run with -v for the traceback)\n"
    assert "Traceback (most recent call last)" in verbose.stderr and plain.exit_code == verbose.exit_code == 1


@pytest.mark.slow
def test_quiet_prints_no_warnings(run, services):
    _, _, env = services
    del env["NCBI_EMAIL"]  # a warning every run would otherwise print
    loud = fetch(run, env)
    assert loud.exit_code == 0 and "WARNING" in loud.stderr
    quiet = fetch(run, env, "--quiet")
    assert quiet.exit_code == 0 and quiet.output == ""


# --- Offline ---------------------------------------------------------------------------------

def test_an_offline_fetch_gives_up_in_seconds_and_skips_the_link_step(run):
    with_links = run("import", "--topic", "ketamine-ptsd", str(FIXTURES / "ctg-studies_dtx_psychiatric.json"))
    assert with_links.exit_code == 0  # trials whose reference papers are not stored: links to follow
    with refused_port() as closed:
        env = {var: f"{closed}/api" for var in SERVICES}
        with within(5):
            result = run("fetch", env={**env, "NCBI_EMAIL": "dev@example.org"})
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert errors == [f"Error: pubmed ketamine-ptsd: {closed}/api/esearch.fcgi failed after 2 attempts (last: could "
                      f"not connect)",
                      f"Error: ctgov ketamine-ptsd: {closed}/api/studies failed after 2 attempts (last: could not "
                      f"connect)",
                      f"Error: europepmc ketamine-ptsd: {closed}/api/search failed after 2 attempts (last: could not "
                      f"connect)"]
    assert "pubmed linked records: skipped (PubMed could not be reached)" in result.stdout
    runs = json.loads(run("runs", "--json").output)
    assert [r["kind"] for r in runs] == ["fetch", "fetch", "fetch", "import"]  # no follow run was made


# --- The NCBI e-mail address -------------------------------------------------------------------

@pytest.mark.slow
def test_no_ncbi_email_is_warned_once_per_run(run, services, tmp_path):
    _, _, env = services
    del env["NCBI_EMAIL"]
    terms = "intervention_terms = ['ketamine']\ncondition_terms = ['PTSD']\n"
    (tmp_path / "two.toml").write_text(f"[[topics]]\nname = 'a'\n{terms}[topics.pubmed]\nquery = 'ketamine'\n"
                                       f"[[topics]]\nname = 'b'\n{terms}[topics.pubmed]\nquery = 'esketamine'\n")
    result = run("--config", "two.toml", "fetch", "--source", "pubmed", env=env)
    warned = [line for line in result.stderr.splitlines() if "e-mail" in line]
    assert len(warned) == 1
    assert "set email under [sources.pubmed] in litwatch.toml or the NCBI_EMAIL environment variable" in warned[0]
    configured = run("--config", "two.toml", "fetch", "--source", "pubmed", env={**env, "NCBI_EMAIL": "me@x.org"})
    assert "e-mail" not in configured.stderr


# --- What fetch lines count --------------------------------------------------------------------

@pytest.mark.slow
def test_overlapping_date_searches_count_each_record_once(run, services):
    _, _, env = services
    run("fetch", "--source", "pubmed", "--no-follow", env=env)
    again = run("fetch", "--source", "pubmed", "--no-follow", "--since", "1900-01-01", env=env)
    assert ("pubmed ketamine-ptsd: 304 records fetched (0 new, 0 updated, 304 unchanged, 0 deleted); each counted "
            "once: the searches for records added and revised since 1900-01-01 overlap (608 between them) "
            "[incremental, run 2]") in again.stdout


# --- Linked records a service does not have ---------------------------------------------------

def asked_by_id(ctgov) -> list[str]:
    return [nct for r in ctgov.requests if "filter.ids" in r for nct in r["filter.ids"].split(",")]


@pytest.mark.slow
def test_absent_linked_ids_are_asked_again_only_after_the_retry_interval(run, services, tmp_path):
    eutils, ctgov, env = services
    first = fetch(run, {**env, "LITWATCH_PROGRESS": "1"})
    assert first.exit_code == 0, first.output
    asked = asked_by_id(ctgov)
    assert "ctgov linked studies  [" in first.stderr and f"{len(asked)}/{len(asked)}" in first.stderr  # IDs asked
    db = sqlite3.connect(tmp_path / "data" / "litwatch.db")
    absent = {r[0] for r in db.execute("SELECT id FROM absent_ids WHERE source = 'ctgov' AND tries = 1")}
    stored = {r[0] for r in db.execute("SELECT nct_id FROM trials")}
    assert absent and absent == set(asked) - stored  # asked for and not served
    line = next(line for line in first.stdout.splitlines() if line.startswith("ctgov linked studies:"))
    assert f"; {len(absent)} not at ClinicalTrials.gov (asked again after {RETRY_DAYS} days)" in line
    assert "WARNING" not in first.stderr  # one summary line, no warning per source or ID

    second = fetch(run, env)
    assert second.exit_code == 0 and asked_by_id(ctgov) == asked  # not asked again
    assert "ctgov linked studies" not in second.stdout

    db.execute("UPDATE absent_ids SET last_tried = '2000-01-01T00:00:00Z'")  # the retry interval has passed
    db.commit()
    third = fetch(run, env)
    assert third.exit_code == 0 and set(asked_by_id(ctgov)[len(asked):]) == absent
    assert {r[0] for r in db.execute("SELECT tries FROM absent_ids WHERE source = 'ctgov'")} == {2}
    assert db.execute("SELECT min(last_tried) FROM absent_ids").fetchone()[0] >= date.today().isoformat()


def test_reconcile_shows_a_bar_of_the_missing_records_it_fetches(run, services):
    _, _, env = services
    result = run("reconcile", "--source", "ctgov", env={**env, "LITWATCH_PROGRESS": "1"})
    assert result.exit_code == 0, result.output
    assert "ctgov ketamine-ptsd missing studies" in result.stderr and "128/128" in result.stderr
    assert run("reconcile", "--source", "ctgov", env=env).stderr == ""  # not a terminal: no bar
