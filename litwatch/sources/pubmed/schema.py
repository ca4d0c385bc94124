"""The tables the PubMed source writes: one row per record in ``articles`` and its child
tables (authors, investigators, MeSH, publication types, references...), the topics each
record belongs to, and the deletions PubMed announced.

The order of the content columns here is the order in which the parser
(:mod:`litwatch.sources.pubmed.parse`) emits each row's values.
"""

from __future__ import annotations

from ...store.spec import RECORD_META, RUN_FOREIGN_KEYS, Family, TableSpec, child, topics_table

ARTICLE = ("pmid", "articles", int, "article (foreign key)")
DERIVED: dict[str, tuple[type, str]] = {
    "design": (str, "study design (meta-analysis, systematic review, randomized controlled trial, non-randomized "
                    "controlled trial, single-arm / open-label trial, observational study, case report / case series, "
                    "narrative review, study protocol, preclinical (animal or in vitro), commentary / editorial / "
                    "letter, other)"),
    "design_source": (str, "how the design is known: publication_type or mesh (indexed by NLM), text (inferred "
                           "from title/abstract wording, for records not yet indexed) or default"),
    "retracted": (int, "1 when the paper is retracted (publication type Retracted Publication, or a RetractionIn "
                       "notice); kept, but left out of evidence counts"),
    "corrected": (int, "1 when an erratum or a corrected republication exists (ErratumIn, "
                       "CorrectedandRepublishedIn)"),
    "derived_hash": (str, "record_hash the derived columns were computed from"),
}
# Where the record's own XML is kept: a compressed block of raw_blocks, and the record's
# place in it once decompressed.
RAW: dict[str, tuple[type, str]] = {
    "raw_block": (int, "raw_blocks row holding the record's XML as received"),
    "raw_offset": (int, "where the record's XML starts in its block, decompressed"),
    "raw_length": (int, "length in bytes of the record's XML"),
}

TABLES: dict[str, TableSpec] = {
    "articles": TableSpec(
        {
            "pmid": (int, "PubMed ID (primary key)"),
            "pmid_version": (int, "version of the record (1 unless the journal versions its articles)"),
            "title": (str, "article title, inline markup kept as its text; the vernacular title when the record "
                           "has no English one"),
            "vernacular_title": (str, "title in the article's original language, when given"),
            "abstract": (str, "abstract; structured sections as 'LABEL: text', one per line; when the record has "
                              "none, its other abstract (the English one if several; see article_other_abstracts)"),
            "abstract_copyright": (str, "copyright statement of the abstract"),
            "journal": (str, "journal title"),
            "journal_iso": (str, "ISO (or MEDLINE) journal abbreviation"),
            "issn": (str, "journal ISSN as printed on the record"),
            "issn_linking": (str, "linking ISSN"),
            "nlm_unique_id": (str, "NLM catalog ID of the journal"),
            "journal_country": (str, "journal's country of publication"),
            "volume": (str, "volume"),
            "issue": (str, "issue"),
            "pages": (str, "pages (MedlinePgn)"),
            "pub_date": (str, "publication date, ISO, as precise as given (2021, 2021-06 or 2021-06-01)"),
            "pub_year": (int, "publication year"),
            "pub_season": (str, "season of publication when the record gives one instead of a month (Spring...)"),
            "medline_date": (str, "the raw MedlineDate when the source gave one ('1998 Dec-1999 Jan')"),
            "article_date": (str, "electronic publication date"),
            "doi": (str, "DOI, from the record's own ArticleIdList, else its ELocationID"),
            "pmc_id": (str, "PubMed Central ID, from the ArticleIdList or (older records) an OtherID of source NLM"),
            "pii": (str, "publisher item identifier"),
            "language": (str, "first language of the article (ISO 639-2, e.g. eng)"),
            "languages": (str, "JSON array of all languages; NULL when none (as every JSON array column)"),
            "publication_status": (str, "ppublish, epublish or aheadofprint"),
            "medline_status": (str, "MEDLINE, PubMed-not-MEDLINE, In-Process, Publisher..."),
            "citation_subsets": (str, "JSON array of NLM citation subsets (IM = Index Medicus...)"),
            "coi_statement": (str, "the authors' conflict-of-interest statement"),
            "date_completed": (str, "date NLM completed indexing"),
            "date_revised": (str, "date NLM last revised the record"),
            "entrez_date": (str, "date the record entered PubMed"),
            "pubmed_date": (str, "PubMed publication date (history status 'pubmed')"),
        } | DERIVED | RECORD_META | RAW,
        pk="pmid", foreign_keys=RUN_FOREIGN_KEYS,
        # design: Datasette's default facets (design, pub_year) count an index, not every row
        # (over a million records: a tenth of a second instead of a second).
        indexes=(("pub_year",), ("doi",), ("design",)),
        description="One row per PubMed record: the newest copy litwatch has seen."),
    "article_authors": child(ARTICLE, {
        "position": (int, "1-based byline position"),
        "last_name": (str, "family name"),
        "fore_name": (str, "given names"),
        "initials": (str, "initials"),
        "suffix": (str, "suffix (Jr, 3rd...)"),
        "collective_name": (str, "group author name, when the author is a collective"),
        "affiliation": (str, "first affiliation"),
        "affiliations": (str, "JSON array of all affiliations"),
        "affiliation_ids": (str, "JSON array of the affiliations' identifiers ({source, id}: ROR, GRID, ISNI...)"),
        "orcid": (str, "ORCID iD, normalized to 0000-0000-0000-0000"),
        "equal_contrib": (int, "1 when marked as equal contributor"),
    }, ("pmid", "position"), "Authors in byline order.", indexes=(("orcid",),)),
    "article_investigators": child(ARTICLE, {
        "position": (int, "1-based position in the investigator list"),
        "last_name": (str, "family name"),
        "fore_name": (str, "given names"),
        "initials": (str, "initials"),
        "suffix": (str, "suffix"),
        "affiliation": (str, "first affiliation"),
        "affiliations": (str, "JSON array of all affiliations"),
        "orcid": (str, "ORCID iD, normalized"),
    }, ("pmid", "position"), "Investigators (collaborators of a group author, not authors themselves)."),
    "article_mesh": child(ARTICLE, {
        "position": (int, "order on the record"),
        "descriptor_ui": (str, "MeSH descriptor ID (D...); empty for MEDLINE-text imports"),
        "descriptor_name": (str, "MeSH heading"),
        "major_topic": (int, "1 when the descriptor or one of its qualifiers is a major topic"),
        "qualifiers": (str, "JSON array of {ui, name, major_topic}"),
    }, ("pmid", "position"), "MeSH descriptors with their qualifiers."),
    "article_supplementary_mesh": child(ARTICLE, {
        "position": (int, "order on the record"),
        "ui": (str, "supplementary concept ID (C...)"),
        "name": (str, "supplementary concept (a drug such as esketamine, a protocol, a disease...)"),
        "type": (str, "Chemical, Protocol, Disease or Organism"),
    }, ("pmid", "position"), "Supplementary MeSH concepts (SupplMeshList)."),
    "article_publication_types": child(ARTICLE, {
        "ui": (str, "publication type ID (D...)"),
        "name": (str, "publication type (Journal Article, Randomized Controlled Trial, Review...)"),
    }, ("pmid", "name"), "Publication types (Journal Article, RCT...)."),
    "article_keywords": child(ARTICLE, {
        "keyword": (str, "keyword"),
        "owner": (str, "who assigned it (NOTNLM = author, NLM...)"),
        "major_topic": (int, "1 when marked major"),
    }, ("pmid", "keyword"), "Author and NLM keywords."),
    "article_chemicals": child(ARTICLE, {
        "registry_number": (str, "CAS / UNII / EC number ('0' when none)"),
        "ui": (str, "MeSH ID of the substance"),
        "name": (str, "substance name"),
    }, ("pmid", "name"), "Substances indexed for the record."),
    "article_grants": child(ARTICLE, {
        "position": (int, "order on the record"),
        "grant_id": (str, "grant number"),
        "acronym": (str, "institute acronym"),
        "agency": (str, "funding agency"),
        "country": (str, "agency country"),
    }, ("pmid", "position"), "Funding grants."),
    "article_databanks": child(ARTICLE, {
        "databank": (str, "databank name (ClinicalTrials.gov, ISRCTN, GENBANK...)"),
        "accession": (str, "accession number (e.g. NCT04771767)"),
    }, ("pmid", "databank", "accession"), "DataBank accession numbers (e.g. ClinicalTrials.gov NCT IDs).",
        indexes=(("accession",),)),
    "article_ids": child(ARTICLE, {
        "id_type": (str, "pubmed, doi, pmc, pii, mid... (from the ArticleIdList); other:<source> for an OtherID"),
        "value": (str, "the identifier"),
    }, ("pmid", "id_type", "value"), "Identifiers of the record itself (pubmed, doi, pmc, pii, mid...).",
        indexes=(("value",),)),
    "article_comments": child(ARTICLE, {
        "position": (int, "order on the record"),
        "ref_type": (str, "CommentOn, CommentIn, ErratumIn, RetractionIn, RetractionOf, UpdateOf..."),
        "ref_pmid": (int, "PMID of the other record, when given"),
        "ref_source": (str, "citation of the other record"),
        "note": (str, "NLM note"),
    }, ("pmid", "position"), "Comments and corrections (RetractionIn, ErratumIn, CommentOn...).",
        indexes=(("ref_pmid",), ("ref_type",))),
    "article_history": child(ARTICLE, {
        "position": (int, "order on the record"),
        "status": (str, "received, revised, accepted, entrez, pubmed, medline..."),
        "date": (str, "ISO date"),
    }, ("pmid", "position"), "Publication history dates (received, accepted, entrez, pubmed...), repeats kept."),
    "article_other_abstracts": child(ARTICLE, {
        "position": (int, "order on the record"),
        "type": (str, "who wrote it: Publisher, AAMC, NASA, KIE..."),
        "language": (str, "language of the abstract (ISO 639-2)"),
        "copyright": (str, "its copyright statement"),
        "abstract": (str, "the abstract, sections as 'LABEL: text', one per line"),
    }, ("pmid", "position"), "Other abstracts (OtherAbstract): other languages, publishers' plain-language "
                             "summaries..."),
    "article_references": child(ARTICLE, {
        "position": (int, "order in the reference list(s)"),
        "citation": (str, "the reference as cited"),
        "ref_pmid": (int, "PubMed ID of the cited work, when given"),
        "ref_doi": (str, "DOI of the cited work, when given"),
        "ref_pmc": (str, "PubMed Central ID of the cited work, when given"),
    }, ("pmid", "position"), "The reference list: what the paper cites.", indexes=(("ref_pmid",),)),
    "article_topics": topics_table(ARTICLE, "records"),
    "article_deletions": TableSpec(
        {
            "pmid": (int, "PubMed ID PubMed deleted (primary key)"),
            "as_of": (str, "date of the deletion: the newest DateRevised of the file that announced it (else "
                           "the day it was applied); only a copy revised after it brings the record back"),
            "run_id": (int, "run that applied the deletion (foreign key to runs)"),
            "title": (str, "the record's title when it was deleted, if it was stored"),
            "topics": (str, "JSON array of the topics the record was core to when it was deleted"),
        },
        pk="pmid", foreign_keys=(("run_id", "runs", "id"),),
        description="Deletions PubMed announced (DeleteCitation): a record stays deleted when an older file "
                    "that still holds it is imported later."),
    "article_changes": TableSpec(
        {
            "id": (int, "row number (primary key)"),
            "pmid": (int, "PubMed ID (kept after a deletion: no foreign key)"),
            "run_id": (int, "run that saw the change (foreign key to runs)"),
            "field": (str, "the articles column that changed: pmid_version (a new version), medline_status "
                           "(In-Process -> MEDLINE: indexed), publication_status, design, design_source (text -> "
                           "publication_type or mesh: the design is now indexed), retracted, corrected"),
            "old_value": (str, "value before"),
            "new_value": (str, "value after"),
            "date_revised": (str, "the record's DateRevised in the copy that brought the change"),
        },
        pk="id", foreign_keys=(("run_id", "runs", "id"),), indexes=(("pmid",), ("run_id",)),
        description="What changed in each PubMed record from one copy to the next: retractions, corrections, "
                    "new versions, indexing."),
}
FAMILY = Family("articles", "pmid",
                tuple(n for n in TABLES if n.startswith("article_")
                      and n not in ("article_topics", "article_deletions", "article_changes")),
                "article_topics", fts=("title", "abstract"), tables=TABLES)

# Its events: a core paper retracted, corrected, in a new version, its design now indexed;
# a paper deleted from PubMed.
EVENTS = ("""
SELECT t.topic || ':article_changes:' || c.id, t.topic,
       CASE c.field WHEN 'retracted' THEN 'paper_retracted' WHEN 'corrected' THEN 'paper_corrected'
            WHEN 'pmid_version' THEN 'paper_new_version' ELSE 'paper_indexed' END,
       c.run_id, 'PMID:' || c.pmid, coalesce(a.title, (SELECT d.title FROM article_deletions d WHERE d.pmid = c.pmid)),
       c.old_value, c.new_value, c.field, 'https://pubmed.ncbi.nlm.nih.gov/' || c.pmid || '/'
FROM article_changes c
JOIN (SELECT pmid, topic, live_run_id FROM article_topics WHERE relevance = 'core'
      UNION SELECT d.pmid, j.value, 0 FROM article_deletions d JOIN json_each(coalesce(d.topics, '[]')) j) t
  ON t.pmid = c.pmid AND c.run_id > t.live_run_id
LEFT JOIN articles a ON a.pmid = c.pmid
WHERE (c.field IN ('retracted', 'corrected') AND c.new_value = '1') OR c.field = 'pmid_version'
   OR (c.field = 'design_source' AND c.new_value IN ('publication_type', 'mesh')
       AND coalesce(c.old_value, '') = 'text')""", """
SELECT 'deleted:' || j.value || ':PMID:' || d.pmid, j.value, 'paper_deleted', d.run_id, 'PMID:' || d.pmid, d.title,
       NULL, NULL, d.as_of, 'https://pubmed.ncbi.nlm.nih.gov/' || d.pmid || '/'
FROM article_deletions d JOIN json_each(coalesce(d.topics, '[]')) j""")
