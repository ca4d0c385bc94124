"""The tables the PubMed source writes: one row per record in ``articles`` and its child
tables (authors, MeSH, publication types...), and the topics each record belongs to."""

from __future__ import annotations

from ...store.spec import RECORD_META, RUN_FOREIGN_KEYS, Family, TableSpec, child

ARTICLE = ("pmid", "articles", int, "article (foreign key)")
DERIVED: dict[str, tuple[type, str]] = {
    "design": (str, 'study design (meta-analysis, systematic review, randomized controlled trial, non-randomized controlled trial, single-arm / open-label trial, observational study, case report / case series, narrative review, study protocol, preclinical (animal or in vitro), commentary / editorial / letter, other)'),
    "design_source": (str, 'rule that decided the design: publication_type, mesh, text (title/abstract wording, for records not yet indexed) or default'),
    "retracted": (int, '1 when the paper is retracted (publication type Retracted Publication, or a RetractionIn notice); kept, but left out of evidence counts'),
    "corrected": (int, '1 when an erratum or a corrected republication exists (ErratumIn, CorrectedandRepublishedIn)'),
    "derived_hash": (str, 'record_hash the derived columns were computed from'),
}

TABLES: dict[str, TableSpec] = {
    "articles": TableSpec(
        {
        "pmid": (int, 'PubMed ID (primary key)'),
        "title": (str, 'article title, inline markup kept as its text'),
        "abstract": (str, "abstract; structured sections as 'LABEL: text', one per line"),
        "abstract_copyright": (str, 'copyright statement of the abstract'),
        "journal": (str, 'journal title'),
        "journal_iso": (str, 'ISO (or MEDLINE) journal abbreviation'),
        "issn": (str, 'journal ISSN as printed on the record'),
        "issn_linking": (str, 'linking ISSN'),
        "nlm_unique_id": (str, 'NLM catalog ID of the journal'),
        "journal_country": (str, "journal's country of publication"),
        "volume": (str, 'volume'),
        "issue": (str, 'issue'),
        "pages": (str, 'pages (MedlinePgn)'),
        "pub_date": (str, 'publication date, ISO, as precise as given (2021, 2021-06 or 2021-06-01)'),
        "pub_year": (int, 'publication year'),
        "medline_date": (str, "the raw MedlineDate when the source gave one ('1998 Dec-1999 Jan')"),
        "article_date": (str, 'electronic publication date'),
        "doi": (str, "DOI, from the record's own ArticleIdList, else its ELocationID"),
        "pmc_id": (str, 'PubMed Central ID'),
        "pii": (str, 'publisher item identifier'),
        "language": (str, 'first language of the article (ISO 639-2, e.g. eng)'),
        "languages": (str, 'JSON array of all languages'),
        "publication_status": (str, 'ppublish, epublish or aheadofprint'),
        "medline_status": (str, 'MEDLINE, PubMed-not-MEDLINE, In-Process, Publisher...'),
        "date_completed": (str, 'date NLM completed indexing'),
        "date_revised": (str, 'date NLM last revised the record'),
        "entrez_date": (str, 'date the record entered PubMed'),
        "pubmed_date": (str, "PubMed publication date (history status 'pubmed')"),
        } | DERIVED | RECORD_META,
        pk='pmid', foreign_keys=RUN_FOREIGN_KEYS,
        indexes=(('pub_year',), ('doi',), ('design',)),
        description='One row per PubMed record.'),
    "article_authors": child(ARTICLE, {
        "position": (int, '1-based byline position'),
        "last_name": (str, 'family name'),
        "fore_name": (str, 'given names'),
        "initials": (str, 'initials'),
        "suffix": (str, 'suffix (Jr, 3rd...)'),
        "collective_name": (str, 'group author name, when the author is a collective'),
        "affiliation": (str, 'first affiliation'),
        "affiliations": (str, 'JSON array of all affiliations'),
        "orcid": (str, 'ORCID iD, normalized to 0000-0000-0000-0000'),
        "equal_contrib": (int, '1 when marked as equal contributor'),
    }, ('pmid', 'position'), 'Authors in byline order.', indexes=(('orcid',),)),
    "article_mesh": child(ARTICLE, {
        "position": (int, 'order on the record'),
        "descriptor_ui": (str, 'MeSH descriptor ID (D...); empty for MEDLINE-text imports'),
        "descriptor_name": (str, 'MeSH heading'),
        "major_topic": (int, '1 when the descriptor or one of its qualifiers is a major topic'),
        "qualifiers": (str, 'JSON array of {ui, name, major_topic}'),
    }, ('pmid', 'position'), 'MeSH descriptors with their qualifiers.'),
    "article_publication_types": child(ARTICLE, {
        "ui": (str, 'publication type ID (D...)'),
        "name": (str, 'publication type (Journal Article, Randomized Controlled Trial, Review...)'),
    }, ('pmid', 'name'), 'Publication types (Journal Article, RCT...).'),
    "article_keywords": child(ARTICLE, {
        "keyword": (str, 'keyword'),
        "owner": (str, 'who assigned it (NOTNLM = author, NLM...)'),
        "major_topic": (int, '1 when marked major'),
    }, ('pmid', 'keyword'), 'Author and NLM keywords.'),
    "article_chemicals": child(ARTICLE, {
        "registry_number": (str, "CAS / UNII / EC number ('0' when none)"),
        "ui": (str, 'MeSH ID of the substance'),
        "name": (str, 'substance name'),
    }, ('pmid', 'name'), 'Substances indexed for the record.'),
    "article_grants": child(ARTICLE, {
        "position": (int, 'order on the record'),
        "grant_id": (str, 'grant number'),
        "acronym": (str, 'institute acronym'),
        "agency": (str, 'funding agency'),
        "country": (str, 'agency country'),
    }, ('pmid', 'position'), 'Funding grants.'),
    "article_databanks": child(ARTICLE, {
        "databank": (str, 'databank name (ClinicalTrials.gov, ISRCTN, GENBANK...)'),
        "accession": (str, 'accession number (e.g. NCT04771767)'),
    }, ('pmid', 'databank', 'accession'), 'DataBank accession numbers (e.g. ClinicalTrials.gov NCT IDs).', indexes=(('accession',),)),
    "article_ids": child(ARTICLE, {
        "id_type": (str, 'pubmed, doi, pmc, pii, mid...'),
        "value": (str, 'the identifier'),
    }, ('pmid', 'id_type', 'value'), 'Identifiers of the record itself (pubmed, doi, pmc, pii, mid...).', indexes=(('value',),)),
    "article_comments": child(ARTICLE, {
        "position": (int, 'order on the record'),
        "ref_type": (str, 'CommentOn, CommentIn, ErratumIn, RetractionIn, RetractionOf, UpdateOf...'),
        "ref_pmid": (int, 'PMID of the other record, when given'),
        "ref_source": (str, 'citation of the other record'),
        "note": (str, 'NLM note'),
    }, ('pmid', 'position'), 'Comments and corrections (RetractionIn, ErratumIn, CommentOn...).', indexes=(('ref_pmid',), ('ref_type',))),
    "article_history": child(ARTICLE, {
        "status": (str, 'received, revised, accepted, entrez, pubmed, medline...'),
        "date": (str, 'ISO date'),
    }, ('pmid', 'status'), 'Publication history dates (received, accepted, entrez, pubmed...).'),
    "article_topics": child(ARTICLE, {
        "topic": (str, 'topic name'),
        "relevance": (str, "core (both of the topic's concepts appear in title, abstract, MeSH or keywords) or peripheral (brought by the topic's query or import, not core)"),
        "first_run_id": (int, 'run whose fetch or tagged import brought the record in (empty when only concept matching placed it in the topic)'),
    }, ('pmid', 'topic'), 'The records of each topic and how central they are to it.', indexes=(('topic',),)),
}
FAMILY = Family("articles", "pmid", tuple(n for n in TABLES if n not in ("articles", "article_topics")),
                "article_topics", fts=("title", "abstract"))
