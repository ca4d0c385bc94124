"""Citation formats for reference managers (Zotero, EndNote, Mendeley, JabRef...): RIS
written with rispy, BibTeX with bibtexparser. Each takes the paper dicts of
:func:`litwatch.exports.citations`."""

from __future__ import annotations

from typing import Any


def _pages(pages: str | None) -> tuple[str | None, str | None]:
    if not pages:
        return None, None
    start, _, end = pages.partition("-")
    return start or None, end or None


def to_ris(papers: list[dict[str, Any]]) -> str:
    """RIS records (TY JOUR), one per paper, as reference managers export them."""
    import rispy

    class PlainRis(rispy.RisWriter):
        def set_header(self, count: int) -> str:
            return ""  # no "1." numbering line before each record

    entries = []
    for p in papers:
        start, end = _pages(p["pages"])
        entry = {"type_of_reference": "JOUR", "title": p["title"], "authors": p["authors"],
                 "year": str(p["pub_year"]) if p["pub_year"] else None, "date": p["pub_date"],
                 "journal_name": p["journal"], "alternate_title2": p["journal_iso"], "volume": p["volume"],
                 "number": p["issue"], "start_page": start, "end_page": end, "doi": p["doi"],
                 "issn": p["issn"], "abstract": (p["abstract"] or "").replace("\n", " "), "keywords": p["keywords"],
                 "language": p["language"], "accession_number": str(p["pmid"]),
                 "urls": [f"https://pubmed.ncbi.nlm.nih.gov/{p['pmid']}/"],
                 "notes": [f"litwatch design: {p['design']}"] + (["RETRACTED"] if p["retracted"] else [])}
        entries.append({k: v for k, v in entry.items() if v not in (None, [], "")})
    return rispy.dumps(entries, implementation=PlainRis)


def to_bibtex(papers: list[dict[str, Any]]) -> str:
    """BibTeX @article entries keyed pmid<PMID>."""
    import bibtexparser
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    for p in papers:
        fields = {"title": p["title"], "author": " and ".join(p["authors"]), "journal": p["journal"],
                  "year": str(p["pub_year"]) if p["pub_year"] else None, "volume": p["volume"],
                  "number": p["issue"], "pages": (p["pages"] or "").replace("-", "--") or None, "doi": p["doi"],
                  "issn": p["issn"], "pmid": str(p["pmid"]), "url": f"https://pubmed.ncbi.nlm.nih.gov/{p['pmid']}/",
                  "keywords": ", ".join(p["keywords"]) or None, "note": f"litwatch design: {p['design']}"}
        library.add(Entry("article", f"pmid{p['pmid']}",
                          [Field(k, _braces(v)) for k, v in fields.items() if v]))
    return bibtexparser.write_string(library)


def _braces(value: str) -> str:
    """Drop braces that would unbalance a BibTeX field."""
    depth = 0
    for ch in value:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            break
    return value if depth == 0 else value.replace("{", "").replace("}", "")
