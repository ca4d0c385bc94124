"""Crossref works: one row each, keyed by DOI; their authors; the topics they belong to."""

from __future__ import annotations

from litwatch.store.spec import RECORD_META, RUN_FOREIGN_KEYS, Family, TableSpec, child, topics_table

WORK = ("doi", "crossref_works", str, "the work (crossref_works.doi)")

TABLES: dict[str, TableSpec] = {
    "crossref_works": TableSpec({
        "doi": (str, "DOI, lower case (primary key)"),
        "type": (str, "Crossref's work type: journal-article, posted-content, reference-entry..."),
        "title": (str, "title"),
        "abstract": (str, "abstract, its JATS markup removed"),
        "container_title": (str, "journal or book the work is in"),
        "publisher": (str, "publisher"),
        "published": (str, "publication date as Crossref gives it (YYYY, YYYY-MM or YYYY-MM-DD)"),
        "pub_year": (int, "publication year"),
        "indexed": (str, "when Crossref last indexed the work (ISO): its copies' recency"),
        "url": (str, "the DOI's URL"),
        **RECORD_META,
        "design": (str, "study design, in the vocabulary of articles.design (from the wording)"),
        "design_source": (str, "rule that decided the design"),
        "derived_hash": (str, "record_hash the derived columns were computed from"),
    }, pk="doi", foreign_keys=RUN_FOREIGN_KEYS,
        description="One row per Crossref work."),
    "crossref_authors": child(WORK, {
        "position": (int, "place in the byline, from 1"),
        "family": (str, "family name"),
        "given": (str, "given names"),
    }, ("doi", "position"), "Authors of each work in byline order."),
    "crossref_topics": topics_table(WORK, "works"),
}
FAMILY = Family("crossref_works", "doi", ("crossref_authors",), "crossref_topics", fts=("title", "abstract"),
                tables=TABLES)
