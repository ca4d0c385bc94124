"""Claims answered from what the records say: a sentence of a paper's abstract that names one of
the claim's outcomes, quoted verbatim; a registered trial's outcome measure; never a keyword
in a title, never a background sentence. On real records."""

import re

import pytest

from litwatch import api
from litwatch.config import DEFAULT_TOPIC, Claim, Config, Topic
from litwatch.report.claims import quote, stated_size, terms_pattern
from litwatch.catalog import open_db

from conftest import FIXTURES, SUBSET
from test_report import DTX, STUDIES

# A broad topic that makes real indexed and not-yet-indexed records core (trials, a Cochrane
# meta-analysis, protocols, 1970s studies).
CARE = Topic(name="care", queries={"pubmed": "x"}, title="Interventions for patients",
             intervention_terms=("intervention", "training", "therapy", "supplementation", "treatment", "support"),
             condition_terms=("patients", "children", "infants", "caregivers", "women", "adults", "people"),
             claims=(Claim("Better quality of life", ("quality of life",)),
                     Claim("Fewer deaths", ("mortality", "death*", "survival"))))
# Mental health after pandemics: the recorded 2021 records on COVID-19 and PTSD.
PANDEMIC = Topic(name="pandemic-ptsd", queries={"pubmed": "x"}, title="PTSD after pandemics",
                 intervention_terms=("pandemic", "COVID-19"),
                 condition_terms=("PTSD", "post-traumatic stress", "posttraumatic stress"),
                 claims=(Claim("PTSD symptoms measured", ("PCL-5",)),
                         Claim("A title word", ("implications",))))


def built(tmp_path, topic, files):
    config = Config(topics=(topic,))
    path = tmp_path / "litwatch.db"
    api.import_paths(path, files, config, topic=topic.name)
    data = api.build_report(path, config)
    return path, {c["claim"]: c for c in data["claims"]}


def abstracts(path):
    with open_db(path, readonly=True) as db:
        return dict(db.execute("SELECT pmid, abstract FROM articles"))


def listed(claim):
    return [p for key in ("evidence", "under_study", "other_papers") for p in claim[key]]


@pytest.fixture(scope="module")
def care(tmp_path_factory):
    return built(tmp_path_factory.mktemp("care"), CARE, [FIXTURES / "pubmed_design_wording_examples.xml",
                                                         FIXTURES / "pubmed20n0014_design_examples.xml"])


@pytest.fixture(scope="module")
def pandemic(tmp_path_factory):
    return built(tmp_path_factory.mktemp("pandemic"), PANDEMIC, [SUBSET])


def test_a_claim_is_answered_by_a_sentence_of_the_abstract_quoted_verbatim(care):
    path, claims = care
    (review,) = claims["Better quality of life"]["evidence"]
    assert review["pmid"] == 33417236 and review["design"] == "meta-analysis" and review["year"] == 2021
    assert review["quote"] == {"text": "They seem to make little or no difference to health-related quality of life.",
                               "section": "AUTHORS' CONCLUSIONS", "term": "quality of life"}
    assert review["size"] == "2367 participants"
    assert claims["Better quality of life"]["statement"] == (
        "In the PubMed files imported (not a live search), the abstract of 1 published study of interventions for "
        "patients names these outcomes: 1 meta-analysis (newest 2021). Its sentence is quoted below: naming an "
        "outcome is not finding for the claim.")
    stored = abstracts(path)
    for claim in claims.values():
        for paper in listed(claim):
            for part in paper["quote"]["text"].split("…"):
                assert part.strip() in stored[paper["pmid"]], paper["pmid"]


def test_results_and_conclusions_are_preferred_and_background_is_never_evidence(care):
    path, claims = care
    stored = abstracts(path)
    # 33417236 names quality of life in its objectives, selection criteria, results and conclusions
    sections = re.findall(r"^([A-Z' ]+):.*quality of life", stored[33417236], re.MULTILINE)
    assert sections[0] == "OBJECTIVES" and claims["Better quality of life"]["evidence"][0]["quote"]["section"] == (
        "AUTHORS' CONCLUSIONS")
    # 32505701 names it only in its OBJECTIVE: counted as a mention, never listed
    assert "quality of life" in stored[32505701].split("\n")[0]
    assert 32505701 not in {p["pmid"] for p in listed(claims["Better quality of life"])}
    assert claims["Better quality of life"]["background_only"] == 1


def test_a_word_in_a_title_alone_is_never_evidence(pandemic):
    path, claims = pandemic
    with open_db(path, readonly=True) as db:
        title, abstract = db.execute("SELECT title, abstract FROM articles WHERE pmid = 34095049").fetchone()
    assert title.startswith("Rapid Evidence Assessment of Mental Health Outcomes of Pandemics for Health Care "
                            "Workers: Implications") and "implication" not in abstract.lower()
    title_word = claims["A title word"]
    assert 34095049 not in {p["pmid"] for p in listed(title_word)}
    # another paper names implications in its abstract: that sentence is what is quoted
    (other,) = listed(title_word)
    assert other["pmid"] == 32738287 and "implication" in other["quote"]["text"].lower()


def test_observational_studies_are_quoted_from_their_results(pandemic):
    _, claims = pandemic
    quotes = {p["pmid"]: (p["design"], p["quote"]["section"], p["size"])
              for p in listed(claims["PTSD symptoms measured"])}
    assert quotes[33782888] == ("observational study", "KEY RESULTS", "115 recruited survivors")
    assert quotes[34091347][1] == "RESULTS"


def test_outcome_terms_are_whole_words_and_acronyms_keep_their_case():
    pattern = terms_pattern(["CAPS", "suicidal ideation", "dissociat*"])
    assert pattern.search("mean CAPS-5 total score") and not pattern.search("capsule") and not pattern.search(
        "compound action potentials (CAPs)")
    assert pattern.search("Suicidal ideation fell") and pattern.search("dissociative symptoms")
    assert terms_pattern(["  ", ""]) is None


def test_a_long_sentence_is_cut_around_the_outcome_it_names():
    sentence = ("Participants " + "were assessed repeatedly with several instruments " * 8
                + "and the PCL-5 fell by 12 points, " + "which remained stable over many weeks " * 6 + "of follow-up.")
    found, named = quote(f"RESULTS: {sentence}", terms_pattern(["PCL-5"]))
    assert named and found["text"].startswith("…") and found["text"].endswith("…") and "PCL-5 fell" in found["text"]
    assert len(found["text"]) <= 322 and found["text"].strip("…") in sentence


def test_the_size_a_paper_states_is_given_as_it_states_it():
    assert stated_size("BACKGROUND: 900 patients die yearly.\nMETHODS: Veterans (N = 641) took part.") == "N = 641"
    assert stated_size("We included 12 randomized trials (1,234 patients) in the review.") == "1,234 patients"
    assert stated_size("Of 340 records screened, 12 studies met the inclusion criteria.") == "12 studies"
    assert stated_size("RESULTS: It worked well in most cases.") is None


def test_registered_trials_are_listed_by_the_outcome_measures_they_registered(tmp_path):
    topic = Topic(name=DTX.name, queries=DTX.queries, intervention_terms=DTX.intervention_terms,
                  condition_terms=DTX.condition_terms, claims=(Claim("PTSD symptoms", ("PCL-5", "PTSD Checklist")),))
    _, claims = built(tmp_path, topic, [STUDIES])
    trials = {t["nct_id"]: t for t in claims["PTSD symptoms"]["registered_trials"]}
    assert trials["NCT06868446"]["measures"] == [{
        "kind": "primary", "measure": "PTSD Checklist for DSM-V (PCL-5)", "quote": None,
        "time_frame": "Baseline, week 1, week 2, week 3, and week 7"}]
    assert trials["NCT06868446"]["status"] == "Not yet recruiting"
    # NCT05365607 measures the PCL-5 too, but as an "other" outcome: not what it is registered to test
    assert "NCT05365607" not in trials
    assert list(trials)[0] in ("NCT06868446", "NCT05989841")  # trials in progress first


def test_a_claim_about_a_combination_keeps_the_records_that_name_it(tmp_path):
    config = Config(topics=(DEFAULT_TOPIC,))
    path = tmp_path / "litwatch.db"
    api.import_paths(path, [SUBSET], config, topic=DEFAULT_TOPIC.name)
    claims = {c["claim"]: c for c in api.build_report(path, config)["claims"]}
    combined = claims["Greater effect when combined with psychotherapy"]
    assert [p["pmid"] for p in combined["under_study"]] == [34092549]  # ketamine with e-CBT: a protocol
    assert combined["evidence"] == []
    assert all(c["evidence"] == [] for c in claims.values())  # the recorded data hold no ketamine-for-PTSD study
