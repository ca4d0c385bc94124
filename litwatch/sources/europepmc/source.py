"""Europe PMC as a litwatch source: ``/search`` walked with ``cursorMark`` (incremental runs
by first-index or update date), records fetched by ``SOURCE:ID``, and saved search
responses imported from files. Preprints (source PPR) are first-class records; records with
a PMID are the same papers as PubMed's, and the ``papers`` view shows each once."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Iterator

from ...errors import ParseError, UnknownFormat
from ...files import MAX_JSON_BYTES
from ...files import JSON
from ...store.writes import History, Prepared, Writer
from ..base import Batch, Listing, Search, Source, in_keys, parse_each
from ..checks import json_value
from .schema import FAMILY, TABLES

if TYPE_CHECKING:
    from ...config import Config, Topic
    from ...http import Deadline, HttpClient
    from .client import EuropePmcClient

DEFAULT_URL = "https://www.ebi.ac.uk/europepmc/webservices/rest"
IMPORT_BATCH = 500
# A saved file is Europe PMC's when its first bytes show a search page or a result (whose
# "source" is a three-letter code such as MED or PPR).
_MARKERS = re.compile(rb'"(resultList|hitCount)"|"source"\s*:\s*"[A-Z]{3}"')


_CONTENT = FAMILY.content(TABLES)
REVISED, INDEXED = _CONTENT.index("date_of_revision"), _CONTENT.index("first_index_date")
TITLE, ABSTRACT = _CONTENT.index("title"), _CONTENT.index("abstract")
TYPES, MESH = _CONTENT.index("pub_types"), _CONTENT.index("mesh")
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


def rank(p: Prepared, stored: tuple) -> int:
    """Which copy of a record is newer: the later revision date (``dateOfRevision``, else the
    first index date); without one, the later arrival."""
    mine = p.row[REVISED] or p.row[INDEXED]
    theirs = stored[0]
    if mine and theirs and mine != theirs:
        return 1 if mine > theirs else -1
    return 0


class EuropePmcSource(Source):
    name = "europepmc"
    label = "Europe PMC"
    service = "Europe PMC REST API"
    unit = "records"
    family = FAMILY
    tables = TABLES
    writer = Writer(FAMILY, rank_sql="coalesce(date_of_revision, first_index_date)", rank=rank,
                    rank_values=lambda p: (p.row[REVISED] or p.row[INDEXED],),
                    derived=("design", "design_source", "retracted"), derive=derive,
                    history=History("europepmc_changes", ("retracted", "design", "design_source"), "date_of_revision"))
    default_url = DEFAULT_URL
    url_key = "europepmc_url"
    url_env = "LITWATCH_EUROPEPMC_URL"
    query_help = ("Europe PMC search syntax (https://europepmc.org/searchsyntax): PubMed, PubMed Central,\n"
                  "preprint servers and more; preprints are kept apart in the report as not peer reviewed.")
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

    def client(self, config: "Config", http: "HttpClient | None" = None,
               budget: "Deadline | None" = None) -> "EuropePmcClient":
        from ...http import HttpClient
        from .client import REQUESTS_PER_SECOND, EuropePmcClient

        return EuropePmcClient(http or HttpClient(per_second=REQUESTS_PER_SECOND, budget=budget), self.url(config))

    def probe_url(self, config: "Config") -> str:
        return f"{self.url(config)}/search?query=SRC:MED&format=json&pageSize=1&resultType=idlist"

    def search(self, client: "EuropePmcClient", topic: "Topic", since: date | None) -> Search:
        from .client import query_for
        from .parse import parse_result

        query = self.query_string(topic)
        pages = client.search_pages(query, since=since)
        first = next(pages)
        params: dict[str, Any] = {"query": query_for(query, since), "pages": 1}

        def batches() -> Iterator[Batch]:
            yield Batch.of(parse_each(parse_result, first["results"], "Europe PMC page 1, result"))
            for page in pages:
                params["pages"] += 1
                yield Batch.of(parse_each(parse_result, page["results"], f"Europe PMC page {params['pages']}, result"))

        return Search(first["hitCount"], params, batches())

    def listing(self, client: "EuropePmcClient", topic: "Topic") -> Listing:
        """The records of the search, listed alone (``resultType=idlist`` pages)."""
        return Listing.of(client.ids(self.query_string(topic)))

    def record_ids(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, tuple[str, str | None, str | None]]:
        out: dict[Any, tuple[str, str | None, str | None]] = {}
        for where, params in in_keys("epmc_id", keys):
            for epmc_id, title, url in conn.execute(
                    f"SELECT epmc_id, title, url FROM europepmc_records WHERE 1{where}", params):
                out[epmc_id] = (epmc_id, title, url)
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
            "AND NOT (l.target LIKE 'MED:%' AND CAST(substr(l.target, 5) AS INTEGER) IN (SELECT pmid FROM articles)) "
            "ORDER BY l.target")]

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
