"""The Europe PMC tables: one row per search result, its authors, the links it states, and
the topics it belongs to.

A record is keyed by ``epmc_id`` = ``SOURCE:ID`` (``MED:39709209``, ``PPR:PPR1036674``,
``AGR:IND608974682``), because Europe PMC's IDs are unique only within a source. A record
that has a PMID is the same paper as the PubMed record of that PMID: the ``papers`` view
shows it once.
"""

from __future__ import annotations

from ...store.spec import RECORD_META, RUN_FOREIGN_KEYS, Family, TableSpec, child, topics_table

RECORD = ("epmc_id", "europepmc_records", str, "the record (europepmc_records.epmc_id)")
DERIVED: dict[str, tuple[type, str]] = {
    "design": (str, "study design, in the vocabulary of articles.design"),
    "design_source": (str, "rule that decided the design: publication_type, mesh, text (title/abstract "
                           "wording) or default"),
    "retracted": (int, "1 when the record is a retracted publication or states a retraction"),
    "derived_hash": (str, "record_hash the derived columns were computed from"),
}

TABLES: dict[str, TableSpec] = {
    "europepmc_records": TableSpec(
        {
        "epmc_id": (str, 'SOURCE:ID, e.g. MED:39709209 or PPR:PPR1036674 (primary key)'),
        "source": (str, 'Europe PMC source: MED (PubMed), PMC, PPR (preprint), AGR (Agricola), PAT, ETH, NBK...'),
        "ext_id": (str, "the record's ID within its source"),
        "pmid": (int, 'PubMed ID, when the record has one'),
        "pmcid": (str, 'PubMed Central ID, when the full text is in PMC'),
        "doi": (str, 'DOI as Europe PMC gives it (lower case)'),
        "title": (str, 'title; inline markup kept as its text'),
        "abstract": (str, "abstract (core results); structured sections as 'Label: text', one per line"),
        "author_string": (str, "authors as one string ('Schoenfeld JD, Haas-Kogan DA, ...')"),
        "journal": (str, 'journal title (core); lite results give the abbreviation here'),
        "journal_iso": (str, 'ISO abbreviation of the journal (core)'),
        "issn": (str, 'print ISSN, else the electronic one'),
        "volume": (str, 'volume'),
        "issue": (str, 'issue'),
        "pages": (str, 'pages'),
        "pub_year": (int, 'publication year'),
        "first_publication_date": (str, 'first publication date, electronic or print (ISO)'),
        "first_index_date": (str, 'date Europe PMC first indexed the record (ISO)'),
        "date_of_creation": (str, 'date the record was created (core)'),
        "date_of_revision": (str, 'date the record was last revised (core)'),
        "electronic_publication_date": (str, 'electronic publication date (core)'),
        "language": (str, 'language (ISO 639-2, e.g. eng; core)'),
        "publication_status": (str, 'ppublish, epublish, aheadofprint... (core)'),
        "pub_types": (str, "JSON array of publication types ('Journal Article', 'Preprint'...)"),
        "is_preprint": (int, '1 if a preprint (source PPR or publication type preprint)'),
        "preprint_server": (str, "the preprint's server: medRxiv, bioRxiv, Research Square, Preprints.org..."),
        "preprint_version": (int, 'preprint version number, when the server numbers versions'),
        "keywords": (str, 'JSON array of keywords (core); NULL when the record carries none'),
        "mesh": (str, 'JSON array of MeSH descriptor names (core); NULL when the record carries none'),
        "chemicals": (str, 'JSON array of substances as given ({name, registryNumber}; core)'),
        "is_open_access": (int, '1 if open access'),
        "in_pmc": (int, '1 if the full text is in PubMed Central'),
        "has_tm_accessions": (int, '1 if Europe PMC text-mined accession numbers from the full text'),
        "tm_accession_types": (str, 'JSON array of the text-mined accession types, e.g. ["nct", "refsnp"]'),
        "url": (str, "the record's Europe PMC page"),
        "result_type": (str, "the richest kind of search result the record was read from: core, lite or idlist "
                             "(a poorer copy never erases what a richer one brought)"),
        "cited_by_count": (int, "times cited, as Europe PMC last said (stored from every copy; never makes a "
                                "record count as updated)"),
        "raw": (str, "the search results received for the record, laid over each other field by field as its "
                     "columns are (compact JSON, keys sorted; the citation count left out), so nothing the source "
                     "sent is lost"),
        } | DERIVED | RECORD_META,
        pk="epmc_id", foreign_keys=RUN_FOREIGN_KEYS,
        indexes=(("pmid",), ("doi",), ("pmcid",), ("first_index_date",)),
        description='One row per Europe PMC record: PubMed, PMC, preprints (PPR), Agricola and others.'),
    "europepmc_authors": child(RECORD, {
        "position": (int, 'position in the byline, from 1'),
        "full_name": (str, "name as listed ('Schoenfeld JD')"),
        "first_name": (str, 'first name(s)'),
        "last_name": (str, 'last name'),
        "initials": (str, 'initials'),
        "collective_name": (str, "group author's name, for a collective"),
        "orcid": (str, 'ORCID iD, when given'),
        "affiliation": (str, "first affiliation listed (all of them are in the record's raw)"),
    }, ("epmc_id", "position"), 'Authors in byline order (core results only; lite results carry just '
                                'author_string).', indexes=(("orcid",),)),
    "europepmc_links": child(RECORD, {
        "kind": (str, "nct_text (NCT ID written in title or abstract), xref:<DB> (a database cross-references the "
                      "record), preprint (target is this record's preprint), published_as (target is this preprint's "
                      "published version), comment:<type> (e.g. comment:Erratum for)"),
        "target": (str, 'NCT01234567, an epmc_id (MED:38289242, PPR:PPR179288), or for xref the database name (search '
                        'results name the database only)'),
        "note": (str, "how Europe PMC made the link, when it says ('CrossRef Pre-print loader', 'Link created based on "
                      "a title-first author match')"),
    }, ("epmc_id", "kind", "target"), 'What a record points to: NCT IDs in its text, databases cross-referencing it, '
                                      'its preprint or published version, comments and corrections.',
        indexes=(("target",), ("kind",))),
    "europepmc_topics": topics_table(RECORD, "records"),
    "europepmc_changes": TableSpec({
        "id": (int, "row number (primary key)"),
        "epmc_id": (str, "Europe PMC record (kept after a deletion: no foreign key)"),
        "run_id": (int, "run that saw the change (foreign key to runs)"),
        "field": (str, "the europepmc_records column that changed: retracted, design, design_source"),
        "old_value": (str, "value before"),
        "new_value": (str, "value after"),
        "date_of_revision": (str, "the record's revision date in the copy that brought the change"),
    }, pk="id", foreign_keys=(("run_id", "runs", "id"),), indexes=(("epmc_id",), ("run_id",)),
        description="What changed in each Europe PMC record from one copy to the next (retractions, design)."),
}
FAMILY = Family("europepmc_records", "epmc_id", ("europepmc_authors", "europepmc_links"), "europepmc_topics",
                fts=("title", "abstract"), tables=TABLES)

# Its events: a core record retracted.
EVENTS = ("""
SELECT t.topic || ':europepmc_changes:' || c.id, t.topic, 'paper_retracted', c.run_id, c.epmc_id, e.title,
       c.old_value, c.new_value, c.field, e.url
FROM europepmc_changes c JOIN europepmc_topics t ON t.epmc_id = c.epmc_id AND t.relevance = 'core'
  AND c.run_id > t.live_run_id
LEFT JOIN europepmc_records e ON e.epmc_id = c.epmc_id
WHERE c.field = 'retracted' AND c.new_value = '1'""",)
