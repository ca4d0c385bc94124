"""Study designs inferred from wording, on real PubMed records, with their indexing withheld."""

import re

import pytest

from litwatch import designs
from litwatch.designs import (META_ANALYSIS, NARRATIVE_REVIEW, PROTOCOL, SYSTEMATIC_REVIEW, ArticleFacts,
                              classify_article, find_cues, indexed_design, infer_design)
from litwatch.sources.pubmed.parse import as_dict, iter_xml

from conftest import FIXTURES

EXAMPLES = FIXTURES / "pubmed_design_wording_examples.xml"
# Real records of the 2021 update file for the second version of the rules (RULES_VERSION 2).
EXAMPLES_V2 = FIXTURES / "pubmed21n1298_design_rules_v2_examples.xml"


def read_examples(path) -> dict[int, dict]:
    """PMID -> title, abstract, publication types and MeSH of each example record."""
    found = {}
    with open(path, "rb") as f:
        for event in iter_xml(f):
            record = as_dict(event.record)
            article = record["articles"]
            found[article["pmid"]] = {
                "title": article["title"] or "", "abstract": article["abstract"] or "",
                "types": {r["name"] for r in record["article_publication_types"]},
                "mesh": {r["descriptor_name"] for r in record["article_mesh"]},
            }
    return found


@pytest.fixture(scope="module")
def records() -> dict[int, dict]:
    return read_examples(EXAMPLES)


@pytest.fixture(scope="module")
def records_v2() -> dict[int, dict]:
    return read_examples(EXAMPLES_V2)


# (PMID, design inferred from title + abstract alone, NLM's indexed design or None if not indexed yet)
EXAMPLES_BY_RULE = [
    # Design papers and protocols: a plan, not a result.
    (33974993, "study protocol", None),        # "Rationale and design of DRINK-T1D: A randomized clinical trial ..."
    (33713840, "study protocol", None),        # "Design of CLARO (...): A randomized trial of collaborative care ..."
    (33957272, "other", None),                 # "A randomized trial ...: Intervention development, baseline ..."
    # Analyses of a trial's data that are not its primary report.
    (34091453, "other", None),                 # "Post hoc Analysis of a Randomized, Controlled, Phase 2 Study ..."
    (32505701, "other", None),                 # "... A Secondary Analysis of a Randomized Clinical Trial"
    (32047925, "other", "randomized controlled trial"),  # "conducted within the context of a randomized ... trial"
    # Pilots and feasibility trials.
    (32985121, "other", None),                 # "... from the NeuroSAFE PROOF feasibility randomized controlled trial"
    (34092158, "single-arm / open-label trial", None),  # "An open-label pilot study of pregabalin ..."
    # Randomization outside a human trial, or allocation that is not random.
    (34095276, "preclinical (animal or in vitro)", None),  # pigs "were randomized" to two anaesthetics
    (34020136, "other", None),                 # "A quasi-experimental study" whose couples "were randomly assigned"
    # Randomized trials recognised from their wording.
    (32338611, "randomized controlled trial", "randomized controlled trial"),  # "the ESPRESSO randomized trial"
    # No design in the title; "In a randomized, controlled trial, we ..."
    (34097368, "randomized controlled trial", None),
    # 1979: "This randomized, double-blind study"
    (401194, "randomized controlled trial", "randomized controlled trial"),
    # Reviews and comments.
    (33417236, "meta-analysis", "meta-analysis"),  # a Cochrane review: its headings and "meta-analysis" in the abstract
    # "Response to Letter to the Editor"
    (33716116, "commentary / editorial / letter", "commentary / editorial / letter"),
]


@pytest.mark.parametrize("pmid,inferred,indexed", EXAMPLES_BY_RULE)
def test_design_inferred_from_wording_of_real_record(records, pmid, inferred, indexed):
    record = records[pmid]
    assert infer_design(record["title"], record["abstract"]) == inferred
    nlm = indexed_design(record["types"], record["mesh"])
    assert (nlm[0] if nlm else None) == indexed


def test_every_example_record_is_used(records):
    assert set(records) == {pmid for pmid, _, _ in EXAMPLES_BY_RULE}


def test_classify_article_prefers_indexing_to_wording(records):
    record = records[32047925]
    indexed = ArticleFacts(record["title"], record["abstract"], record["types"], record["mesh"])
    withheld = ArticleFacts(record["title"], record["abstract"], set(), set())
    assert classify_article(indexed) == ("randomized controlled trial", "publication_type")
    assert classify_article(withheld) == ("other", "default")
    protocol = records[33974993]
    assert classify_article(ArticleFacts(protocol["title"], protocol["abstract"], set(), set())) == (
        "study protocol", "text")


def test_a_long_cue_hides_no_later_cue(records):
    # Each match consumes two letters only, so "feasibility" does not swallow the
    # "randomized controlled trial" that follows it, and both cues reach the rules.
    in_title, _ = find_cues(records[32985121]["title"], "")
    assert {"pilot", "randomized_title"} <= in_title
    _, anywhere = find_cues(records[34020136]["title"], records[34020136]["abstract"])
    assert {"quasi", "randomized"} <= anywhere


def test_cue_patterns_must_start_with_plain_letters():
    with pytest.raises(ValueError):
        designs._combined({"bad": (r"(?:a|b)c",)})


def test_design_vocabulary_is_unchanged():
    assert designs.DESIGNS == (
        "meta-analysis", "systematic review", "randomized controlled trial", "non-randomized controlled trial",
        "single-arm / open-label trial", "observational study", "case report / case series", "narrative review",
        "study protocol", "preclinical (animal or in vitro)", "commentary / editorial / letter", "other")


# (PMID, design inferred from title + abstract alone, the design in the record's publication types or None).
# Records indexed by NLM (Status MEDLINE) are from the benchmark's development half; the others are not
# indexed yet (a publisher's publication type, where there is one, is shown but is not NLM's).
EXAMPLES_V2_BY_RULE = [
    # Randomization words about other studies, or about a trial the paper only analyses afterwards.
    (33935094, "other", None),        # participants "participating in a randomized ... trial (VITACOG)"
    (33606179, "other", None),        # "a prespecified subanalysis of the randomized controlled ICD2 trial"
    (33539980, "other", "narrative review"),  # the fragility index of published RCTs: "RCTs", a survey of trials
    # A trial the authors call for, not one they ran: "requires a prospective and randomized study".
    (33797734, "other", None),
    # Laboratory experiments with random assignment ("across three experiments, we randomly assigned").
    (33016219, "other", None),
    # A design paper: "rationale and design" in the title, "will be assigned" (NLM typed it an RCT).
    (32928717, "study protocol", "randomized controlled trial"),
    # Letters about a meta-analysis are letters, not meta-analyses.
    (34089632, "commentary / editorial / letter", "commentary / editorial / letter"),  # "Letter regarding '...'"
    (33927100, "commentary / editorial / letter", None),  # "Response to: ... A Systematic Review and Meta-Analysis"
    # "3T Siemens Prisma" is a scanner, not the PRISMA reporting guideline.
    (33935073, "other", None),
    # True positives that must stay: randomized trials and reviews in NLM's indexing...
    (32687801, "randomized controlled trial", "randomized controlled trial"),  # "a randomised, unblinded ... trial"
    (33011088, "meta-analysis", "meta-analysis"),
    (33779986, "meta-analysis", "meta-analysis"),   # a Cochrane review: search methods, selection criteria
    (33784794, "meta-analysis", "meta-analysis"),
    # ... and ones the first rules missed: "feasibility", "in vitro" and "enrolled in a ... trial" in passing,
    (33082512, "randomized controlled trial", None),
    (34090451, "randomized controlled trial", None),
    (34093164, "randomized controlled trial", None),
    # and a meta-analysis that says so only in its abstract ("We searched PubMed ... this meta-analysis").
    (33406518, "meta-analysis", "meta-analysis"),
]


@pytest.mark.parametrize("pmid,inferred,indexed", EXAMPLES_V2_BY_RULE)
def test_design_inferred_by_the_second_rules(records_v2, pmid, inferred, indexed):
    record = records_v2[pmid]
    assert infer_design(record["title"], record["abstract"]) == inferred
    nlm = indexed_design(record["types"], record["mesh"])
    assert (nlm[0] if nlm else None) == indexed


def test_every_second_rules_example_is_used(records_v2):
    assert set(records_v2) == {pmid for pmid, _, _ in EXAMPLES_V2_BY_RULE}


def test_no_title_naming_a_protocol_design_or_rationale_is_called_a_trial(records, records_v2):
    titled = [r for r in [*records.values(), *records_v2.values()]
              if re.search(r"\b(?:protocol|design|rationale)\b", r["title"], re.I)]
    assert len(titled) >= 3
    assert all(infer_design(r["title"], r["abstract"]) != "randomized controlled trial" for r in titled)


def test_prisma_counts_as_a_guideline_not_as_a_scanner(records_v2):
    _, scanner = find_cues(records_v2[33935073]["title"], records_v2[33935073]["abstract"])
    assert "review_method" not in scanner
    _, cochrane = find_cues(records_v2[33779986]["title"], records_v2[33779986]["abstract"])
    assert "review_method" in cochrane


def test_a_reviews_heading_counts_only_where_a_line_starts_and_a_trial_designed_to_test_is_a_plan():
    """Two real records of the design gold standard's development half, wrongly called a
    systematic review and a randomized trial by the rules before: a narrative review whose
    sentence lists "seven selection criteria:", and the design paper of the CIRCULATE-Japan
    platform trials ("The VEGA trial is a randomized phase III study designed to test ...")."""
    articles = read_examples(FIXTURES / "pubmed21n1298_design_gold_examples.xml")
    review, platform = articles[33901981], articles[33931919]
    assert "seven selection criteria:" in review["abstract"]
    assert infer_design(review["title"], review["abstract"]) == NARRATIVE_REVIEW
    assert "is a randomized phase III study designed to test" in platform["abstract"]
    assert infer_design(platform["title"], platform["abstract"]) == PROTOCOL
    # a heading that starts its line is a review's
    assert infer_design("Ketamine for depression", "SELECTION CRITERIA: Randomized trials of ketamine.\n"
                        "MAIN RESULTS: We included 12 trials.") in (SYSTEMATIC_REVIEW, META_ANALYSIS)
