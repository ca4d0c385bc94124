"""The evidence layer on real records: links, designs, retractions, relevance, unreported trials."""

import pytest

from litwatch import evidence
from litwatch.config import DEFAULT_TOPIC, Config, Topic
from litwatch import designs
from litwatch.designs import ArticleFacts, classify_article
from litwatch.sources import all_sources
from litwatch.store import query
from litwatch.sync import follow_links, import_file

from conftest import FIXTURES, SUBSET, copy_store
from conftest import fetch_ctgov, fetch_pubmed, get

DESIGN_EXAMPLES = FIXTURES / "pubmed20n0014_design_examples.xml"


@pytest.fixture(scope="module")
def sample(tmp_path_factory, prebuilt):
    """Real records: the update-file subset, the psychiatric trials, the design examples
    (imported once per test run; the module opens its own copy)."""
    from litwatch.catalog import open_db

    def build(folder):
        db = open_db(folder / "litwatch.db")
        import_file(db, SUBSET)
        import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json")
        import_file(db, DESIGN_EXAMPLES)
        evidence.refresh(db, [DEFAULT_TOPIC])
        db.close()
    return open_db(copy_store(prebuilt("evidence", build), tmp_path_factory.mktemp("evidence")))


def links(db, **where):
    clause = " AND ".join(f"{k} = ?" for k in where)
    return {tuple(r) for r in db.execute(
        f"SELECT pmid, nct_id, source, reference_type FROM paper_trial_links WHERE {clause}", list(where.values()))}


@pytest.mark.slow
def test_ketamine_icbt_protocol_links_to_its_trial_and_is_core(sample):
    assert links(sample, pmid=34092549) == {(34092549, "NCT04771767", "pubmed_databank", None),
                                            (34092549, "NCT04771767", "pubmed_text", None)}
    row = sample.execute("SELECT relevance, first_run_id FROM article_topics WHERE pmid = 34092549 "
                         "AND topic = 'ketamine-ptsd'").fetchone()
    assert row == ("core", None)  # found by its concepts, not by a topic query
    assert get(sample, "articles", 34092549)["design"] == "study protocol"


def test_databank_links_of_the_update_file_subset(sample):
    databank = links(sample, source="pubmed_databank")
    assert len(databank) == 220 and len({pmid for pmid, *_ in databank}) == 170
    assert all(nct.startswith("NCT") and len(nct) == 11 for _, nct, _, _ in databank)


def test_trial_references_carry_pmids_and_their_type(sample):
    assert (25848562, "NCT05305235", "ctgov_reference", "BACKGROUND") in links(sample, nct_id="NCT05305235")
    types = dict(sample.execute("SELECT reference_type, count(*) FROM paper_trial_links "
                                "WHERE source = 'ctgov_reference' GROUP BY 1").fetchall())
    assert types == {"BACKGROUND": 134, "DERIVED": 12, "RESULT": 7}


def test_links_survive_a_side_that_is_not_stored(sample):
    stored = {r[0] for r in sample.execute("SELECT nct_id FROM trials")}
    assert "NCT04771767" not in stored and links(sample, nct_id="NCT04771767")


# Each design class on a real record (PMID, where it comes from) and the rule that decides.
REAL_DESIGNS = [
    (33417236, "meta-analysis", "publication_type"),            # update-file subset
    (33962333, "meta-analysis", "text"),                         # subset, not yet indexed
    (33428222, "systematic review", "publication_type"),        # subset
    (32043980, "randomized controlled trial", "publication_type"),  # subset
    (33154570, "randomized controlled trial", "text"),           # subset: a "per-protocol analysis" is no protocol
    (399315, "non-randomized controlled trial", "publication_type"),  # 2020 baseline
    (399392, "single-arm / open-label trial", "publication_type"),   # baseline ("Clinical Trial")
    (33230210, "single-arm / open-label trial", "text"),          # subset: "phase 1 study"
    (32748789, "observational study", "publication_type"),       # subset
    (399409, "observational study", "mesh"),                      # baseline: check tags
    (399310, "case report / case series", "publication_type"),  # baseline
    (32794145, "narrative review", "publication_type"),          # subset
    (34092549, "study protocol", "text"),                        # subset: "Protocol for a Randomized..."
    (399296, "preclinical (animal or in vitro)", "mesh"),        # baseline: Animals, no Humans
    (33283316, "preclinical (animal or in vitro)", "text"),      # subset: "rodent model"
    (33716116, "commentary / editorial / letter", "publication_type"),  # subset: a letter
    (31692644, "other", "default"),                               # subset: secondary analysis, no design words
]


@pytest.mark.parametrize("pmid,design,source", REAL_DESIGNS)
def test_design_of_real_records(sample, pmid, design, source):
    row = get(sample, "articles", pmid)
    assert (row["design"], row["design_source"]) == (design, source)


def test_every_design_class_has_a_real_example():
    assert {d for _, d, _ in REAL_DESIGNS} == set(designs.DESIGNS)


def test_animal_rct_is_preclinical_synthetic():
    # Synthetic facts: no shared record is an animal study typed as an RCT.
    facts = ArticleFacts("Ketamine in rats", "", {"Randomized Controlled Trial", "Journal Article"},
                         {"Animals", "Rats"})
    assert classify_article(facts) == ("preclinical (animal or in vitro)", "mesh")


def test_retracted_papers_are_flagged_and_kept(sample):
    rows = list(query(sample, "SELECT pmid, retracted FROM articles WHERE retracted = 1 ORDER BY pmid"))
    assert [r["pmid"] for r in rows] == [400712, 423962]
    assert get(sample, "articles", 31692644)["corrected"] == 1  # ErratumIn


def test_trials_get_the_same_design_vocabulary(sample):
    designs = dict(sample.execute("SELECT design, count(*) FROM trials GROUP BY 1").fetchall())
    assert designs == {"randomized controlled trial": 86, "single-arm / open-label trial": 32,
                       "observational study": 7, "non-randomized controlled trial": 3}


def test_relevance_core_needs_both_concepts(db):
    topic = Topic(name="digital-ptsd", queries={"pubmed": "x"},
                  intervention_terms=("smartphone", "app-based", "digital"),
                  condition_terms=("PTSD", "posttraumatic stress"))
    import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json", topic="digital-ptsd")
    evidence.refresh(db, [topic])
    levels = dict(db.execute("SELECT nct_id, relevance FROM trial_topics WHERE topic = 'digital-ptsd'"))
    core = {k for k, level in levels.items() if level == "core"}
    assert "NCT05305235" in core and "NCT03934658" in core  # NightWare: a digital therapeutic for PTSD
    # Imported with the topic, 12 studies mention neither concept: they leave it.
    assert len(levels) == 116 and set(levels.values()) == {"core", "intervention", "condition"}
    # One concept only: a digital therapeutic for another disorder, a PTSD trial of something else.
    assert levels["NCT06004388"] == "intervention" and levels["NCT05365607"] == "condition"


def test_unreported_trials_view(sample):
    rows = {r["nct_id"]: r for r in query(sample, "SELECT * FROM unreported_trials")}
    assert "NCT05305235" not in rows  # results posted
    completed = list(query(sample,
        "SELECT nct_id FROM trials WHERE overall_status = 'COMPLETED' AND has_results = 0 "
        "AND coalesce(primary_completion_date, completion_date) < date('now', '-12 months')"))
    reported = {r[0] for r in sample.execute("SELECT nct_id FROM paper_trial_links WHERE reference_type = 'RESULT'")}
    assert set(rows) == {r["nct_id"] for r in completed} - reported
    assert len(rows) > 10


def test_refresh_is_idempotent_and_incremental(sample):
    before = sample.execute("SELECT count(*) FROM paper_trial_links").fetchone()[0]
    assert [s.classify(sample) for s in all_sources()] == [0, 0, 0]  # nothing changed since the last refresh
    evidence.refresh(sample, [DEFAULT_TOPIC])
    assert sample.execute("SELECT count(*) FROM paper_trial_links").fetchone()[0] == before


@pytest.mark.slow
def test_following_links_fetches_missing_records_in_one_request_per_source(db, real_records, no_sleep):
    import responses
    from ctgov_standin import CtgovStandin, load_studies
    from eutils_standin import EutilsStandin
    eutils = EutilsStandin(real_records)
    studies = load_studies()
    ctgov = CtgovStandin(studies[:100])  # the topic query returns 100 studies...
    config = Config(urls={"pubmed": "https://e.test/eutils", "ctgov": "https://c.test/api/v2"}, topics=(DEFAULT_TOPIC,))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        eutils.add_to(rsps, config.urls["pubmed"])
        ctgov.add_to(rsps, config.urls["ctgov"])
        fetch_pubmed(db, config, DEFAULT_TOPIC)
        fetch_ctgov(db, config, DEFAULT_TOPIC)
        evidence.refresh(db, config.topics)
        ctgov.studies = studies  # ...the rest exist at the source but not in the query's answer
        ctgov.requests.clear()
        eutils.requests.clear()
        results = follow_links(db, config, all_sources())
    by_id = [r for r in ctgov.requests if "filter.ids" in r]
    assert len(by_id) == 1 and len(by_id[0]["filter.ids"].split(",")) > 100
    assert [name for name, _ in eutils.requests] == ["efetch.fcgi"]
    assert {r.source for r in results} == {"ctgov", "pubmed"}
    assert all(r.params["ids"] for r in results)
    assert db.execute("SELECT kind FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0] == "follow"
