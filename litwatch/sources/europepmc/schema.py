"""The Europe PMC tables: one row per search result, its authors, and the links it states.

A record is keyed by ``epmc_id`` = ``SOURCE:ID`` (``MED:39709209``, ``PPR:PPR1036674``,
``AGR:IND608974682``), because Europe PMC's IDs are unique only within a source. The
store adds its own bookkeeping columns (``record_hash``, ``first_run_id``,
``changed_run_id``) to ``europepmc_records``; they are not declared here.
"""

from __future__ import annotations

from ...store import TableSpec

_RECORD = ("epmc_id", "europepmc_records", "epmc_id")

TABLES: dict[str, TableSpec] = {
    "europepmc_records": TableSpec(
        {"epmc_id": str, "source": str, "ext_id": str, "pmid": int, "pmcid": str, "doi": str,
         "title": str, "abstract": str, "author_string": str, "journal": str, "journal_iso": str,
         "issn": str, "volume": str, "issue": str, "pages": str, "pub_year": int,
         "first_publication_date": str, "first_index_date": str, "date_of_creation": str,
         "date_of_revision": str, "electronic_publication_date": str, "language": str,
         "publication_status": str, "pub_types": str, "is_preprint": int, "preprint_server": str,
         "preprint_version": int, "keywords": str, "mesh": str, "chemicals": str,
         "is_open_access": int, "in_pmc": int, "cited_by_count": int, "has_tm_accessions": int,
         "tm_accession_types": str, "url": str, "raw": str},
        "epmc_id",
        indexes=(("pmid",), ("doi",), ("pmcid",), ("first_index_date",)),
        description="One row per Europe PMC record: PubMed, PMC, preprints (PPR), Agricola and others."),
    "europepmc_authors": TableSpec(
        {"epmc_id": str, "position": int, "full_name": str, "first_name": str, "last_name": str,
         "initials": str, "collective_name": str, "orcid": str, "affiliation": str},
        ("epmc_id", "position"), (_RECORD,), (("orcid",),),
        "Authors in byline order (core results only; lite results carry just author_string)."),
    "europepmc_links": TableSpec(
        {"epmc_id": str, "kind": str, "target": str, "note": str},
        ("epmc_id", "kind", "target"), (_RECORD,), (("target",), ("kind",)),
        "What a record points to: NCT IDs in its text, databases cross-referencing it, its "
        "preprint or published version, comments and corrections."),
}

COLUMNS: dict[str, dict[str, str]] = {
    "europepmc_records": {
        "epmc_id": "SOURCE:ID, e.g. MED:39709209 or PPR:PPR1036674 (primary key)",
        "source": "Europe PMC source: MED (PubMed), PMC, PPR (preprint), AGR (Agricola), PAT, ETH, NBK...",
        "ext_id": "the record's ID within its source",
        "pmid": "PubMed ID, when the record has one",
        "pmcid": "PubMed Central ID, when the full text is in PMC",
        "doi": "DOI as Europe PMC gives it (lower case)",
        "title": "title; inline markup kept as its text",
        "abstract": "abstract (core results); structured sections as 'Label: text', one per line",
        "author_string": "authors as one string ('Schoenfeld JD, Haas-Kogan DA, ...')",
        "journal": "journal title (core); lite results give the abbreviation here",
        "journal_iso": "ISO abbreviation of the journal (core)",
        "issn": "print ISSN, else the electronic one",
        "volume": "volume",
        "issue": "issue",
        "pages": "pages",
        "pub_year": "publication year",
        "first_publication_date": "first publication date, electronic or print (ISO)",
        "first_index_date": "date Europe PMC first indexed the record (ISO)",
        "date_of_creation": "date the record was created (core)",
        "date_of_revision": "date the record was last revised (core)",
        "electronic_publication_date": "electronic publication date (core)",
        "language": "language (ISO 639-2, e.g. eng; core)",
        "publication_status": "ppublish, epublish, aheadofprint... (core)",
        "pub_types": "JSON array of publication types ('Journal Article', 'Preprint'...)",
        "is_preprint": "1 if a preprint (source PPR or publication type preprint)",
        "preprint_server": "the preprint's server: medRxiv, bioRxiv, Research Square, Preprints.org...",
        "preprint_version": "preprint version number, when the server numbers versions",
        "keywords": "JSON array of keywords (core); NULL when the record carries none",
        "mesh": "JSON array of MeSH descriptor names (core); NULL when the record carries none",
        "chemicals": "JSON array of substances as given ({name, registryNumber}; core)",
        "is_open_access": "1 if open access",
        "in_pmc": "1 if the full text is in PubMed Central",
        "cited_by_count": "times cited, as Europe PMC counted when fetched (changes often)",
        "has_tm_accessions": "1 if Europe PMC text-mined accession numbers from the full text",
        "tm_accession_types": "JSON array of the text-mined accession types, e.g. [\"nct\", \"refsnp\"]",
        "url": "the record's Europe PMC page",
        "raw": "the search result as received (compact JSON), so nothing the source sent is lost",
    },
    "europepmc_authors": {
        "epmc_id": "the record (europepmc_records.epmc_id)",
        "position": "position in the byline, from 1",
        "full_name": "name as listed ('Schoenfeld JD')",
        "first_name": "first name(s)",
        "last_name": "last name",
        "initials": "initials",
        "collective_name": "group author's name, for a collective",
        "orcid": "ORCID iD, when given",
        "affiliation": "first affiliation listed (all of them are in the record's raw)",
    },
    "europepmc_links": {
        "epmc_id": "the record (europepmc_records.epmc_id)",
        "kind": "nct_text (NCT ID written in title or abstract), xref:<DB> (a database cross-references "
                "the record), preprint (target is this record's preprint), published_as (target is "
                "this preprint's published version), comment:<type> (e.g. comment:Erratum for)",
        "target": "NCT01234567, an epmc_id (MED:38289242, PPR:PPR179288), or for xref the database "
                  "name (search results name the database only)",
        "note": "how Europe PMC made the link, when it says ('CrossRef Pre-print loader', "
                "'Link created based on a title-first author match')",
    },
}
