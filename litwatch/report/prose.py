"""The report's words: what was searched ("PubMed and Europe PMC, searched on 6 December
2026"), the notices, the summary with its numbered references, each claim's statement, what
changed and its label, the open gaps as a reader reads them, citations, and the words that
count designs. Sentences say what the searched sources hold and when they were searched,
never that something has or has not been published. No SQL: everything here is made from
the records (:mod:`.records`) and the figures (:mod:`.figures`).
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import TYPE_CHECKING, Any, Mapping, Sequence, TypedDict

from ..config import Topic
from ..designs import (COMMENTARY, META_ANALYSIS, NARRATIVE_REVIEW, OTHER, PRECLINICAL, PROTOCOL, RCT,
                       SYSTEMATIC_REVIEW)
from ..gaps import Gap
from ..gaps import notices as gap_notices
from ..labels import IN_PROGRESS, RECRUITING, change_value, in_sentence
from ..sources import all_sources, get, in_words
from ..sources import label as source_label
from .figures import EVIDENCE_DESIGNS, ClaimFigures, Counts, News, TopicChange
from .records import Paper, RunBasis, Trial

if TYPE_CHECKING:
    from ..sources.base import Source

# How the report counts each design: one, many (the designs that carry evidence first).
WORDS = {META_ANALYSIS: ("meta-analysis", "meta-analyses"),
         SYSTEMATIC_REVIEW: ("systematic review", "systematic reviews"),
         RCT: ("randomized controlled trial", "randomized controlled trials"),
         "non-randomized controlled trial": ("non-randomized controlled trial", "non-randomized controlled trials"),
         "single-arm / open-label trial": ("single-arm or open-label trial", "single-arm or open-label trials"),
         "observational study": ("observational study", "observational studies"),
         "case report / case series": ("case report or series", "case reports or series"),
         NARRATIVE_REVIEW: ("narrative review", "narrative reviews"),
         PROTOCOL: ("study protocol", "study protocols"),
         PRECLINICAL: ("preclinical (animal or in vitro) study", "preclinical (animal or in vitro) studies"),
         COMMENTARY: ("commentary, editorial or letter", "commentaries, editorials or letters"),
         OTHER: ("paper of another kind", "papers of other kinds")}
# Designs that carry evidence, strongest first, with the words the report counts them in.
EVIDENCE = {design: WORDS[design] for design in EVIDENCE_DESIGNS}


class Basis(RunBasis):
    """What the report rests on, with the open gaps as a reader reads them."""

    gaps: list[dict[str, Any]]  # each gap (litwatch.gaps.Gap) and its ``text``
    gap_notices: list[str]


class Held(TypedDict):
    """Where the records of some sources come from, in the words a sentence starts with."""

    where: str  # what holds the records: "PubMed, searched on 6 December 2026"
    subject: str  # the same, punctuated to start "... hold(s)"
    In: str  # "In <where>"
    verb: str  # hold or holds
    live: bool


class Searched(TypedDict):
    """What holds the report's papers and its trials, and whether any source of each searches the topic."""

    papers: Held
    papers_used: bool
    trials: Held
    trials_used: bool


class Claim(ClaimFigures):
    """A claim's figures with what the searched sources hold on it, in words."""

    statement: str


class Change(TopicChange):
    """A change of a trial's record as a reader reads it."""

    label: str  # the field
    old: str | None
    new: str | None


class Changes(TypedDict):
    """What changed, labelled: the runs it covers and what they brought (:class:`.figures.News`)."""

    mode: str  # first, last-update, last-report or since
    label: str  # "In the update of 6 December 2026"
    phrase: str  # the label to go inside a sentence
    since: str | None  # when the first of its runs started
    runs: list[int]
    new_publications: list[Paper]
    new_related_publications: int
    imported_publications: int
    new_trials: list[Trial]
    new_related_trials: int
    imported_trials: int
    held_only: str | None  # the core records only files or the sample hold, counted
    trial_changes: list[Change]
    trials_changed: int
    changed_trials: list[Trial]
    related_trial_changes: int
    related_trials_changed: int


class Reference(TypedDict):
    text: str
    url: str | None


class Summary(TypedDict):
    """A paragraph an editor can paste as it stands, with numbered references."""

    text: str
    references: list[Reference]


# ------------------------------------------------------------------ basis -----

def basis(stored: RunBasis, gaps: list[Gap]) -> Basis:
    """What the report rests on, with the open ``gaps`` described and made into notices."""
    return {**stored, "gaps": [{**g.as_dict(), "text": g.describe(source_label(g.source))} for g in gaps],
            "gap_notices": gap_notices(gaps)}


def searched(basis: RunBasis) -> Searched:
    """Where the report's papers and trials come from, in the words every sentence about them
    starts with: what was searched and when ("PubMed and Europe PMC, searched on 6 December
    2026"), or that the data are the bundled sample or imported files, not a live search."""
    papers = [s for s in all_sources() if s.holds == "papers" and s.name in basis["sources"]]
    trials = [s for s in all_sources() if s.holds == "trials" and s.name in basis["sources"]]
    return {"papers": _held_by(basis, papers), "papers_used": bool(papers),
            "trials": _held_by(basis, trials), "trials_used": bool(trials)}


def _held_by(basis: RunBasis, sources: list[Source]) -> Held:
    """``where`` (what holds the records), ``subject`` (the same, punctuated to start "...
    hold(s)"), ``In`` ("In <where>"), ``verb`` (hold, holds) and ``live`` for the records of
    ``sources``."""
    live: dict[str, list[str]] = {}
    sample, files = [], []
    for source in sources:
        fresh = basis["sources"][source.name]
        if fresh["live"] and fresh["last_success"]:
            live.setdefault(_long_date(fresh["last_success"][:10]), []).append(source.label)
        elif any(f["source"] == source.name and f["file"] and "/sample/" not in f["file"].replace("\\", "/")
                 for f in basis["files"]):
            files.append(source.label)
        elif source.name in basis["sample"]:
            sample.append(source.label)
    parts = []
    if len(live) == 1:
        (day, labels), = live.items()
        parts.append(f"{in_words(labels)}, searched on {day}")
    elif live:
        parts.append(in_words([f"{in_words(labels)} (searched on {day})" for day, labels in live.items()]))
    if files:
        parts.append(f"the {in_words(files)} files imported (not a live search)")
    if sample:
        parts.append(f"the bundled sample of real {in_words(sample)} records (not a live search)")
    if not parts:
        labels = [s.label for s in sources]
        where = (f"the records stored so far (no search of {' or '.join(labels)} has succeeded yet)" if labels
                 else "the records stored so far")
        return {"where": where, "subject": where, "In": f"In {where}", "verb": "hold", "live": False}
    many = len(parts) > 1 or bool(files) or any(len(labels) > 1 for labels in live.values()) or len(live) > 1
    where = ", and ".join(parts) if len(parts) > 1 and "," in parts[0] else " and ".join(parts)
    # "PubMed, searched on 6 December 2026, holds ...": the date is set off on both sides.
    subject = where + ("," if re.search(r"searched on \d+ \w+ \d{4}$", where) else "")
    return {"where": where, "subject": subject, "In": f"In {where}", "verb": "hold" if many else "holds",
            "live": bool(live)}


# -------------------------------------------------------------- citations -----

def citation(authors: list[str], r: Any) -> str:
    """Vancouver-style citation: authors, title, journal year;volume(issue):pages. doi, PMID.
    A preprint names its server and is marked as one."""
    names = ", ".join(authors[:3]) + (", et al" if len(authors) > 3 else "")
    if r["preprint"]:
        where = f"{r['server'] or 'Preprint server'} [Preprint, not peer reviewed]. {r['pub_year'] or 'n.d.'}"
    else:
        where = f"{r['journal'] or ''}. {r['pub_year'] or 'n.d.'}"
        if r["volume"]:
            where += f";{r['volume']}" + (f"({r['issue']})" if r["issue"] else "")
        if r["pages"]:
            where += f":{r['pages']}"
    title = (r["title"] or "").rstrip(".")
    text = f"{names + '. ' if names else ''}{title}. {where}."
    if r["doi"]:
        text += f" doi:{r['doi']}."
    if r["pmid"]:
        return text + f" PMID: {r['pmid']}."
    named = _cited_as(r)
    return text if r["doi"] and r["doi"].lower() in named.lower() else text + f" {named}."


def _cited_as(r: Any) -> str:
    """How a paper without a PMID is named in a citation, as its source says ("Europe PMC: PPR:...")."""
    arm = get(r["source"]).papers
    return (arm.cite_as if arm else "{key}").format(key=r["record_key"])


# ---------------------------------------------------------------- related -----

def related_labels(topic: Topic) -> dict[str, str]:
    """The headings of the related records, by the concept they share with the topic."""
    intervention = topic.intervention_terms[0] if topic.intervention_terms else "The intervention"
    condition = topic.condition_terms[0] if topic.condition_terms else "the condition"
    return {"intervention": f"{intervention[0].upper() + intervention[1:]} for other conditions",
            "condition": f"{condition[0].upper() + condition[1:]} treated otherwise"}


# ----------------------------------------------------------------- claims -----

def claim(figures: ClaimFigures, topic: Topic, searched: Searched) -> Claim:
    """A claim's figures with its statement."""
    return {**figures, "statement": _claim_statement(figures, topic, searched)}


def _claim_statement(claim: ClaimFigures, topic: Topic, searched: Searched) -> str:
    """What the searched sources hold on a claim's outcomes, in words that say no more than
    the records: which papers name them in their abstracts, which registered trials measure
    them; absence as what was searched."""
    phrase = lower_first(topic.display_title)
    papers, trials = searched["papers"], searched["trials"]
    evidence = claim["evidence"]
    if evidence:
        kinds = in_words([_count(n, *EVIDENCE[d]) for d, n in claim["evidence_by_design"].items()])
        newest = max((p["year"] for p in evidence if p["year"]), default=None)
        one = len(evidence) == 1
        text = (f"{papers['In']}, the {'abstract' if one else 'abstracts'} of "
                f"{_count(len(evidence), 'published study', 'published studies')} of {phrase} "
                f"{'names' if one else 'name'} these outcomes: {kinds}" + (f" (newest {newest})" if newest else "")
                + f". {'Its sentence is' if one else 'Each sentence is'} quoted below: naming an outcome is not "
                  f"finding for the claim.")
    else:
        text = f"{papers['In']}, no published study of {phrase} names these outcomes in its abstract."
    counted = [(n, one, many) for n, one, many in (
        (sum(p["design"] == PROTOCOL for p in claim["under_study"]), "study protocol", "study protocols"),
        (sum(p["preprint"] for p in claim["under_study"]), "preprint (not peer reviewed)",
         "preprints (not peer reviewed)"),
        (len(claim["other_papers"]), "paper of another kind", "papers of other kinds")) if n]
    if counted:
        names = "names" if sum(n for n, _, _ in counted) == 1 else "name"
        text += f" {in_words([_count(n, one, many) for n, one, many in counted])} {names} them."
    if searched["trials_used"]:
        registered = claim["registered_trials"]
        going = sum(t["overall_status"] in IN_PROGRESS for t in registered)
        if registered:
            text += (f" {trials['In']}, {_count(len(registered), 'registered trial', 'registered trials')} of {phrase} "
                     f"{'measures' if len(registered) == 1 else 'measure'} them as a primary or secondary outcome"
                     + (f", {going} of them in progress" if going and len(registered) > 1 else
                        " (in progress)" if going else "") + ".")
        else:
            text += f" {trials['In']}, no registered trial of {phrase} measures them as a primary or secondary outcome."
    return text


# ----------------------------------------------------------- what changed -----

_FIELD_LABELS = {"overall_status": "status", "phases": "phase", "enrollment": "enrollment",
                 "enrollment_type": "enrollment (actual or estimated)", "start_date": "start date",
                 "start_date_type": "start date type", "primary_completion_date": "primary completion",
                 "primary_completion_date_type": "primary completion type", "completion_date": "completion",
                 "completion_date_type": "completion type", "has_results": "results posted"}


def changes(mode: str, runs: list[int], started: str | None, when: str | None, news: News) -> Changes:
    """What changed, labelled by how its ``runs`` were chosen (``mode``), when the first of them
    ``started`` and the day it starts from (``when``: the last report's, or the one asked),
    with each trial change in words."""
    label = {"first": "In the first update" + (f" ({_long_date(started[:10])})" if started else "")
                      + ", which built this database",
             "last-update": f"In the update of {_long_date(started[:10])}" if started else "In the last update (none)",
             "last-report": f"Since the report of {_long_date(when)}" if when else "Since the last report",
             "since": f"Since {_long_date(when)}" if when else "Since the start"}[mode]
    return {
        "mode": mode, "label": label, "phrase": label[0].lower() + label[1:], "since": started, "runs": runs,
        "new_publications": news["new_publications"],
        "new_related_publications": news["new_related_publications"],
        "imported_publications": news["imported_publications"],
        "new_trials": news["new_trials"],
        "new_related_trials": news["new_related_trials"],
        "imported_trials": news["imported_trials"],
        "held_only": _held_only(news["imported_publications"], news["imported_trials"]),
        "trial_changes": [_change(c) for c in news["trial_changes"]],
        "trials_changed": news["trials_changed"],
        "changed_trials": news["changed_trials"],
        "related_trial_changes": news["related_trial_changes"],
        "related_trials_changed": news["related_trials_changed"],
    }


def _held_only(papers: int, trials: int) -> str | None:
    """That so many core papers and trials are only in files or the bundled sample (None: none)."""
    held = [_count(n, one, many) for n, one, many in ((papers, "paper", "papers"),
                                                      (trials, "registered trial", "registered trials")) if n]
    one = papers + trials == 1
    return (f"{in_words(held)} {'is' if one else 'are'} so far held only in files or the bundled sample: "
            f"{'it' if one else 'they'} will count as new when a live search first brings "
            f"{'it' if one else 'them'}.") if held else None


def _change(change: TopicChange) -> Change:
    """The change with its field and values as a reader reads them."""
    return {**change, "label": _FIELD_LABELS.get(change["field"], change["field"]),
            "old": change_value(change["field"], change["old_value"]),
            "new": change_value(change["field"], change["new_value"])}


# ---------------------------------------------------------------- notices -----

def notices(basis: Basis, as_of: str, topic_phrase: str, counts: Counts) -> list[str]:
    """What the report rests on, every time; and what a reader must know before trusting it."""
    if basis["empty"] and basis["first_run"]:
        return [f"No run had ended by {as_of[:10]}: the first run of this database started on "
                f"{basis['first_run'][:10]}."]
    if basis["empty"]:
        return ['The database is empty: run "litwatch update" (or "litwatch fetch", or "litwatch import FILE") '
                "first."]
    notes = []
    live = [f"{s['label']} (last {_day(s['last_success'])})" for s in basis["sources"].values() if s["live"]]
    parts = []
    if live:
        parts.append(f"live searches of {in_words(live)}")
    files = [f["file"] for f in basis["files"] if f["file"]]
    own_files = [f for f in files if "/sample/" not in "/" + f.replace("\\", "/")]
    if own_files:
        names = dict.fromkeys(f.replace("\\", "/").rsplit("/", 1)[-1] for f in own_files)
        parts.append(f"imported file{'s' if len(names) > 1 else ''} ({', '.join(names)})")
    if [name for name in basis["sample"] if not _live(basis, name)]:
        parts.append("the bundled offline sample of real records (litwatch/sample/PROVENANCE.md)")
    notes.append(f"Data: {in_words(parts)}." if parts else "Data: none yet.")
    if not live:
        papers, trials = counts["publications"] + counts["preprints"], counts["trials"]
        labels = [s["label"] for s in basis["sources"].values()]
        services = in_words(labels, "or")
        notes.append(
            f"Not a live search: no search for {topic_phrase} has reached {services} yet. "
            f"These data hold {_count(papers, 'paper', 'papers') if papers else 'no paper'} and "
            f"{_count(trials, 'registered trial', 'registered trials') if trials else 'no registered trial'} "
            f"on {topic_phrase}; records on only one of its two concepts are under Related research. "
            f'Run "litwatch update" with network access for current data.')
    notes += basis["gap_notices"]
    return notes + _refresh_notices(basis)


def _live(basis: RunBasis, name: str) -> bool:
    """Whether a live search of the source ``name`` succeeded."""
    fresh = basis["sources"].get(name)
    return bool(fresh and fresh["live"])


def _refresh_notices(basis: RunBasis) -> list[str]:
    """The sources whose latest refresh failed, and how old their data are: those that could
    not be reached together, by day."""
    notes = []
    unreached: dict[tuple[str, str], list[str]] = {}  # (day, data as of) -> sources not reached
    for s in basis["sources"].values():
        attempt = s["last_attempt"]
        if not attempt or attempt["status"] == "success":
            continue
        as_of = _day(s["last_success"]) if s["last_success"] else "the files imported (no successful search yet)"
        if attempt["error"] and attempt["error"].startswith(f"{s['label']} could not be reached"):
            unreached.setdefault((_day(attempt["at"]), as_of), []).append(s["label"])
            continue
        what = "was interrupted" if attempt["status"] == "interrupted" else "failed"
        notes.append(f"The latest refresh of {s['label']} ({_day(attempt['at'])}) {what}"
                     f"{': ' + attempt['error'] if attempt['error'] else ''}. Its data here are as of {as_of}.")
    for (day, as_of), labels in unreached.items():
        many = len(labels) > 1
        notes.append(f"The latest refresh of {in_words(labels)} ({day}) failed: "
                     f"{'none of them' if many else 'it'} could be reached. {'Their' if many else 'Its'} data here "
                     f"are as of {as_of}.")
    return notes


# ---------------------------------------------------------------- summary -----

def summary(report: dict[str, Any]) -> Summary:
    """A short paragraph an editor can paste as it stands: each sentence says what the searched
    sources hold and when they were searched (never that something has or has not been
    published), with numbered references to the records it rests on."""
    refs = _References()
    c = report["counts"]
    topic = lower_first(report["topic_title"])
    sentences = []
    if report["searched"]["trials_used"]:
        sentences.append(_trials_sentence(report, topic, refs))
    if report["searched"]["papers_used"]:
        sentences.append(_evidence_sentence(report, topic, refs))
        if c["preprints"]:
            sentences.append(f"{_upper_first(report['searched']['papers']['subject'])} also "
                             f"{report['searched']['papers']['verb']} "
                             f"{_count(c['preprints'], 'preprint', 'preprints')}, not peer reviewed"
                             + refs.cite(report["newest_preprints"][:3]) + ".")
    changed = _changes_sentence(report, topic, refs)
    if changed:
        sentences.append(changed)
    return {"text": " ".join(sentences), "references": refs.entries}


class _References:
    """The summary's numbered references: each record once, numbered in the order first cited."""

    def __init__(self) -> None:
        self.entries: list[Reference] = []

    def cite(self, items: Sequence[Mapping[str, Any]]) -> str:
        """The reference marks of these trials and papers (' [1, 2]'; '' for none), numbering new ones."""
        numbers = []
        for item in items:
            entry: Reference
            if "nct_id" in item:
                entry = {"text": f"{item['title']}. ClinicalTrials.gov {item['nct_id']} ({item['status']}).",
                         "url": item["url"]}
            else:
                entry = {"text": item["citation"], "url": item["url"]}
            if entry not in self.entries:
                self.entries.append(entry)
            numbers.append(self.entries.index(entry) + 1)
        return " [" + ", ".join(map(str, numbers)) + "]" if numbers else ""


def _trials_sentence(report: dict[str, Any], topic: str, refs: _References) -> str:
    """How many trials the registry holds, and how many recruit (where)."""
    c = report["counts"]
    held = report["searched"]["trials"]
    where, verb = _upper_first(held["subject"]), held["verb"]
    in_progress = report["trials_in_progress"]
    recruiting = [t for t in in_progress if t["overall_status"] in RECRUITING]
    if not c["trials"]:
        return f"{where} {verb} no registered trial of {topic}."
    text = f"{where} {verb} {_count(c['trials'], 'registered trial', 'registered trials')} of {topic}"
    if recruiting:
        text += (f"; {len(recruiting)} {'are' if len(recruiting) != 1 else 'is'} recruiting or about to"
                 + _where(recruiting))
    elif in_progress:
        text += f"; {len(in_progress)} {'are' if len(in_progress) != 1 else 'is'} in progress, none recruiting"
    return text + refs.cite((recruiting or in_progress)[:5]) + "."


def _evidence_sentence(report: dict[str, Any], topic: str, refs: _References) -> str:
    """The strongest evidence the searched sources hold (meta-analyses, randomized trials),
    else what papers they hold: never what has (not) been published in the world."""
    c = report["counts"]
    held = report["searched"]["papers"]
    where, verb = _upper_first(held["subject"]), held["verb"]
    evidence = report["published_evidence"]
    strongest = evidence["latest_meta_analyses"] + evidence["latest_randomized_trials"]
    if strongest:
        parts = []
        if c["meta_analyses"]:
            parts.append(f"{c['meta_analyses']} meta-analys{'es' if c['meta_analyses'] != 1 else 'is'} or systematic "
                         f"review{'s' if c['meta_analyses'] != 1 else ''}")
        if c["randomized_trials"]:
            parts.append(f"{c['randomized_trials']} randomized controlled "
                         f"trial{'s' if c['randomized_trials'] != 1 else ''}")
        newest = max((p["year"] for p in strongest if p["year"]), default=None)
        basis = report["design_basis"]
        inferred = sum(basis[d]["inferred"] for d in (META_ANALYSIS, SYSTEMATIC_REVIEW, RCT) if d in basis)
        text = f"{where} {verb} {in_words(parts)} of {topic}" + (f" (the newest from {newest})" if newest else "")
        if inferred:
            text += (f"; the design of {inferred} of them is read from the abstract, as the National Library of "
                     f"Medicine has not yet indexed {'it' if inferred == 1 else 'them'}")
        return text + refs.cite(strongest[:5]) + "."
    if c["publications"]:
        designs = report["publications_by_design"]
        kinds = in_words([_count(n, *WORDS.get(d, (d, d))) for d, n in designs.items()])
        return (f"{where} {verb} no randomized controlled trial, meta-analysis or systematic review of {topic}; "
                f"{'it holds' if verb == 'holds' else 'they hold'} {kinds}"
                + refs.cite(report["newest_publications"][:3]) + ".")
    return f"{where} {verb} no published paper on {topic}."


def _changes_sentence(report: dict[str, Any], topic: str, refs: _References) -> str | None:
    """What the last update (or the period) brought: papers and trials counted as such, plain
    dates. None for the first update (nothing to compare with)."""
    changes = report["changes"]
    if changes["mode"] == "first":
        return None
    n_papers, n_trials, n_changed = (len(changes["new_publications"]), len(changes["new_trials"]),
                                     changes["trials_changed"])
    if not (n_papers or n_trials or n_changed):
        return f"{changes['label']}, nothing new on {topic} was found."
    bits = [_count(n, one, many) for n, one, many in
            ((n_papers, "new paper", "new papers"), (n_trials, "new registered trial", "new registered trials"))
            if n]
    if n_changed:
        bits.append(f"{_count(n_changed, 'registered trial', 'registered trials')} with changes to "
                    f"{'its' if n_changed == 1 else 'their'} record")
    return (f"{changes['label']}: {in_words(bits)}"
            + refs.cite(changes["new_publications"][:3] + changes["new_trials"][:3] + changes["changed_trials"][:3])
            + ".")


def _where(trials: list[Trial], shown: int = 5) -> str:
    """", in the United States and Canada" (the countries with the most trials first)."""
    tally: dict[str, int] = {}
    for t in trials:
        for country in t["countries"]:
            tally[country] = tally.get(country, 0) + 1
    if not tally:
        return ""
    countries = [in_sentence(c) for c in sorted(tally, key=lambda c: (-tally[c], c))]
    if len(countries) <= shown:
        return f", in {in_words(countries)}"
    return f", in {len(countries)} countries (most in {in_words(countries[:3])})"


# ------------------------------------------------------------------ words -----

def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def lower_first(title: str) -> str:
    """"Ketamine for PTSD" -> "ketamine for PTSD" (an acronym keeps its capitals)."""
    return title[0].lower() + title[1:] if len(title) > 1 and title[1].islower() else title


def _long_date(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


def _day(stamp: str | None) -> str:
    return stamp[:10] if stamp else "never"
