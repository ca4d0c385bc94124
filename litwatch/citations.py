"""Citations for reference managers: RIS (Zotero, EndNote, Mendeley) and BibTeX (JabRef,
Zotero, LaTeX), with each field filled the way the readers expect.

This module decides what goes in each field; the formats' own libraries write the files:
rispy the RIS (its writer, limited to the tags Zotero's RIS import maps), bibtexparser the
BibTeX (its entries, month macros, name joining and bracing).

:func:`to_ris` and :func:`to_bibtex` take a list of paper dicts, as
:func:`litwatch.exports.citations` returns them, and give the text of the file. A key that
is absent or ``None`` leaves its field out.

``kind``
    ``"journal-article"`` (when absent), ``"preprint"`` or ``"trial"``.
Journal articles and preprints
    ``title``, ``abstract``, ``keywords`` (a list of terms), ``doi``, ``url``, and
    ``authors``: names in byline order, ``"Last, First"`` for a person, and a string
    without a comma or ``{"collective": name}`` for a group author such as "PEMPHIX Study
    Group". Give every group name as the mapping: it is the only form that may hold a comma.
Journal articles
    ``pmid``, ``journal``, ``journal_iso``, ``issn``, ``volume``, ``issue``, ``pages`` (as
    PubMed gives them, e.g. ``"216-9"``), ``pub_date`` (ISO, as precise as known),
    ``pub_year``, ``language``;
    ``retracted``: true for a retracted paper. Said where readers see it: a ``note`` printed
    in the BibTeX reference, an ``N1`` note and the keyword "Retracted Publication" in RIS;
    ``design``: litwatch's study-design label. It stays out of the reference: BibTeX carries
    it in ``litwatch-design``, a field styles, Zotero and JabRef leave alone; RIS drops it.
Preprints
    ``server`` (e.g. ``"medRxiv"``), ``version``, ``posted_date`` (ISO).
Registered trials
    ``nct_id``, ``brief_title`` (the title cited), ``lead_sponsor`` (cited as the author),
    ``first_posted`` (ISO), ``abstract``, ``url``.

Choices, checked against the readers' own code (Zotero's RIS.js, BibTeX.js and
clinicaltrials.gov.js translators) and a pybtex round trip:

- BibTeX is written in UTF-8: names such as "Włodarczyk" stay as they are. Zotero, JabRef,
  biber and pybtex read it; LaTeX accent macros would be lossy and unreadable. Only the
  characters that are syntax to LaTeX or BibTeX are escaped.
- Months are BibTeX's standard macros (``month = jul``), which each style prints in its own
  form.
- Titles keep their case; words with a capital after their first letter ("PTSD", "eHealth",
  "DSM-IV") or a lone capital ("T-cell", "(S)-ketamine") are braced, so that styles which
  lowercase titles leave them alone. The title as a whole is not braced.
- Group authors are braced in BibTeX (``{PEMPHIX Study Group}``), so an "and" or a comma
  inside does not split the name. RIS has no quoting: Zotero reads an ``AU`` without a comma
  as one single-field name and splits one with a comma into last and first name, so a group
  name's commas become spaces there.
- Preprints are ``@article`` with ``journal`` = the server and the note "Preprint, not peer
  reviewed" in BibTeX, ``TY JOUR`` with ``T2`` = the server in RIS. No BibTeX entry type
  and no RIS ``TY`` imports into Zotero's preprint item type; ``@misc``, ``@online`` and
  ``@unpublished`` become a document (or book), a web page and a manuscript, which have no
  DOI field, and pybtex cannot format ``@online`` at all.
- Trials are ``@misc`` with ``howpublished`` = "ClinicalTrials.gov identifier: NCT..." in
  BibTeX, and ``TY RPRT`` in RIS with the NCT number as report number, the registry as
  institution and "Clinical trial registration" as report type: the item Zotero's own
  ClinicalTrials.gov translator saves.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, overload

import bibtexparser
import rispy
from bibtexparser import BibtexFormat
from bibtexparser.middlewares import (MergeCoAuthors, MergeNameParts, MonthAbbreviationMiddleware, NameParts,
                                      default_unparse_stack)
from bibtexparser.model import Entry, Field, ImplicitComment

from .errors import LitwatchError

JOURNAL_ARTICLE, PREPRINT, TRIAL = "journal-article", "preprint", "trial"
KINDS = (JOURNAL_ARTICLE, PREPRINT, TRIAL)
REGISTRY = "ClinicalTrials.gov"
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{}/"
TRIAL_URL = "https://clinicaltrials.gov/study/{}"
RETRACTED_NOTE = "Retracted publication"
RETRACTED_KEYWORD = "Retracted Publication"  # the PubMed publication type

Paper = dict[str, Any]


# ------------------------------------------------------------------ shared ---

def _kind(p: Paper) -> str:
    kind = p.get("kind") or JOURNAL_ARTICLE
    if kind not in KINDS:
        raise LitwatchError(f"unknown citation kind {kind!r} (known: {', '.join(KINDS)})")
    return kind


def _names(p: Paper) -> list[tuple[str, str | None]]:
    """(last, first) for a person, (name, None) for a group or one-part name."""
    if _kind(p) == TRIAL:
        return [(p["lead_sponsor"], None)] if p.get("lead_sponsor") else []
    names: list[tuple[str, str | None]] = []
    for a in p.get("authors") or []:
        if isinstance(a, dict):
            if a.get("collective"):
                names.append((a["collective"], None))
        elif "," in a:
            last, first = a.split(",", 1)
            names.append((last.strip(), first.strip() or None))
        elif a.strip():
            names.append((a.strip(), None))
    return names


def _title(p: Paper) -> str | None:
    return p.get("brief_title") if _kind(p) == TRIAL else p.get("title")


def _date(p: Paper) -> tuple[str | None, int | None, int | None]:
    """Year, month and day of the date a citation gives (publication, posting, registration)."""
    iso = {JOURNAL_ARTICLE: "pub_date", PREPRINT: "posted_date", TRIAL: "first_posted"}[_kind(p)]
    parts = [int(x) for x in re.findall(r"\d+", str(p.get(iso) or ""))[:3]]
    year = str(parts[0]) if parts else (str(p["pub_year"]) if p.get("pub_year") else None)
    month = parts[1] if len(parts) > 1 and 1 <= parts[1] <= 12 else None
    day = parts[2] if month and len(parts) > 2 and 1 <= parts[2] <= 31 else None
    return year, month, day


_RANGE = re.compile(r"^(\D*)(\d+)\s*[-\u2013]\s*(\D*)(\d+)$")


def _page_range(pages: str | None) -> tuple[str | None, str | None]:
    """First and last page, the last written out: ``"216-9"`` gives ``("216", "219")``.

    Anything but a plain range (``"CD006440"``, ``"734-744.e3"``) comes back whole.
    """
    if not pages:
        return None, None
    m = _RANGE.match(pages.strip())
    if not m:
        return pages.strip(), None
    prefix, start, end_prefix, end = m.groups()
    if not end_prefix and len(end) < len(start):  # MEDLINE abbreviates 216-219 to 216-9
        end_prefix, end = prefix, start[:len(start) - len(end)] + end
    return prefix + start, end_prefix + end


def _preprint_note(p: Paper) -> str:
    version = f" (version {p['version']})" if p.get("version") else ""
    return f"Preprint{version}, not peer reviewed"


def _link(p: Paper) -> str | None:
    if p.get("url"):
        return p["url"]
    kind = _kind(p)
    if kind == TRIAL and p.get("nct_id"):
        return TRIAL_URL.format(p["nct_id"])
    if kind == JOURNAL_ARTICLE and p.get("pmid"):
        return PUBMED_URL.format(p["pmid"])
    return f"https://doi.org/{p['doi']}" if p.get("doi") else None


def _text(value: Any) -> str | None:
    """The value as one line (RIS is line-based), or None when empty."""
    if value is None:
        return None
    text = re.sub(r"\s*[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+\s*", " ", str(value)).strip()
    return text or None


# --------------------------------------------------------------------- RIS ---

class ZoteroRisWriter(rispy.RisWriter):
    """rispy's RIS writer with only the tags Zotero's RIS import maps to its fields (RIS.js),
    and no numbered line before each record."""

    DEFAULT_MAPPING = {tag: rispy.TAG_KEY_MAPPING[tag] for tag in (
        "TY", "TI", "AU", "T2", "J2", "DA", "PY", "VL", "IS", "SP", "EP", "SN", "DO", "AB", "KW", "LA",
        "AN", "UR", "N1", "PB", "M3")}
    DEFAULT_LIST_TAGS = ["AU", "KW", "N1", "UR"]
    DEFAULT_DELIMITER_MAPPING: dict[str, str] = {}  # a tag per URL, not rispy's "a;b"

    def set_header(self, count: int) -> str:
        return ""


def to_ris(papers: Iterable[Paper]) -> str:
    """RIS records, one per paper, with the tags Zotero's RIS import maps to its fields.

    Journal articles and preprints are ``TY JOUR`` (journal or server in ``T2``, ISO
    abbreviation in ``J2``, PMID in ``AN``); registered trials are ``TY RPRT``.
    """
    return rispy.dumps([_ris_entry(p) for p in papers], implementation=ZoteroRisWriter)


def _ris_entry(p: Paper) -> dict[str, Any]:
    """The paper as a rispy reference; rispy writes the keys in this order."""
    kind = _kind(p)
    year, month, day = _date(p)
    start, end = _page_range(p.get("pages")) if kind == JOURNAL_ARTICLE else (None, None)
    entry: dict[str, Any] = {
        "type_of_reference": "RPRT" if kind == TRIAL else "JOUR",
        "title": _title(p),
        # Zotero splits an AU at its first comma into last and first name; without a comma
        # the whole value is one single-field name, which is what a group name must be.
        "authors": [f"{last}, {first}" if first else re.sub(r"\s*,\s*", " ", last) for last, first in _names(p)],
    }
    if kind == TRIAL:
        entry.update(publisher=REGISTRY, issn=p.get("nct_id"), type_of_work="Clinical trial registration")
    else:
        entry.update(secondary_title=p.get("server") if kind == PREPRINT else p.get("journal"),
                     alternate_title1=p.get("journal_iso"))
    # RIS dates are YYYY/MM/DD/other, unknown parts left empty.
    date = "/".join([year or "", *(f"{n:02d}" if n else "" for n in (month, day)), ""])
    entry.update(date=date if year else None, year=year, volume=p.get("volume"), number=p.get("issue"),
                 start_page=start, end_page=end)
    if kind == JOURNAL_ARTICLE:
        entry["issn"] = p.get("issn")
    keywords = list(p.get("keywords") or [])
    notes = [_preprint_note(p)] if kind == PREPRINT else []
    if p.get("retracted"):
        keywords.append(RETRACTED_KEYWORD)
        notes.append(RETRACTED_NOTE)
    entry.update(doi=p.get("doi"), abstract=p.get("abstract"), keywords=keywords, language=p.get("language"),
                 accession_number=p.get("pmid"), urls=[_link(p)], notes=notes)
    return {key: value for key, value in ((k, _ris_value(v)) for k, v in entry.items()) if value}


def _ris_value(value: Any) -> Any:
    """One line per value (RIS is line-based); empty values and list items dropped."""
    if isinstance(value, list):
        return [text for text in map(_text, value) if text]
    return _text(value)


# ------------------------------------------------------------------ BibTeX ---

def to_bibtex(papers: Iterable[Paper]) -> str:
    """BibTeX entries in UTF-8: ``@article`` for journal articles (key ``pmid<PMID>``) and
    preprints (key ``doi_<DOI>``), ``@misc`` for registered trials (key the NCT number)."""
    seen: set[str] = set()
    entries = [_bibtex_entry(p, _unique(_key(p), seen)) for p in papers]
    if not entries:
        return ""
    # JabRef's encoding line; the other readers take it for a comment.
    library = bibtexparser.Library([ImplicitComment("% Encoding: UTF-8"), *entries])
    layout = BibtexFormat()
    layout.indent, layout.block_separator = "  ", "\n"
    # Month numbers become the standard macros, unbraced; names are joined "Last, First and
    # ..."; the other values are braced. In place: the library is built for this one write,
    # so bibtexparser need not copy it (a copy of 10,000 entries or more also logs a warning).
    stack = [MonthAbbreviationMiddleware(allow_inplace_modification=True), MergeNameParts(style="last"),
             MergeCoAuthors(), *default_unparse_stack(allow_inplace_modification=True)]
    return bibtexparser.write_string(library, unparse_stack=stack, bibtex_format=layout)


def _key(p: Paper) -> str:
    kind = _kind(p)
    if kind == TRIAL and p.get("nct_id"):
        return str(p["nct_id"])
    if kind == JOURNAL_ARTICLE and p.get("pmid"):
        return f"pmid{p['pmid']}"
    if p.get("doi"):
        return "doi_" + re.sub(r"[^A-Za-z0-9.]+", "_", p["doi"])
    return "litwatch"


def _unique(key: str, seen: set[str]) -> str:
    """The key, or ``key_2``, ``key_3``... when earlier entries took it (the same DOI twice)."""
    candidate, n = key, 1
    while candidate in seen:
        n += 1
        candidate = f"{key}_{n}"
    seen.add(candidate)
    return candidate


def _bibtex_entry(p: Paper, key: str) -> Entry:
    """The paper as a bibtexparser entry: values escaped and case-protected, not yet braced."""
    kind = _kind(p)
    year, month, _ = _date(p)
    start, end = _page_range(p.get("pages"))
    pages = f"{start}--{end}" if end else re.sub(r"\s*[-\u2013]+\s*", "--", start) if start else None
    venue = p.get("server") if kind == PREPRINT else p.get("journal")
    notes = [_preprint_note(p)] if kind == PREPRINT else []
    if p.get("retracted"):
        notes.append(RETRACTED_NOTE)
    fields = {
        "author": [_name_parts(last, first) for last, first in _names(p)],
        "title": _protect_case(_text(_title(p))),
        "howpublished": _escape(f"{REGISTRY} identifier: {p['nct_id']}") if kind == TRIAL else None,
        "journal": None if kind == TRIAL else _escape(_text(venue)),
        "shortjournal": _escape(_text(p.get("journal_iso"))),
        "year": year,
        "month": month,
        "volume": _escape(_text(p.get("volume"))),
        "number": _escape(_text(p.get("issue"))),
        "pages": _escape(pages),
        "doi": _text(p.get("doi")),
        "issn": _escape(_text(p.get("issn"))),
        "pmid": _text(p.get("pmid")),
        # With a DOI, styles print the DOI; a URL as well would only repeat it.
        "url": _text(_link(p)) if kind == TRIAL or not p.get("doi") else None,
        "note": _escape(". ".join(notes)) if notes else None,
        "litwatch-design": _escape(_text(p.get("design"))),
    }
    return Entry("misc" if kind == TRIAL else "article", key, [Field(k, v) for k, v in fields.items() if v])


def _name_parts(last: str, first: str | None) -> NameParts:
    if first:
        return NameParts(last=[_escape(last)], first=[_escape(first)])
    return NameParts(last=[_group(_escape(last))])  # braced, so "and" or a comma inside stays part of the name


# LaTeX and BibTeX syntax; everything else, non-ASCII included, is written as it is.
_ESCAPES = {"\\": r"{\textbackslash}", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "_": r"\_",
            "~": r"{\textasciitilde}", "^": r"{\textasciicircum}", "{": r"\{", "}": r"\}"}
_PAIRED = str.maketrans(_ESCAPES)
# BibTeX counts "\{" as a brace too: text whose own braces do not pair gets the macros.
_UNPAIRED = str.maketrans({**_ESCAPES, "{": r"{\textbraceleft}", "}": r"{\textbraceright}"})


@overload
def _escape(text: str) -> str: ...
@overload
def _escape(text: None) -> None: ...
@overload
def _escape(text: str | None) -> str | None: ...
def _escape(text: str | None) -> str | None:
    if text is None:
        return None
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    return text.translate(_UNPAIRED if depth else _PAIRED)


def _group(escaped: str) -> str:
    # "{\" opens what BibTeX calls a special character, whose letters styles still recase.
    return f"{{{{{escaped}}}}}" if escaped.startswith("\\") else f"{{{escaped}}}"


_WORD_TAIL = re.compile(r"[.,;:!?]+$")
_LETTER_RUNS = re.compile(r"[^\W\d_]+")


def _protect_case(title: str | None) -> str | None:
    """Escape a title and brace the words whose capitals a style must not lowercase."""
    if title is None:
        return None
    out, previous = [], ""
    for token in title.split(" "):
        tail = _WORD_TAIL.search(token)
        word, punct = (token[:tail.start()], tail.group()) if tail else (token, "")
        opening = not previous or previous[-1] in ":.?!-\u2013\u2014"
        if word and _keeps_case(word, title_start=not previous, opening=opening):
            out.append(_group(_escape(word)) + _escape(punct))
        else:
            out.append(_escape(token))
        previous = token
    return " ".join(out)


def _keeps_case(word: str, title_start: bool, opening: bool) -> bool:
    """True for acronyms and mixed case ("PTSD", "eHealth", "DSM-IV") and lone capitals
    ("T-cell", "(S)-ketamine", "vitamin A"); not for the capital that opens the title,
    nor for the article "A" that opens a clause after a colon."""
    for n, run in enumerate(_LETTER_RUNS.findall(word)):
        if any(ch.isupper() for ch in run[1:]):
            return True
        if len(run) == 1 and run.isupper() and not (n == 0 and title_start) \
                and not (opening and len(word) == 1):
            return True
    return False
