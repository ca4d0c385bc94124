"""Europe PMC as a litwatch source: ``/search`` walked with ``cursorMark`` (incremental runs
by first-index or update date), records fetched by ``SOURCE:ID``, and saved search
responses imported from files. Preprints (source PPR) are first-class records; records with
a PMID are the same papers as PubMed's, and the ``papers`` view shows each once."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import urllib.parse
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Iterator

from ...errors import ParseError, UnknownFormat
from ...files import MAX_JSON_BYTES
from ...files import JSON
from ...store.db import query
from ...store.writes import History, Prepared, Writer
from ...settings import SourceSettings, Topic
from .. import all_sources
from ..base import Batch, Listing, PaperArm, Search, Source, cited_author, grouped, in_keys, parse_each
from ..checks import json_value
from . import LABEL
from .schema import EVENTS, FAMILY, TABLES

if TYPE_CHECKING:
    from ...paging import PageWalk
    from ...http import Deadline, HttpClient
    from .client import EuropePmcClient

log = logging.getLogger(__name__)

DEFAULT_URL = "https://www.ebi.ac.uk/europepmc/webservices/rest"
# Europe PMC: the same two concepts in titles and abstracts, over every source it indexes
# (PubMed, PMC, preprint servers...); its records from PubMed are the PubMed papers.
BUILTIN_QUERY = (
    '(TITLE_ABS:(ketamine OR esketamine OR arketamine OR spravato))'
    ' AND (TITLE_ABS:(PTSD OR "posttraumatic stress" OR "post-traumatic stress" OR "post traumatic stress"'
    ' OR "combat stress"))'
)
IMPORT_BATCH = 500
# A saved file is Europe PMC's when its first bytes show a search page or a result (whose
# "source" is a three-letter code such as MED or PPR).
_MARKERS = re.compile(rb'"(resultList|hitCount)"|"source"\s*:\s*"[A-Z]{3}"')


_CONTENT = FAMILY.content()
REVISED, INDEXED = _CONTENT.index("date_of_revision"), _CONTENT.index("first_index_date")
TITLE, ABSTRACT = _CONTENT.index("title"), _CONTENT.index("abstract")
TYPES, MESH = _CONTENT.index("pub_types"), _CONTENT.index("mesh")
RESULT_TYPE = _CONTENT.index("result_type")
_SHAPES = {"idlist": 1, "lite": 2, "core": 3}
_LINK_KIND = TABLES["europepmc_links"].names.index("kind")


def derive(p: Prepared) -> tuple:
    """Design (from its publication types and MeSH, else its wording) and retraction."""
    from ...designs import ArticleFacts, classify_article

    names = {NLM_TYPES.get(t.lower(), t) for t in json.loads(p.row[TYPES] or "[]")}
    facts = ArticleFacts(p.row[TITLE] or "", p.row[ABSTRACT] or "", names, set(json.loads(p.row[MESH] or "[]")))
    design, basis = classify_article(facts)
    retracted = "Retracted Publication" in names or any(
        r[_LINK_KIND].lower() == "comment:retraction in" for r in p.children["europepmc_links"])
    return design, basis, int(retracted)


# A preprint DOI with a version suffix: "10.21203/rs.3.rs-6664819/v1".
_DOI_VERSION = re.compile(r"(.+)/v(\d+)", re.IGNORECASE)


def _paper_ids(conn: sqlite3.Connection) -> dict[str, str]:
    """Each stored Europe PMC record's paper (``PMID:`` for a record with a PubMed ID), and each
    stored PubMed record's as ``MED:<pmid>``, by the IDs Europe PMC's relations use."""
    out = {epmc_id: f"PMID:{pmid}" if pmid else epmc_id
           for epmc_id, pmid in conn.execute("SELECT epmc_id, pmid FROM europepmc_records")}
    for (pmid,) in conn.execute("SELECT pmid FROM papers WHERE pmid IN (SELECT CAST(substr(target, 5) AS INTEGER) "
                                "FROM europepmc_links WHERE kind = 'published_as' AND target LIKE 'MED:%')"):
        out[f"MED:{pmid}"] = f"PMID:{pmid}"  # a journal version another source holds
    return out


def _words(text: str | None) -> str:
    """A title as compared: lower case, letters and digits only."""
    return " ".join(re.findall(r"[a-z0-9]+", (text or "").lower()))


def _first_author(names: str | None) -> str:
    """The first author's family name from an author string ("Smith JA, Doe J." -> "smith")."""
    first = (names or "").split(",")[0].split()
    return first[0].lower() if first else ""


def _same_title_and_author(conn: sqlite3.Connection, preprint: dict[str, Any]) -> str | None:
    """The journal paper (not a preprint) with the preprint's title and first author, if one is
    stored: candidates found through the full-text indexes of the titles, then compared whole."""
    title, author = _words(preprint["title"]), _first_author(preprint["author_string"])
    words = title.split()
    if len(words) < 4 or not author:
        return None
    match = " ".join(f'"{w}"' for w in words[:12])
    for source in all_sources():  # every source whose records are papers, its titles indexed
        table, key = source.family.table, source.family.key
        if source.papers is None or "title" not in source.family.fts:
            continue
        rows = conn.execute(f"SELECT t.[{key}] FROM [{table}_fts] f JOIN [{table}] t ON t.rowid = f.rowid "
                            f"WHERE [{table}_fts] MATCH ? LIMIT 20", [f"title : ({match})"]).fetchall()
        for (key_value,) in rows:
            paper = query(conn, "SELECT paper_id, title, preprint FROM papers WHERE source = ? AND record_key = ?",
                          [source.name, str(key_value)])
            if not paper or paper[0]["preprint"] or _words(paper[0]["title"]) != title:
                continue
            first = source.authors(conn, [key_value]).get(key_value, [])
            if first and _first_author(first[0]) == author:
                return str(paper[0]["paper_id"])
    return None


def _rebuild(result: dict) -> Any:
    """A record's rows from its JSON document (a merged copy)."""
    from .parse import parse_result

    return parse_result(result)


class EuropePmcSource(Source):
    name = "europepmc"
    label = LABEL
    service = "Europe PMC REST API"
    unit = "records"
    # 2: result_type and cited_by_count; raw with its keys sorted
    parser_version = 2
    family = FAMILY
    tables = TABLES
    # When a record was revised: its dateOfRevision (core results only; lite and ID-list ones
    # state none, so they are never taken for newer). Copies are an ID list < lite < core result,
    # JSON documents laid over each other field by field.
    writer = Writer(FAMILY, recency_sql="date_of_revision", recency=lambda p: (p.row[REVISED],),
                    shape_sql="CASE result_type WHEN 'core' THEN 3 WHEN 'idlist' THEN 1 ELSE 2 END",
                    shape=lambda p: _SHAPES[p.row[RESULT_TYPE]], full_shape=3, document="raw", rebuild=_rebuild,
                    unhashed=("raw",), volatile=("cited_by_count",),
                    derived=("design", "design_source", "retracted"), derive=derive,
                    history=History("europepmc_changes", ("retracted", "design", "design_source"), "date_of_revision"))
    default_url = DEFAULT_URL
    url_key = "europepmc_url"
    url_env = "LITWATCH_EUROPEPMC_URL"
    query_help = ("Europe PMC search syntax (https://europepmc.org/searchsyntax): PubMed, PubMed Central,\n"
                  "preprint servers and more; preprints are kept apart in the report as not peer reviewed.")
    default_query = BUILTIN_QUERY
    main_tables = ("europepmc_records", "europepmc_topics")
    terms = ("Europe PMC terms of use (each article's own licence applies)", "https://europepmc.org/Copyright")
    # Its records are papers too: those with a PMID when PubMed lacks them, the others
    # (preprints...) by their Europe PMC ID.
    papers = PaperArm("e", pmid="pmid", own_id="e.epmc_id", cite_as="Europe PMC: {key}", columns={
        "doi": "e.doi", "title": "e.title", "abstract": "e.abstract",
        "journal": "coalesce(e.journal_iso, e.journal, e.preprint_server)", "volume": "e.volume", "issue": "e.issue",
        "pages": "e.pages", "pub_year": "e.pub_year", "published": "e.first_publication_date",
        "added": "e.first_index_date", "design": "e.design", "design_source": "e.design_source",
        "retracted": "coalesce(e.retracted, 0)", "corrected": "0", "preprint": "e.is_preprint",
        "server": "e.preprint_server", "url": "e.url"})
    events_sql = EVENTS
    table_options = {
        "europepmc_records": {"facets": ["source", "is_preprint", "preprint_server", "design", "pub_year"],
                              "sort_desc": "first_index_date", "label_column": "title"},
        "europepmc_topics": {"facets": ["topic", "relevance"]},
        "europepmc_links": {"facets": ["kind"]},
    }
    relevance_text_sql = """
SELECT e.epmc_id, coalesce(e.title, '') || ' ' || coalesce(e.abstract, '') || ' ' || coalesce(e.mesh, '') || ' ' ||
  coalesce(e.keywords, '') || ' ' || coalesce(e.chemicals, '')
FROM europepmc_records e WHERE 1"""
    relevance_key = "e.epmc_id"

    def client(self, settings: SourceSettings, http: "HttpClient | None" = None,
               budget: "Deadline | None" = None) -> "EuropePmcClient":
        from ...http import HttpClient
        from .client import REQUESTS_PER_SECOND, EuropePmcClient

        return EuropePmcClient(http or HttpClient(per_second=REQUESTS_PER_SECOND, budget=budget), settings.url)

    def probe_url(self, settings: SourceSettings) -> str:
        return f"{settings.url}/search?query=SRC:MED&format=json&pageSize=1&resultType=idlist"

    def search(self, client: "EuropePmcClient", topic: Topic, since: date | None) -> Search:
        from .client import query_for
        from .parse import parse_result

        from ...paging import PageWalk

        query = self.query_string(topic)
        walk = PageWalk(self.label, self.unit, token_name="cursor")
        pages = client.search_pages(query, since=since, walk=walk)
        first = next(pages)
        params: dict[str, Any] = {"query": query_for(query, since), "pages": 1}
        search = Search(first["hitCount"], params, iter(()))

        def batches() -> Iterator[Batch]:
            yield Batch.of(parse_each(parse_result, first["results"], "Europe PMC page 1, result"))
            for page in pages:
                params["pages"] += 1
                yield Batch.of(parse_each(parse_result, page["results"], f"Europe PMC page {params['pages']}, result"))
            yield from self._complete(client, params["query"], walk, search)

        search.batches = batches()
        return search

    def _complete(self, client: "EuropePmcClient", query: str, walk: "PageWalk", search: Search) -> Iterator[Batch]:
        """A walk of unknown size whose pages repeated records proves nothing: a repeated page
        may stand in for one never served. The search's IDs are then listed alone, the listing
        becomes what the search holds and what the walk missed is fetched by ID; a listing that
        does not add up either fails the run (what arrived is kept)."""
        from ...errors import IncompleteFetch
        from .parse import parse_result

        if search.expected is not None or not walk.repeats:
            return
        listing = client.ids(query)
        if not listing.adds_up():
            raise IncompleteFetch(f"{self.label} gave no count for the search and its pages repeated {walk.repeats} "
                                  f"records, and its ID listing does not add up either ({listing.progress()}): whether "
                                  f"records are missing cannot be told; what arrived is kept, the run is marked "
                                  f"failed and the next run will ask again")
        search.expected = listing.expected
        search.params["listed"] = len(listing.keys)
        missing = sorted(listing.keys - walk.keys)
        if missing:
            log.warning("Europe PMC: %d of the %d records the search holds were not served while paging (%d "
                        "repeats); fetching them by ID", len(missing), len(listing.keys), walk.repeats)
            search.params["fetched_by_id"] = len(missing)
            yield Batch.of(parse_each(parse_result, client.search_ids(missing), "Europe PMC record fetched by ID"))

    def listing(self, client: "EuropePmcClient", topic: Topic) -> Listing:
        """The records of the search, listed alone (``resultType=idlist`` pages)."""
        return Listing.of(client.ids(self.query_string(topic)))

    def record_ids(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, tuple[str, str | None, str | None]]:
        out: dict[Any, tuple[str, str | None, str | None]] = {}
        for where, params in in_keys("epmc_id", keys):
            for epmc_id, title, url in conn.execute(
                    f"SELECT epmc_id, title, url FROM europepmc_records WHERE 1{where}", params):
                out[epmc_id] = (epmc_id, title, url)
        return out

    def citation(self, conn: sqlite3.Connection, key: Any) -> dict[str, Any]:
        """Its record, a preprint as one (with its server and version), MeSH as keywords."""
        e = query(conn, "SELECT * FROM europepmc_records WHERE epmc_id = ?", [key])[0]
        authors = [cited_author(*a) for a in conn.execute(
            "SELECT last_name, first_name, collective_name FROM europepmc_authors WHERE epmc_id = ? ORDER BY position",
            [key]) if a[0] or a[2]]
        if not authors and e["author_string"]:  # lite records carry the byline as "Surname Initials, ..."
            authors = [", ".join(name.strip().rsplit(" ", 1)) for name in e["author_string"].rstrip(".").split(",")
                       if name.strip()]
        preprint = bool(e["is_preprint"])
        return {**e, "kind": "preprint" if preprint else "journal-article", "server": e["preprint_server"],
                "version": e["preprint_version"], "posted_date": e["first_publication_date"],
                "pub_date": e["first_publication_date"], "authors": authors, "url": e["url"],
                "keywords": json.loads(e["mesh"] or "[]")}

    def search_url(self, query: Any) -> str | None:
        return "https://europepmc.org/search?" + urllib.parse.urlencode({"query": query})

    def authors(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, list[str]]:
        """From the author list of a core result, else the author string a lite result carries."""
        out = grouped(conn, "SELECT epmc_id, coalesce(full_name, collective_name) FROM europepmc_authors "
                            "WHERE 1{where} ORDER BY epmc_id, position", "epmc_id", keys)
        rest = [k for k in keys if k not in out]
        for key, names in grouped(conn, "SELECT epmc_id, author_string FROM europepmc_records WHERE author_string "
                                        "IS NOT NULL{where}", "epmc_id", rest).items():
            out[key] = [n.strip() for n in names[0].rstrip(".").split(",") if n.strip()]
        return out

    def fetch_ids(self, client: "EuropePmcClient", ids: list[Any]) -> Iterator[Batch]:
        from .parse import parse_result

        for i in range(0, len(ids), IMPORT_BATCH):
            yield Batch.of(parse_each(parse_result, client.search_ids(ids[i:i + IMPORT_BATCH]),
                                      "Europe PMC records by ID, result"))

    def missing_links(self, conn: sqlite3.Connection) -> list[Any]:
        """The journal versions and preprints the topics' records name, not stored yet (by any
        source: a journal version that PubMed holds is not asked for again)."""
        return [row[0] for row in conn.execute(
            "SELECT DISTINCT l.target FROM europepmc_links l JOIN europepmc_topics t ON t.epmc_id = l.epmc_id "
            "WHERE l.kind IN ('preprint', 'published_as') AND l.target NOT IN (SELECT epmc_id FROM europepmc_records) "
            "AND NOT (l.target LIKE 'MED:%' AND EXISTS (SELECT 1 FROM papers p "
            "WHERE p.pmid = CAST(substr(l.target, 5) AS INTEGER))) "
            "ORDER BY l.target")]

    def versions(self, conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        """Preprints that are earlier versions of stored papers: by Europe PMC's own relations
        ("Preprint of" / "Preprint in"), by the same preprint DOI with another version suffix
        (Research Square's ``.../v1``, ``.../v2``: the newest stands for the others), else by the
        same title and first author as a stored journal paper."""
        stored = _paper_ids(conn)
        out: dict[str, tuple[str, str, str]] = {}
        for epmc_id, kind, target in conn.execute(
                "SELECT epmc_id, kind, target FROM europepmc_links WHERE kind IN ('preprint', 'published_as')"):
            preprint, published = (target, epmc_id) if kind == "preprint" else (epmc_id, target)
            paper = stored.get(published)
            if paper and preprint in stored:
                out[preprint] = (paper, preprint, "europepmc")
        preprints = query(conn, "SELECT epmc_id, doi, title, author_string, preprint_version FROM europepmc_records "
                                "WHERE is_preprint = 1 AND pmid IS NULL")
        families: dict[str, list[dict[str, Any]]] = {}
        for p in preprints:
            match = _DOI_VERSION.fullmatch(p["doi"] or "")
            if match:
                families.setdefault(match.group(1), []).append(dict(p, v=int(match.group(2))))
        for versions in families.values():
            newest = max(versions, key=lambda p: (p["v"], p["preprint_version"] or 0))
            for p in versions:
                if p is not newest and p["epmc_id"] not in out:
                    out[p["epmc_id"]] = (newest["epmc_id"], p["epmc_id"], "doi_version")
        for p in preprints:
            if p["epmc_id"] not in out and p["title"]:
                paper = _same_title_and_author(conn, p)
                if paper:
                    out[p["epmc_id"]] = (paper, p["epmc_id"], "title_author")
        return sorted(out.values())

    def links(self, conn: sqlite3.Connection, keys: list[Any] | None = None) -> None:
        """NCT IDs written in a record's title or abstract."""
        for where, params in in_keys("e.epmc_id", keys):
            conn.execute("DELETE FROM paper_trial_links WHERE source = 'europepmc_text' AND paper_id IN "
                         f"(SELECT coalesce('PMID:' || e.pmid, e.epmc_id) FROM europepmc_records e WHERE 1{where})",
                         params)
            conn.execute(
                "INSERT OR IGNORE INTO paper_trial_links (paper_id, nct_id, source, reference_type, pmid) "
                "SELECT coalesce('PMID:' || e.pmid, e.epmc_id), l.target, 'europepmc_text', NULL, e.pmid "
                "FROM europepmc_links l JOIN europepmc_records e ON e.epmc_id = l.epmc_id "
                f"WHERE l.kind = 'nct_text'{where}", params)

    def reparse(self, conn: sqlite3.Connection) -> Iterator[list[Prepared]]:
        from ...store.writes import prepare
        from .parse import parse_result

        rows = conn.execute("SELECT raw FROM europepmc_records ORDER BY epmc_id").fetchall()
        for i in range(0, len(rows), IMPORT_BATCH):
            # A malformed record (stored by a version that let one in) is kept as stored.
            batch = Batch.of(parse_each(parse_result, (json.loads(r[0]) for r in rows[i:i + IMPORT_BATCH]),
                                        "reparse of stored record", i + 1))
            yield prepare(self.writer, batch.records)

    def reads(self, fmt: str, head: bytes) -> bool:
        return fmt == JSON and bool(_MARKERS.search(head)) and b'"protocolSection"' not in head

    def read(self, fmt: str, stream: IO[bytes], name: str) -> Iterator[Batch]:
        from .parse import parse_result, results_from_json

        body = stream.read(MAX_JSON_BYTES + 1)
        if len(body) > MAX_JSON_BYTES:
            raise ParseError(f"{name}: JSON larger than {MAX_JSON_BYTES >> 20} MB; save the pages apart")
        try:
            results, _ = results_from_json(json_value(body))
        except ParseError as e:
            raise ParseError(f"{name}: {e}") from None
        except UnknownFormat as e:
            raise UnknownFormat(f"{name}: {e}") from None
        for i in range(0, len(results), IMPORT_BATCH):
            yield Batch.of(parse_each(parse_result, results[i:i + IMPORT_BATCH], f"{name}: result", i + 1))


def _nlm_types() -> dict[str, str]:
    """Europe PMC writes publication types in any case ("journal article", "Randomized
    Controlled Trial"); the design rules use NLM's spelling."""
    from ...designs import PUBLICATION_TYPE_DESIGNS

    return {name.lower(): name for name, _ in PUBLICATION_TYPE_DESIGNS} | {
        "retracted publication": "Retracted Publication", "preprint": "Preprint"}


NLM_TYPES = _nlm_types()
SOURCE = EuropePmcSource()
