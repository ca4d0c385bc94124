"""Claims answered from what the records say: a sentence quoted from an abstract, an outcome
measure quoted from a registration, never a keyword.

A claim names outcomes (:class:`litwatch.config.Claim`). A paper bears on it only through a
sentence of its abstract that names one of them: the sentence is quoted verbatim, so that the
reader can judge in one glance what the paper says about it. Sentences of the Results and
Conclusions parts of a structured abstract are preferred; sentences of its Background or
Objective parts (and the opening sentence of an unstructured abstract) describe other work or
the question asked, so they never make a paper evidence. A title is never searched: "Rapid
Evidence Assessment of ..." says nothing of rapid relief. A registered trial bears on a claim
through a primary or secondary outcome measure that names one of its outcomes.

Sentences are split by syntok (a maintained rule-based segmenter that knows "vs.", "e.g.",
"et al." and decimals), and quotes are cut from the stored text by its offsets, so a quote is
always a substring of the abstract as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, TypedDict

from syntok import segmenter

QUOTE_CHARS = 320  # a longer sentence is cut around the outcome it names, with "…" at the cuts
# An abstract's part, by its heading: results and conclusions (0) are preferred to methods and
# unlabelled text (1); background and objectives (2) never make a paper evidence.
_RESULTS = re.compile(r"result|finding|conclu|interpret|discussion|implication|relevance|what this .* adds|"
                      r"limitation|summary|effect", re.IGNORECASE)
_BACKGROUND = re.compile(r"\s*(?:background|introduction|objective|aim|purpose|context|rationale|importance|"
                         r"hypothes|goal|question|significance|what is (?:already )?known)", re.IGNORECASE)
_HEADING = re.compile(r"([A-Z][A-Za-z&/,' -]{1,60}):\s")
# The size a paper states: "N = 641", "641 veterans", "12 randomized trials".
_SIZE = re.compile(
    r"\b[Nn]\s?=\s?\d[\d,]*\d|\b[Nn]\s?=\s?\d"
    r"|(?<![\d.,])\b(?:\d{1,3}(?:,\d{3})+|\d+)\s+(?:[a-z][a-z-]*\s+){0,2}?"
    r"(?:participants|patients|veterans|adults|subjects|individuals|people|persons|women|men|children|adolescents"
    r"|service members|soldiers|survivors|outpatients|inpatients|volunteers|respondents"
    r"|(?:studies|trials|RCTs)(?=\s(?:were|met|with|involving|including|of|comprising)\b|\)|,|;))\b")


class Quote(TypedDict):
    text: str  # verbatim from the abstract; "…" marks where a long sentence was cut
    section: str | None  # the abstract's heading over it ("RESULTS"), None in unstructured text
    term: str  # the outcome it names, as written there


class Measure(TypedDict):
    kind: str  # primary or secondary
    measure: str
    time_frame: str | None
    quote: str | None  # the description's sentence naming the outcome, when the title does not


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset in the abstract as stored
    section: str | None
    rank: int  # 0 results/conclusions, 1 methods or unlabelled, 2 background (never evidence)


def terms_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for outcome terms as whole words or phrases ("CAPS" finds "CAPS-5", not
    "capsule"), case-insensitive except for acronyms (a term without lower-case letters:
    "CAPS" does not find "CAPs", compound action potentials); a plural ending is allowed, and a
    trailing ``*`` allows any ending ("dissociat*"). None when there is no term."""
    parts = []
    for term in sorted({t.strip() for t in terms if t.strip().rstrip("*")}, key=len, reverse=True):
        if term.endswith("*"):
            body = re.escape(term[:-1].strip()) + r"\w*"
        else:
            body = re.escape(term) + r"(?:s|es)?" + (r"\b" if term[-1].isalnum() else "")
        acronym = term.upper() == term and term.lower() != term
        parts.append(f"(?-i:{body})" if acronym else body)  # the longest term first: it is the one quoted
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")", re.IGNORECASE)


def sentences(abstract: str, opening: bool = True) -> list[Sentence]:
    """The abstract's sentences, each with its part's heading and rank; with ``opening``, the
    first sentence of an unstructured abstract of three or more is background (rank 2)."""
    return list(_sentences(abstract, opening))


@lru_cache(maxsize=1024)
def _sentences(abstract: str, opening: bool) -> tuple[Sentence, ...]:
    """:func:`sentences`, split once per abstract: a report asks for each abstract once per
    claim and once for its stated size."""
    out: list[Sentence] = []
    offset = 0
    structured = bool(_HEADING.match(abstract))
    for line in abstract.splitlines(keepends=True):
        heading = _HEADING.match(line)
        section = heading.group(1).strip() if heading else None
        rank = 1 if section is None else 0 if _RESULTS.search(section) else 2 if _BACKGROUND.match(section) else 1
        body = heading.end() if heading else 0
        for paragraph in segmenter.analyze(line[body:]):
            for tokens in paragraph:
                start, end = body + tokens[0].offset, body + tokens[-1].offset + len(tokens[-1].value)
                out.append(Sentence(line[start:end], offset + start, section, rank))
        offset += len(line)
    if opening and not structured and len(out) >= 3 and out[0].section is None:
        out[0] = Sentence(out[0].text, out[0].start, None, 2)  # an unstructured abstract opens with background
    return tuple(out)


def quote(abstract: str | None, pattern: re.Pattern[str], opening: bool = True) -> tuple[Quote | None, bool]:
    """The sentence of the abstract that best shows what it says of the outcomes: from its
    results or conclusions when it has them, else the latest other one; and whether the
    abstract names them at all (in its background only, the quote is None)."""
    if not abstract:
        return None, False
    found = [(s, m) for s in sentences(abstract, opening) if (m := pattern.search(s.text))]
    usable = [(s, m) for s, m in found if s.rank < 2]
    if not usable:
        return None, bool(found)
    sentence, match = min(usable, key=lambda sm: (sm[0].rank, -sm[0].start))
    return Quote(text=_cut(sentence.text, match), section=sentence.section, term=match.group(0)), True


def _cut(text: str, match: re.Match[str]) -> str:
    """A sentence, or the part of a long one around ``match`` (cut between words, "…" at the cuts)."""
    if len(text) <= QUOTE_CHARS:
        return text
    start = max(0, min(match.start() - QUOTE_CHARS // 3, len(text) - QUOTE_CHARS))
    end = min(len(text), start + QUOTE_CHARS)
    if start:
        start = text.find(" ", start) + 1 or start
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > match.end() else end
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def stated_size(abstract: str | None) -> str | None:
    """How many people (or studies, for a review) the abstract says the work included, as it
    says it ("N = 641", "641 veterans", "12 randomized trials"), or None when it does not."""
    if not abstract:
        return None
    for sentence in sentences(abstract):
        match = _SIZE.search(sentence.text) if sentence.rank < 2 else None
        if match:
            return " ".join(match.group(0).split())
    return None


def trial_measures(outcomes: list[dict[str, Any]], pattern: re.Pattern[str]) -> list[Measure]:
    """A trial's primary and secondary outcome measures that name a claim's outcome: by their
    title, or else by a sentence of their description (quoted)."""
    out: list[Measure] = []
    for o in outcomes:
        if o["kind"] not in ("primary", "secondary"):
            continue
        named = pattern.search(o["measure"] or "")
        said = None
        if not named and o["description"]:
            said, _ = quote(o["description"], pattern, opening=False)
        if named or said:
            out.append(Measure(kind=o["kind"], measure=o["measure"] or "", time_frame=o["time_frame"],
                               quote=said["text"] if said else None))
    return out
