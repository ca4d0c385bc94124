"""Study designs inferred from wording, on real PubMed records, with their indexing withheld."""

import pytest

from litwatch import designs
from litwatch.designs import ArticleFacts, classify_article, find_cues, indexed_design, infer_design
from litwatch.sources.pubmed.parse import as_dict, iter_xml

from conftest import FIXTURES

EXAMPLES = FIXTURES / "pubmed_design_wording_examples.xml"


@pytest.fixture(scope="module")
def records() -> dict[int, dict]:
    """PMID -> title, abstract, publication types and MeSH of each example record."""
    found = {}
    with open(EXAMPLES, "rb") as f:
        for event in iter_xml(f):
            record = as_dict(event.record)
            article = record["articles"]
            found[article["pmid"]] = {
                "title": article["title"] or "", "abstract": article["abstract"] or "",
                "types": {r["name"] for r in record["article_publication_types"]},
                "mesh": {r["descriptor_name"] for r in record["article_mesh"]},
            }
    return found


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
