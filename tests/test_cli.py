"""The command line, end to end, as a new user runs it."""

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from litwatch import __version__
from litwatch.cli import cli

from conftest import FIXTURES, SUBSET
from eutils_standin import EutilsStandin


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("NCBI_API_KEY", "NCBI_EMAIL", "LITWATCH_EUTILS_URL", "LITWATCH_CTGOV_URL", "LITWATCH_DB"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args, env=None):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return invoke


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"litwatch, version {__version__}"


@pytest.mark.slow
def test_fetch_against_a_local_eutils_server_then_incremental(run, real_records, tmp_path):
    standin = EutilsStandin(real_records, max_per_second=3)  # NCBI's keyless limit, enforced
    with standin.serve() as base_url:
        env = {"LITWATCH_EUTILS_URL": base_url, "NCBI_EMAIL": "dev@example.org"}
        first = run("fetch", "--source", "pubmed", env=env)
        assert first.exit_code == 0, first.output
        assert "pubmed ketamine-ptsd: 304 of 304 records fetched (304 new" in first.output
        second = run("fetch", "--source", "pubmed", env=env)
        assert second.exit_code == 0, second.output
    assert standin.rate_limited == 0
    since = (date.today() - timedelta(days=3)).strftime("%Y/%m/%d")
    later = [p for name, p in standin.requests[2:] if name == "esearch.fcgi"]
    assert [(p["datetype"], p["mindate"]) for p in later] == [("edat", since), ("mdat", since)]
    assert "[incremental, run 2]" in second.output
    runs = run("runs", "--json")
    rows = json.loads(runs.output)
    assert [(r["id"], r["status"], r["received"]) for r in rows] == [(2, "success", 0), (1, "success", 304)]
    table = run("runs").output
    assert "success" in table and "ketamine-ptsd" in table


def test_unreachable_service_is_one_line_and_non_zero(run, no_sleep):
    result = run("fetch", "--source", "pubmed", env={"LITWATCH_EUTILS_URL": "http://127.0.0.1:9/entrez/eutils",
                                                     "NCBI_EMAIL": "dev@example.org"})
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[0] == (
        "Error: pubmed ketamine-ptsd: http://127.0.0.1:9/entrez/eutils/esearch.fcgi failed after 2 attempts "
        "(last: could not connect)")
    assert "Traceback" not in result.output
    rows = json.loads(run("runs", "--json").output)
    assert rows[0]["status"] == "failed" and "could not connect" in rows[0]["error"]


@pytest.mark.parametrize("text,message", [
    ("[[topics]]\nname = 'x'\n", "config key 'topics[0]' has no query: give at least one of [topics.pubmed]"),
    ("[[topics]]\nname = 'x'\n[topics.pubmed]\nquerry = 'y'\n",
     "config key 'topics[0].pubmed.querry' is not recognised"),
    ("[ncbi]\napi_kee = 'k'\n", "config key 'ncbi.api_kee' is not recognised"),
    ("[sources.pubmed]\nmail = 'k'\n", "config key 'sources.pubmed.mail' is not recognised"),
    ("[sources.openalex]\nemail = 'k'\n", "config key 'sources.openalex' is not recognised"),
    ("[services]\neutils_url = 'ftp://x'\n", "config key 'services.eutils_url' must be an http(s) URL"),
    ("[ncbi\n", "not valid TOML"),
    ("[services]\neutils_url = 'http://'\n", "config key 'services.eutils_url' must name a host, got 'http://'"),
    ("[services]\nctgov_url = 'http://[::1'\n",
     "config key 'services.ctgov_url' is not a valid URL (Invalid IPv6 URL)"),
    ("[services]\nctgov_url = 'http://h:99999/'\n", "is not a valid URL (Port out of range 0-65535)"),
    ("[services]\nctgov_url = 'http://u:pass word@/'\n", "config key 'services.ctgov_url' must name a host, got 'http://***@/'"),
    ("[[topics]]\nname = 'x'\nintervention_terms = []\ncondition_terms = ['PTSD']\n[topics.pubmed]\nquery = 'y'\n",
     "config key 'topics[0].intervention_terms' is missing or empty: a record is on a topic when it names a term of "
     "each of its two concepts"),
    ("[[topics]]\nname = 'x'\nintervention_terms = ['ketamine']\ncondition_terms = [' ']\n[topics.pubmed]\n"
     "query = 'y'\n", "config key 'topics[0].condition_terms' is missing or empty"),
    ("[[topics]]\nname = 'x'\nintervention_terms = ['k']\ncondition_terms = ['p']\n[topics.pubmed]\nquery = 'y'\n"
     "[[topics.claims]]\nname = 'Works'\nterms = []\n", "config key 'topics[0].claims[0]' needs a name and at least "
     "one term (an outcome"),
    ("[report]\nchanges_since = 'lately'\n", "config key 'report.changes_since' must be last-update, last-report or "
     "a period such as \"7 days\""),
])
def test_bad_config_names_the_key(run, tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    result = run("--config", "bad.toml", "fetch")
    assert result.exit_code == 2 and message in result.output  # 2: bad usage or configuration
    assert len(result.output.strip().splitlines()) == 1


def test_init_writes_a_config_the_loader_accepts(run):
    assert run("init").exit_code == 0
    again = run("init")
    assert again.exit_code == 2 and "litwatch.toml exists; use --force" in again.output  # no silent overwrite
    from litwatch.config import DEFAULT_TOPIC, load_config
    config = load_config("litwatch.toml", env={})
    assert config.topics == (DEFAULT_TOPIC,)


def test_each_source_reads_its_own_table_and_the_old_one(tmp_path, caplog):
    """PubMed's NCBI identity lives under [sources.pubmed] (as PubMed declares it); a file that
    still has litwatch 0.x's [ncbi] table is read, with a warning, and the new place wins; the
    environment wins over both; a source is told only its own settings."""
    from litwatch.config import load_config
    from litwatch.sources import get

    pubmed = get("pubmed")
    (tmp_path / "old.toml").write_text("[ncbi]\nemail = 'old@example.org'\napi_key = 'k1'\n")
    old = load_config(tmp_path / "old.toml", env={}).settings(pubmed)
    assert (old.get("email"), old.get("api_key"), old.get("tool")) == ("old@example.org", "k1", "litwatch")
    assert "config key 'ncbi.email' is read as [sources.pubmed] email" in caplog.text
    (tmp_path / "both.toml").write_text("[ncbi]\nemail = 'old@example.org'\n"
                                        "[sources.pubmed]\nemail = 'new@example.org'\ntool = 'mytool'\n")
    both = load_config(tmp_path / "both.toml", env={})
    assert both.settings(pubmed).get("email") == "new@example.org" and both.settings(pubmed).get("tool") == "mytool"
    env = load_config(tmp_path / "both.toml", env={"NCBI_EMAIL": "env@example.org"})
    assert env.settings(pubmed).get("email") == "env@example.org"
    assert env.settings(get("ctgov")).values == {}


def test_import_command_and_bad_file(run):
    ok = run("import", str(SUBSET), str(FIXTURES / "pubmed_export_blachlylab.nbib"))
    assert ok.exit_code == 0
    assert "304 records (304 new" in ok.output and "2 records (2 new" in ok.output
    bad = run("import", str(FIXTURES / "efetch_not_xml.html"))
    assert bad.exit_code == 1 and bad.output.startswith("Error: ") and "not a PubmedArticleSet" in bad.output


def test_db_option_and_env(run, tmp_path):
    run("--db", "elsewhere.db", "import", str(FIXTURES / "pubmed-29768149.xml"))
    assert (tmp_path / "elsewhere.db").exists()
    run("import", str(FIXTURES / "pubmed-29768149.xml"), env={"LITWATCH_DB": str(tmp_path / "env.db")})
    assert (tmp_path / "env.db").exists() and not (tmp_path / "data").exists()


@pytest.mark.slow
def test_fetch_every_source_against_local_servers(run, real_records, tmp_path):
    from ctgov_standin import CtgovStandin, load_studies
    from europepmc_standin import EuropePmcStandin, load_results
    eutils, ctgov = EutilsStandin(real_records, max_per_second=3), CtgovStandin(load_studies(), page_size=60)
    europepmc = EuropePmcStandin(load_results("epmc_search_1000results_cancer.json.gz"), page_size=400)
    with eutils.serve() as eutils_url, ctgov.serve() as ctgov_url, europepmc.serve() as europepmc_url:
        env = {"LITWATCH_EUTILS_URL": eutils_url, "LITWATCH_CTGOV_URL": ctgov_url,
               "LITWATCH_EUROPEPMC_URL": europepmc_url}
        first = run("fetch", env=env)
        assert first.exit_code == 0, first.output
        assert "ctgov ketamine-ptsd: 128 of 128 studies fetched (128 new" in first.output
        assert "pubmed ketamine-ptsd: 304 of 304 records fetched" in first.output
        assert "europepmc ketamine-ptsd: 1000 of 1000 records fetched (1000 new" in first.output
        cursors = [r["cursorMark"] for r in europepmc.requests]
        assert len(cursors) == 3 and cursors[0] == "*" and len(set(cursors)) == 3  # 1,000 records, 400 a page
        status = ctgov.study("NCT05305235")["protocolSection"]["statusModule"]
        status["overallStatus"], status["lastUpdatePostDateStruct"]["date"] = "TERMINATED", date.today().isoformat()
        second = run("fetch", "--source", "ctgov", env=env)
    assert "ctgov ketamine-ptsd: 1 of 1 studies fetched (0 new, 1 updated" in second.output
    searches = [r for r in ctgov.requests if "filter.ids" not in r and "fields" not in r]
    assert [len(searches), searches[-1]["filter.advanced"]] == [
        4, f"AREA[LastUpdatePostDate]RANGE[{(date.today() - timedelta(days=3)).isoformat()},MAX]"]
    # The first walk took three pages, so the search's IDs were listed to prove it complete.
    assert len([r for r in ctgov.requests if r.get("fields") == "NCTId"]) == 3
    follows = [r for r in ctgov.requests if "filter.ids" in r]
    # One batched request; the linked trials it did not bring are not asked for again the next run.
    assert len(follows) == 1 and "NCT04771767" in follows[0]["filter.ids"]
    assert "linked studies" not in second.output
    import sqlite3
    changes = sqlite3.connect(tmp_path / "data" / "litwatch.db").execute(
        "SELECT nct_id, field, old_value, new_value FROM trial_changes WHERE field != 'new'").fetchall()
    assert changes == [("NCT05305235", "overall_status", "COMPLETED", "TERMINATED")]
