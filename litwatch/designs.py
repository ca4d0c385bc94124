"""Study designs: one vocabulary for papers and registered trials, and the rules that
assign it.

A paper's design comes from its indexing when it has any (publication types, then MeSH
check tags), and is otherwise inferred from the wording of its title and abstract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

META_ANALYSIS = "meta-analysis"
SYSTEMATIC_REVIEW = "systematic review"
RCT = "randomized controlled trial"
NON_RANDOMIZED = "non-randomized controlled trial"
SINGLE_ARM = "single-arm / open-label trial"
OBSERVATIONAL = "observational study"
CASE_REPORT = "case report / case series"
NARRATIVE_REVIEW = "narrative review"
PROTOCOL = "study protocol"
PRECLINICAL = "preclinical (animal or in vitro)"
COMMENTARY = "commentary / editorial / letter"
OTHER = "other"
DESIGNS = (META_ANALYSIS, SYSTEMATIC_REVIEW, RCT, NON_RANDOMIZED, SINGLE_ARM, OBSERVATIONAL,
           CASE_REPORT, NARRATIVE_REVIEW, PROTOCOL, PRECLINICAL, COMMENTARY, OTHER)

# Publication types, strongest evidence first: the first that a record carries decides.
PUBLICATION_TYPE_DESIGNS = [
    ("Meta-Analysis", META_ANALYSIS),
    ("Systematic Review", SYSTEMATIC_REVIEW),
    ("Scoping Review", SYSTEMATIC_REVIEW),
    ("Clinical Trial Protocol", PROTOCOL),
    ("Randomized Controlled Trial, Veterinary", PRECLINICAL),
    ("Randomized Controlled Trial", RCT),
    ("Equivalence Trial", RCT),
    ("Pragmatic Clinical Trial", RCT),
    ("Controlled Clinical Trial", NON_RANDOMIZED),
    ("Clinical Trial, Phase I", SINGLE_ARM),
    ("Clinical Trial, Phase II", SINGLE_ARM),
    ("Clinical Trial, Phase III", SINGLE_ARM),
    ("Clinical Trial, Phase IV", SINGLE_ARM),
    ("Clinical Trial", SINGLE_ARM),
    ("Observational Study", OBSERVATIONAL),
    ("Case Reports", CASE_REPORT),
    ("Review", NARRATIVE_REVIEW),
    ("Editorial", COMMENTARY),
    ("Comment", COMMENTARY),
    ("Letter", COMMENTARY),
    ("News", COMMENTARY),
    ("Interview", COMMENTARY),
]
# MeSH check tags (MEDLINE-indexed records) that name an observational design.
OBSERVATIONAL_MESH = {"Cohort Studies", "Case-Control Studies", "Cross-Sectional Studies",
                      "Retrospective Studies", "Prospective Studies", "Longitudinal Studies",
                      "Follow-Up Studies"}
# Title/abstract wording, for records not yet indexed (most new ones carry only "Journal
# Article"). Order matters: a protocol's title names the trial it plans.
TEXT_DESIGNS = [
    (PROTOCOL, re.compile(r"\b(study|trial|review) protocol\b|(^|: )(a |the )?protocol\b"
                          r"|\bprotocol (for|of) (a|an|the)\b", re.I), "title"),
    (META_ANALYSIS, re.compile(r"\bmeta-?analys[ie]s\b", re.I), "title"),
    (SYSTEMATIC_REVIEW, re.compile(r"\b(systematic|scoping|umbrella) review\b", re.I), "title"),
    (PRECLINICAL, re.compile(r"\b(rats?|mice|mouse|murine|rodents?|in vitro|zebrafish|primates?)\b", re.I), "title"),
    (RCT, re.compile(r"\brandomi[sz]ed\b.{0,60}\b(trial|study)\b|\brandomly (assigned|allocated)\b", re.I), "text"),
    (NON_RANDOMIZED, re.compile(r"\bnon-?randomi[sz]ed\b.{0,40}\b(trial|study)\b", re.I), "text"),
    (SINGLE_ARM, re.compile(r"\b(open-label|single-arm|single arm|phase (i|ii|1|2)[ab]?) (trial|study)\b", re.I), "text"),
    (CASE_REPORT, re.compile(r"\b(case report|case series|a case of)\b", re.I), "title"),
    (OBSERVATIONAL, re.compile(r"\b(cohort|cross-sectional|case-control|retrospective|observational|registry)\b", re.I), "text"),
    (NARRATIVE_REVIEW, re.compile(r"\b(review|overview)\b", re.I), "title"),
    (COMMENTARY, re.compile(r"\b(commentary|editorial|letter to the editor)\b", re.I), "title"),
]


@dataclass
class ArticleFacts:
    """What the design rules look at."""

    title: str
    abstract: str
    publication_types: set[str]
    mesh: set[str]


def classify_article(facts: ArticleFacts) -> tuple[str, str]:
    """Study design of a paper and the rule that decided: publication_type, mesh, text or default."""
    animals_only = "Animals" in facts.mesh and "Humans" not in facts.mesh
    for publication_type, design in PUBLICATION_TYPE_DESIGNS:
        if publication_type in facts.publication_types:
            if animals_only and design in (RCT, NON_RANDOMIZED, SINGLE_ARM, OBSERVATIONAL, CASE_REPORT):
                return PRECLINICAL, "mesh"
            return design, "publication_type"
    if animals_only:
        return PRECLINICAL, "mesh"
    if facts.mesh & OBSERVATIONAL_MESH:
        return OBSERVATIONAL, "mesh"
    for design, pattern, where in TEXT_DESIGNS:
        text = facts.title if where == "title" else f"{facts.title}\n{facts.abstract}"
        if pattern.search(text):
            return design, "text"
    return OTHER, "default"


def classify_trial(study_type: str | None, allocation: str | None) -> str:
    """The same vocabulary for a registered trial, from its design module."""
    if study_type == "OBSERVATIONAL":
        return OBSERVATIONAL
    if study_type != "INTERVENTIONAL":
        return OTHER
    if allocation == "RANDOMIZED":
        return RCT
    if allocation == "NON_RANDOMIZED":
        return NON_RANDOMIZED
    return SINGLE_ARM
