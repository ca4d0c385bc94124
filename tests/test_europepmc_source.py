"""Europe PMC as the third source, end to end: fetch and incremental runs against a stand-in
serving real recorded records, saved responses imported by content, one paper per PMID
whichever sources returned it, preprints kept apart, NCT IDs that bring their trials in."""

import gzip
import json
import shutil
from datetime import date

import pytest
import responses

from litwatch import api, evidence
from litwatch.config import Config, Topic
from litwatch.errors import IncompleteFetch
from litwatch.sources import all_sources, get
from litwatch.catalog import open_db
from litwatch.store import query
from litwatch.sync import fetch_topic, follow_links, import_file

from conftest import FIXTURES
from ctgov_standin import CtgovStandin
from europepmc_standin import EuropePmcStandin, load, load_results

BASE = "https://epmc.test/europepmc/webservices/rest"
TOPIC = Topic(name="cancer-watch", queries={"europepmc": "cancer"}, intervention_terms=("immunotherapy",),
              condition_terms=("cancer",))
CONFIG = Config(urls={"europepmc": BASE, "ctgov": "https://ctgov.test/api/v2"}, topics=(TOPIC,))
SOURCE = get("europepmc")


def fetch(db, standin, **kwargs):
    with responses.RequestsMock() as rsps:
        standin.add_to(rsps, BASE)
        return fetch_topic(db, CONFIG, SOURCE, TOPIC, client=SOURCE.client(CONFIG.settings(SOURCE)), **kwargs)


def test_first_fetch_walks_every_page_then_an_incremental_run_asks_only_for_the_window(db, no_sleep):
    standin = EuropePmcStandin(load_results("epmc_search_1000results_cancer.json.gz"), page_size=300)
    first = fetch(db, standin)
    assert (first.counts.expected, first.counts.received, first.counts.new) == (1000, 1000, 1000)
    assert first.params["pages"] == 4 and [r["cursorMark"] for r in standin.requests][0] == "*"
    assert {r["resultType"] for r in standin.requests} == {"core"}
    db.execute("UPDATE runs SET started_at = '2025-06-17T08:00:00Z'")
    standin.requests.clear()
    second = fetch(db, standin)
    assert second.params["mode"] == "incremental" and second.params["since"] == "2025-06-14"
    assert standin.requests[0]["query"] == \
        "(cancer) AND (FIRST_IDATE:[2025-06-14 TO *] OR UPDATE_DATE:[2025-06-14 TO *])"
    window = [r for r in load_results("epmc_search_1000results_cancer.json.gz")
              if r["firstIndexDate"] >= "2025-06-14" or r.get("dateOfRevision", "") >= "2025-06-14"]
    assert second.counts.received == second.counts.unchanged == len(window) > 0


def test_fewer_records_than_the_hit_count_fail_the_run_and_keep_what_arrived(db):
    class Lying(EuropePmcStandin):
        def handle(self, params):
            status, headers, body = super().handle(params)
            page = json.loads(body)
            page["hitCount"] += 5
            return status, headers, json.dumps(page).encode()

    with pytest.raises(IncompleteFetch, match="Europe PMC reported 30 records but served 25 distinct ones"):
        fetch(db, Lying(load_results()))
    assert db.execute("SELECT count(*) FROM europepmc_records").fetchone() == (25,)
    assert db.execute("SELECT status, expected, received FROM runs").fetchone() == ("failed", 30, 25)


@pytest.mark.parametrize("name", ["epmc_fetch_10pages_cancer.json.gz", "epmc_search_pmid_20516115.json"])
def test_saved_responses_are_imported_by_their_content_not_their_name(db, tmp_path, name):
    path = tmp_path / "saved-search.dat"  # no telling extension
    with (gzip.open if name.endswith(".gz") else open)(FIXTURES / name, "rb") as f:
        path.write_bytes(f.read())
    result = import_file(db, path)
    assert result.source == "europepmc"
    assert result.counts.new == (1000 if "10pages" in name else 1)


def test_a_europe_pmc_record_of_a_pubmed_paper_is_that_paper(db):
    """PMID 22663011 as PubMed's efetch and Europe PMC's search returned it (both recorded)."""
    import_file(db, FIXTURES / "pubmed_efetch_22663011.xml", topic="melanoma")
    import_file(db, FIXTURES / "epmc_search_pmid_22663011.json", topic="melanoma")
    papers = query(db, "SELECT paper_id, pmid, source, record_key, sources, preprint FROM papers")
    assert papers == [{"paper_id": "PMID:22663011", "pmid": 22663011, "source": "pubmed", "record_key": "22663011",
                       "sources": "pubmed,europepmc", "preprint": 0}]
    assert query(db, "SELECT paper_id, topic FROM paper_topics") == [{"paper_id": "PMID:22663011", "topic": "melanoma"}]


# A topic the recorded Europe PMC page (query "cancer", titles only) can fill.
CANCER = Topic(name="cancer-treatment", queries={"europepmc": "cancer"}, title="Cancer treatment",
               intervention_terms=("therapy", "treatment", "surgery", "chemotherapy", "immunotherapy", "radiotherapy"),
               condition_terms=("cancer", "tumor", "tumour", "carcinoma", "neoplasm"))


def test_preprints_are_counted_apart_and_marked_not_peer_reviewed(tmp_path):
    db_path = tmp_path / "litwatch.db"
    config = Config(topics=(CANCER,))
    saved = tmp_path / "page.json"
    with gzip.open(FIXTURES / "epmc_search_1000results_cancer.json.gz", "rb") as f:
        saved.write_bytes(f.read())
    imported = api.import_paths(db_path, [saved], config, topic=CANCER.name)
    assert imported["topic"] == {"name": CANCER.name, "core": 166, "related": 758, "left_out": 76}
    data = api.build_report(db_path, config)
    with open_db(db_path, readonly=True) as db:
        (preprints, journal), = db.execute(
            "SELECT sum(p.preprint), sum(NOT p.preprint) FROM papers p JOIN paper_topics t USING (paper_id) "
            "WHERE t.topic = ? AND t.relevance = 'core' AND NOT p.retracted", [CANCER.name])
    assert (data["counts"]["preprints"], data["counts"]["publications"]) == (preprints, journal) == (2, 164)
    preprints = data["newest_preprints"]
    assert preprints and all(p["preprint"] and "[Preprint, not peer reviewed]" in p["citation"] for p in preprints)
    assert {p["server"] for p in preprints} <= {"medRxiv", "bioRxiv", "Research Square", "Preprints.org"}
    text = api.render_report(data, "md")
    assert "preprints (not peer reviewed" in text and "Newest preprints (not peer reviewed)" in text


def test_nct_ids_in_abstracts_link_papers_to_trials_and_bring_the_trials_in(db):
    records = load("epmc_records_links_derived.json")
    with responses.RequestsMock() as rsps:
        EuropePmcStandin(records).add_to(rsps, BASE)
        fetch_topic(db, CONFIG, SOURCE, TOPIC, client=SOURCE.client(CONFIG.settings(SOURCE)))
    evidence.refresh(db, CONFIG.topics)
    links = query(db, "SELECT paper_id, nct_id, source FROM paper_trial_links ORDER BY nct_id")
    assert links == [{"paper_id": "PMID:39212676", "nct_id": nct, "source": "europepmc_text"}
                     for nct in ("NCT04267848", "NCT06341426")]  # "nct 04267848" written loosely counts too
    ctgov = CtgovStandin(json.loads((FIXTURES / "page_single_NCT06341426.json").read_text())["studies"])
    with responses.RequestsMock() as rsps:
        ctgov.add_to(rsps, CONFIG.urls["ctgov"])
        results = follow_links(db, CONFIG, all_sources())
    # Both are asked for in one request; only one exists at the (stand-in) registry.
    assert [(r.source, r.params["ids"], r.counts.new) for r in results] == [
        ("ctgov", ["NCT04267848", "NCT06341426"], 1)]
    assert len([r for r in ctgov.requests if "filter.ids" in r]) == 1


def test_a_topic_that_uses_europe_pmc_only_never_asks_the_registry_it_does_not_use(tmp_path):
    """Its papers name NCT IDs, but ClinicalTrials.gov is neither a source of the topic nor
    configured: following links leaves it alone, and the fetch succeeds (any request to it
    would fail here: the mock knows only Europe PMC)."""
    config = Config(urls={"europepmc": BASE}, topics=(TOPIC,))
    with responses.RequestsMock() as rsps:
        EuropePmcStandin(load("epmc_records_links_derived.json")).add_to(rsps, BASE)
        done = api.fetch(tmp_path / "litwatch.db", config)
    assert done["status"] == "success" and done["errors"] == []
    assert [r["source"] for r in done["runs"]] == ["europepmc"]
    with open_db(tmp_path / "litwatch.db", readonly=True) as db:
        assert db.execute("SELECT count(*) FROM paper_trial_links").fetchone()[0] == 2  # the links are kept


def test_a_preprint_names_its_journal_version(db):
    import_file(db, FIXTURES / "epmc_records_links_derived.json")
    rows = query(db, "SELECT p.paper_id, p.server, l.kind, l.target FROM papers p "
                     "JOIN europepmc_links l ON l.epmc_id = p.record_key AND p.source = 'europepmc' "
                     "WHERE l.kind IN ('preprint', 'published_as') "
                     "ORDER BY 1")
    assert rows == [{"paper_id": "PMID:40468710", "server": None, "kind": "preprint", "target": "PPR:PPR1037166"},
                    {"paper_id": "PPR:PPR1037166", "server": "Research Square", "kind": "published_as",
                     "target": "MED:40468710"}]


def test_config_takes_europe_pmc_queries_and_url(tmp_path):
    from litwatch.config import load_config

    (tmp_path / "c.toml").write_text('[services]\neuropepmc_url = "http://127.0.0.1:9/rest"\n'
                                     '[[topics]]\nname = "x"\nintervention_terms = ["ketamine"]\n'
                                     'condition_terms = ["PTSD"]\n'
                                     '[topics.europepmc]\nquery = "ketamine"\n')
    config = load_config(tmp_path / "c.toml", env={"LITWATCH_EUROPEPMC_URL": "http://proxy.test/rest/"})
    assert config.urls["europepmc"] == "http://proxy.test/rest"
    assert config.topics[0].queries == {"europepmc": "ketamine"}
    assert [s.name for s in all_sources() if s.query(config.topics[0])] == ["europepmc"]  # any subset of sources


def test_since_is_sent_as_a_first_index_or_update_window(db):
    standin = EuropePmcStandin(load_results())
    fetch(db, standin, since=date(2025, 6, 1))
    assert "FIRST_IDATE:[2025-06-01 TO *] OR UPDATE_DATE:[2025-06-01 TO *]" in standin.requests[0]["query"]


def test_dropped_citation_counts_mean_a_record_fetched_again_is_unchanged(db):
    records = load_results()
    fetch(db, EuropePmcStandin(records))
    for r in records:
        r["citedByCount"] = r.get("citedByCount", 0) + 7  # cited more since: not a revision
    again = fetch(db, EuropePmcStandin(records), full=True)
    assert (again.counts.unchanged, again.counts.updated) == (25, 0)


def test_saved_file_with_neither_shape_is_refused_in_one_line(db, tmp_path):
    path = tmp_path / "other.json"
    shutil.copy(FIXTURES / "eutils_rate_limit_error.json", path)
    with pytest.raises(Exception, match="other.json") as e:
        import_file(db, path)
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_preprints_export_as_preprints_for_reference_managers(tmp_path):
    import pybtex.database
    import rispy

    db_path = tmp_path / "litwatch.db"
    saved = tmp_path / "page.json"
    with gzip.open(FIXTURES / "epmc_search_1000results_cancer.json.gz", "rb") as f:
        saved.write_bytes(f.read())
    api.import_paths(db_path, [saved], Config(topics=(CANCER,)), topic=CANCER.name)
    text, n = api.export_citations(db_path, "bibtex", topic=CANCER.name)
    entries = pybtex.database.parse_string(text, "bibtex").entries
    assert n == len(entries) == 924  # the records of the topic: 76 of the 1,000 mention neither concept
    medrxiv = [e for e in entries.values() if e.fields.get("journal") == "medRxiv"]
    assert len(medrxiv) == 2 and all("not peer reviewed" in e.fields["note"] for e in medrxiv)
    assert all(len(e.persons["author"]) > 1 for e in medrxiv)  # "Surname Initials" bylines read as persons
    ris = rispy.loads(api.export_citations(db_path, "ris", topic=CANCER.name)[0])
    servers = {r.get("secondary_title") for r in ris if any("Preprint" in n for n in r.get("notes", []))}
    assert servers == {"medRxiv", "bioRxiv", "Research Square", "Preprints.org"}
