"""The report's figures, from the topic's records (:mod:`.records`): which records are core
to the topic, the counts and tallies, the newest and latest lists, the design basis, the
completed, unreported and stopped trials, the expected completions, related research, what
the runs of "what changed" brought, what each source holds, and what the core records say of
each claim's outcomes. Pure functions: no SQL, and no sentence (:mod:`.prose` words them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable, TypedDict, cast

from ..config import Claim, Topic
from ..designs import DESIGNS, META_ANALYSIS, PROTOCOL, RCT, SYSTEMATIC_REVIEW
from ..labels import COMPLETED, IN_PROGRESS, RECRUITING, STOPPED
from ..sources import all_sources
from . import claims as quotes
from .claims import Measure, Quote
from .records import ChangeRow, Outcome, Paper, RunBasis, Trial

LATEST = 10  # items in "latest" lists
RELATED_SHOWN = 5  # items of each related group listed (all are counted)
# Designs that carry evidence, strongest first.
EVIDENCE_DESIGNS = (META_ANALYSIS, SYSTEMATIC_REVIEW, RCT, "non-randomized controlled trial",
                    "single-arm / open-label trial", "observational study", "case report / case series")


@dataclass
class Core:
    """The records core to the topic (both its concepts appear), as the headline sections count them."""

    papers: list[Paper]  # retracted ones too
    journal: list[Paper]  # journal articles, not retracted
    preprints: list[Paper]  # not retracted
    trials: list[Trial]
    in_progress: list[Trial]  # the trials under way, by primary completion date


class Counts(TypedDict):
    """The headline counts (of core records, but the related ones)."""

    trials: int
    trials_recruiting: int
    trials_in_progress: int
    publications: int
    preprints: int
    randomized_trials: int
    meta_analyses: int  # and systematic reviews
    retracted: int
    related_papers: int
    related_trials: int


class Completed(TypedDict):
    """The trials that ended: with results posted, unreported a year on, stopped early."""

    with_results: list[Trial]
    unreported: list[Trial]
    stopped: list[Trial]
    completed_total: int


class PublishedEvidence(TypedDict):
    """The latest published papers of the strongest designs, and the retracted papers."""

    latest_randomized_trials: list[Paper]
    latest_meta_analyses: list[Paper]
    retracted: list[Paper]


class RelatedGroup(TypedDict):
    """The records sharing one of the topic's concepts only: counted in full, the newest listed."""

    label: str
    papers: int
    trials: int
    preprints: int
    newest_papers: list[Paper]
    newest_trials: list[Trial]


class QuotedPaper(Paper):
    """A paper whose abstract names a claim's outcomes: the sentence quoted."""

    quote: Quote
    size: str | None  # how many people (or studies) it says it included, as it says it


class RegisteredTrial(Trial):
    """A registered trial whose outcome measures name a claim's outcomes."""

    measures: list[Measure]


class ClaimFigures(TypedDict):
    """What the topic's core records say of one claim's outcomes."""

    claim: str
    terms: list[str]
    only_with: list[str]
    evidence_by_design: dict[str, int]
    evidence: list[QuotedPaper]  # published studies of a design that carries evidence, strongest first
    under_study: list[QuotedPaper]  # protocols and preprints
    other_papers: list[QuotedPaper]
    background_only: int  # papers naming the outcomes only in their background
    registered_trials: list[RegisteredTrial]  # in progress first


class TopicChange(ChangeRow):
    """A change of one of the topic's trials, with the trial it is of."""

    relevance: str
    title: str | None
    url: str | None


class News(TypedDict):
    """What the runs of "what changed" brought to the topic's readers."""

    new_publications: list[Paper]
    new_related_publications: int
    imported_publications: int  # core papers only files or the sample brought
    new_trials: list[Trial]
    new_related_trials: int
    imported_trials: int  # core trials only files or the sample brought
    trial_changes: list[TopicChange]  # of core trials
    trials_changed: int
    changed_trials: list[Trial]
    related_trial_changes: int
    related_trials_changed: int


class SourceStatus(TypedDict):
    """A source of the topic: its query, freshness, and how many of the report's records it holds."""

    source: str
    query: str | None
    last_fetch: str | None
    last_attempt: str | None
    last_attempt_at: str | None
    last_import: str | None
    records_core: int
    records_related: int
    service: str


def core(papers: list[Paper], trials: list[Trial]) -> Core:
    """The core records, sorted out: papers (journal articles, preprints), trials, trials under way."""
    core_papers = [p for p in papers if p["relevance"] == "core"]
    core_trials = [t for t in trials if t["relevance"] == "core"]
    return Core(papers=core_papers,
                journal=[p for p in core_papers if not p["retracted"] and not p["preprint"]],
                preprints=[p for p in core_papers if not p["retracted"] and p["preprint"]],
                trials=core_trials,
                in_progress=sorted((t for t in core_trials if t["overall_status"] in IN_PROGRESS),
                                   key=lambda t: (t["primary_completion_date"] or "9999", t["nct_id"])))


def counts(core: Core, papers: list[Paper], trials: list[Trial]) -> Counts:
    """The headline counts; ``papers`` and ``trials`` are all the topic's, related ones too."""
    return {
        "trials": len(core.trials),
        "trials_recruiting": sum(t["overall_status"] in RECRUITING for t in core.trials),
        "trials_in_progress": len(core.in_progress),
        "publications": len(core.journal),
        "preprints": len(core.preprints),
        "randomized_trials": sum(p["design"] == RCT for p in core.journal),
        "meta_analyses": sum(p["design"] in (META_ANALYSIS, SYSTEMATIC_REVIEW) for p in core.journal),
        "retracted": sum(p["retracted"] for p in core.papers),
        "related_papers": sum(p["relevance"] != "core" for p in papers),
        "related_trials": sum(t["relevance"] != "core" for t in trials),
    }


# ---------------------------------------------------------------- tallies -----

def tally(values: Iterable[str]) -> dict[str, int]:
    """How many times each value occurs, by value."""
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


def by_status(trials: list[Trial]) -> dict[str, int]:
    return tally(t["status"] for t in trials)


def by_phase(trials: list[Trial]) -> dict[str, int]:
    return tally(t["phase"] for t in trials)


def by_year(papers: list[Paper]) -> dict[str, int]:
    return tally(str(p["year"]) if p["year"] else "unknown" for p in papers)


def by_design(papers: list[Paper]) -> dict[str, int]:
    """Papers by design, in the designs' order, the designs with none left out."""
    return {d: n for d in DESIGNS if (n := sum(p["design"] == d for p in papers))}


def design_basis(papers: list[Paper]) -> dict[str, dict[str, int]]:
    """For each design the papers have: how many were indexed so by NLM, inferred from their
    wording, or neither."""
    return {d: {b: sum(p["design"] == d and p["design_basis"] == b for p in papers)
                for b in ("indexed", "inferred", "none")}
            for d in DESIGNS if any(p["design"] == d for p in papers)}


def by_year_and_design(papers: list[Paper]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for p in papers:
        row = table.setdefault(str(p["year"] or "unknown"), {})
        row[p["design"]] = row.get(p["design"], 0) + 1
    return {year: dict(sorted(row.items())) for year, row in sorted(table.items())}


def expected_completions(in_progress: list[Trial]) -> dict[str, int]:
    """The trials under way by the year of their primary completion."""
    return tally((t["primary_completion_date"] or "")[:4] or "not given" for t in in_progress)


# ------------------------------------------------------------------ lists -----

def newest(papers: list[Paper], n: int) -> list[Paper]:
    """The ``n`` papers added last."""
    return sorted(papers, key=lambda p: (p["entrez_date"] or "", p["paper_id"]), reverse=True)[:n]


def newest_trials(trials: Iterable[Trial], n: int | None = None) -> list[Trial]:
    """The ``n`` trials (all by default) first posted last."""
    return sorted(trials, key=lambda t: (t["first_posted"] or "", t["nct_id"]), reverse=True)[:n]


def latest(papers: list[Paper], designs: set[str]) -> list[Paper]:
    """The latest papers of these designs, by year."""
    chosen = [p for p in papers if p["design"] in designs]
    return sorted(chosen, key=lambda p: (p["year"] or 0, p["entrez_date"] or "", p["paper_id"]), reverse=True)[:LATEST]


def published_evidence(core: Core) -> PublishedEvidence:
    return {
        "latest_randomized_trials": latest(core.journal, {RCT}),
        "latest_meta_analyses": latest(core.journal, {META_ANALYSIS, SYSTEMATIC_REVIEW}),
        "retracted": [p for p in core.papers if p["retracted"]],
    }


def completed(trials: list[Trial], today: date) -> Completed:
    """Completed trials with results posted, and those with neither results nor a paper a year
    after they ended; the trials stopped early."""
    year_ago = (today - timedelta(days=365)).isoformat()
    done = [t for t in trials if t["overall_status"] == COMPLETED]
    return {
        "with_results": [t for t in done if t["has_results"]],
        "unreported": [t for t in done if not t["has_results"] and not t["reported_by_paper"]
                       and (t["primary_completion_date"] or t["completion_date"] or "9999") < year_ago],
        "stopped": [t for t in trials if t["overall_status"] in STOPPED],
        "completed_total": len(done),
    }


def related(labels: dict[str, str], papers: list[Paper], trials: list[Trial]) -> dict[str, RelatedGroup]:
    """Records that share one of the topic's concepts only, by that concept (``labels``: the
    concepts and their headings): counted in full, the newest few listed."""
    out: dict[str, RelatedGroup] = {}
    for concept, label in labels.items():
        group_papers = [p for p in papers if p["relevance"] == concept and not p["retracted"]]
        group_trials = [t for t in trials if t["relevance"] == concept]
        out[concept] = {
            "label": label, "papers": len(group_papers), "trials": len(group_trials),
            "preprints": sum(p["preprint"] for p in group_papers),
            "newest_papers": newest(group_papers, RELATED_SHOWN),
            "newest_trials": newest_trials(group_trials, RELATED_SHOWN),
        }
    return out


def sources(topic: Topic, basis: RunBasis, papers: list[Paper], trials: list[Trial]) -> list[SourceStatus]:
    """Per source of the topic: its query, freshness and last import (from ``basis``), and how
    many of the report's records (on the topic, related) it holds."""
    out: list[SourceStatus] = []
    for source in all_sources():
        if source.query(topic) is None:
            continue
        fresh = basis["sources"][source.name]
        attempt = fresh["last_attempt"]
        held = [p["relevance"] for p in papers if source.name in p["sources"]]
        held += [t["relevance"] for t in trials if source.holds == "trials"]
        out.append({"source": source.name, "query": source.query_text(topic), "last_fetch": fresh["last_success"],
                    "last_attempt": attempt["status"] if attempt else None,
                    "last_attempt_at": attempt["at"] if attempt else None,
                    "last_import": max((f["at"] for f in basis["files"] if f["source"] == source.name and f["at"]),
                                       default=None),
                    "records_core": held.count("core"),
                    "records_related": len(held) - held.count("core"),
                    "service": f"{source.label} ({source.service})"})
    return out


# ----------------------------------------------------------- what changed -----

def news(runs: list[int], papers: list[Paper], trials: list[Trial], rows: list[ChangeRow]) -> News:
    """What ``runs`` brought: papers and trials new to the topic's readers (first brought by a
    live search in those runs: a record only a file or the bundled sample held before is news
    then), records imported from files, and the changes (``rows``) of the topic's trials."""
    run_set = set(runs)
    in_topic = {t["nct_id"]: t for t in trials}
    changed: list[TopicChange] = []
    for row in rows:
        trial = in_topic.get(row["nct_id"])
        # A change is news once the trial is: changes between a file's copy and the first live one are not.
        if trial and (trial["live_run_id"] or 0) < row["run_id"]:
            changed.append(TopicChange(**row, relevance=trial["relevance"], title=trial["title"], url=trial["url"]))
    fresh = [p for p in papers if p["live_run_id"] in run_set and not p["retracted"]]
    imported = [p for p in papers if p["first_run_id"] in run_set and p["live_run_id"] is None and not p["retracted"]]
    new_trials = [t for t in trials if t["live_run_id"] in run_set]
    core_changes = [c for c in changed if c["relevance"] == "core"]
    return {
        "new_publications": newest([p for p in fresh if p["relevance"] == "core"], len(fresh)),
        "new_related_publications": sum(p["relevance"] != "core" for p in fresh),
        "imported_publications": sum(p["relevance"] == "core" for p in imported),
        "new_trials": newest_trials(t for t in new_trials if t["relevance"] == "core"),
        "new_related_trials": sum(t["relevance"] != "core" for t in new_trials),
        "imported_trials": sum(t["relevance"] == "core" and t["live_run_id"] is None and t["first_run_id"] in run_set
                               for t in trials),
        "trial_changes": core_changes,
        "trials_changed": len({c["nct_id"] for c in core_changes}),
        "changed_trials": [in_topic[n] for n in dict.fromkeys(c["nct_id"] for c in core_changes)],
        "related_trial_changes": sum(c["relevance"] != "core" for c in changed),
        "related_trials_changed": len({c["nct_id"] for c in changed if c["relevance"] != "core"}),
    }


# ----------------------------------------------------------------- claims -----

def claims(topic: Topic, papers: list[Paper], abstracts: dict[str, str | None], trials: list[Trial],
           trial_texts: dict[str, str], outcomes: dict[str, list[Outcome]]) -> list[ClaimFigures]:
    """For each claim, what the topic's core records say of its outcomes, quoted: published
    studies (evidence, strongest design first), protocols and preprints (under study), other
    papers, and the registered trials whose outcome measures name them (ongoing research)."""
    out = []
    for claim in topic.claims:
        pattern = quotes.terms_pattern(claim.terms)
        within = quotes.terms_pattern(claim.only_with)
        if pattern is not None:
            out.append(_claim(claim, pattern, within, papers, abstracts, trials, trial_texts, outcomes))
    return out


def _claim(claim: Claim, pattern: re.Pattern[str], within: re.Pattern[str] | None, papers: list[Paper],
           abstracts: dict[str, str | None], trials: list[Trial], trial_texts: dict[str, str],
           outcomes: dict[str, list[Outcome]]) -> ClaimFigures:
    """What the records say of one claim's outcomes (``pattern``), among those naming ``within``."""
    quoted: list[QuotedPaper] = []
    background = 0
    for p in papers:
        text = abstracts.get(p["paper_id"])
        if within and not within.search(f"{p['title'] or ''}\n{text or ''}"):
            continue
        found, named = quotes.quote(text, pattern)
        if found:
            quoted.append(QuotedPaper(**p, quote=found, size=quotes.stated_size(text)))
        else:
            background += named
    quoted.sort(key=lambda p: (DESIGNS.index(p["design"]), -(p["year"] or 0), p["paper_id"]))
    evidence = [p for p in quoted if p["design"] in EVIDENCE_DESIGNS and not p["preprint"]]
    under_study = [p for p in quoted if p["design"] == PROTOCOL or p["preprint"]]
    others = [p for p in quoted if p not in evidence and p not in under_study]
    registered: list[RegisteredTrial] = []
    for t in trials:
        if within and not within.search(trial_texts[t["nct_id"]]):
            continue
        # claims reads outcome rows as plain dicts
        measures = quotes.trial_measures(cast(list[dict[str, Any]], outcomes.get(t["nct_id"], [])), pattern)
        if measures:
            registered.append(RegisteredTrial(**t, measures=measures))
    registered.sort(key=lambda t: (t["overall_status"] not in IN_PROGRESS, t["primary_completion_date"] or "9999",
                                   t["nct_id"]))
    return {
        "claim": claim.name, "terms": list(claim.terms), "only_with": list(claim.only_with),
        "evidence_by_design": {d: n for d in EVIDENCE_DESIGNS if (n := sum(p["design"] == d for p in evidence))},
        "evidence": evidence, "under_study": under_study, "other_papers": others,
        "background_only": background, "registered_trials": registered,
    }
