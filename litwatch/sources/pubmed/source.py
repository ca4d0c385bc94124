"""PubMed as a litwatch source: E-utilities searches (edat/mdat windows for incremental
runs), efetch batches, fetch by PMID, and PubMed files (efetch XML, baseline/update files,
MEDLINE text exports)."""

from __future__ import annotations

import codecs
import io
import logging
import sqlite3
import threading
import urllib.parse
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Iterator

from ...errors import ParseError
from ...files import MEDLINE, PUBMED_XML
from ...store.db import now, query, transaction
from ...store.writes import Counts, History, Prepared, Writer, delete, raw_fingerprint, save, stored_rows
from ...settings import Option, SourceSettings, Topic
from ..base import Batch, Listing, PaperArm, Search, Skipped, Source, cited_author, grouped, in_keys
from ..checks import NCT_IN_TEXT
from . import LABEL
from .schema import EVENTS, FAMILY, TABLES

if TYPE_CHECKING:
    from ...http import Deadline, HttpClient
    from .client import PubMedClient
    from .parse import Event

log = logging.getLogger(__name__)

DEFAULT_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
# The query a medical librarian would write: MeSH headings (exploded) plus free-text
# title/abstract words, so records not yet MeSH-indexed (most new ones) are found too.
# Esketamine and arketamine map to the Ketamine heading but are also searched as words.
BUILTIN_QUERY = (
    '("Ketamine"[MeSH Terms] OR ketamine[tiab] OR esketamine[tiab] OR arketamine[tiab]'
    ' OR "Spravato"[tiab])'
    ' AND ("Stress Disorders, Post-Traumatic"[MeSH Terms] OR "Combat Disorders"[MeSH Terms]'
    ' OR PTSD[tiab] OR "posttraumatic stress"[tiab] OR "post-traumatic stress"[tiab]'
    ' OR "post traumatic stress"[tiab] OR "combat stress"[tiab])'
)
IMPORT_BATCH = 500  # records per store transaction when reading files
# ... or fewer, once their XML reaches this size: a batch is held parsed in memory until it
# is stored, and update files' records (with their reference lists) are twice the baseline's.
BATCH_BYTES = 2 << 20
_CONTENT = FAMILY.content()
VERSION, REVISED = _CONTENT.index("pmid_version"), _CONTENT.index("date_revised")
STATUS = _CONTENT.index("medline_status")
_HISTORY_DATE = TABLES["article_history"].names.index("date")
# How far NLM's processing of a record has gone: of two copies of the same revision, the one
# further along says more (a later recording of the record).
STATUS_ORDER = ("Publisher", "In-Data-Review", "In-Process", "PubMed-not-MEDLINE", "MEDLINE")
TITLE, ABSTRACT = _CONTENT.index("title"), _CONTENT.index("abstract")
# Positions in the child rows (key first) of what the evidence reads.
_TYPE_NAME = TABLES["article_publication_types"].names.index("name")
_MESH_NAME = TABLES["article_mesh"].names.index("descriptor_name")
_REF_TYPE = TABLES["article_comments"].names.index("ref_type")


def derive(p: Prepared) -> tuple:
    """Design (from indexing, else inferred from wording), and whether the paper is retracted
    or corrected, from the record's own rows."""
    from ...designs import ArticleFacts, classify_article

    types = {r[_TYPE_NAME] for r in p.children["article_publication_types"]}
    mesh = {r[_MESH_NAME] for r in p.children["article_mesh"]}
    refs = {r[_REF_TYPE] for r in p.children["article_comments"]}
    design, basis = classify_article(ArticleFacts(p.row[TITLE] or "", p.row[ABSTRACT] or "", types, mesh))
    retracted = "Retracted Publication" in types or "RetractionIn" in refs
    corrected = bool(refs & {"ErratumIn", "CorrectedandRepublishedIn"})
    return design, basis, int(retracted), int(corrected)


def _deleted_records(conn: sqlite3.Connection, pmids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """Title and core topics (JSON) of the stored records among ``pmids``, as the deletion
    event needs them once the records are gone."""
    out = {}
    for where, params in in_keys("a.pmid", pmids):
        for pmid, title, topics in conn.execute(
                "SELECT a.pmid, a.title, (SELECT json_group_array(t.topic) FROM article_topics t WHERE t.pmid = a.pmid "
                f"AND t.relevance = 'core') FROM articles a WHERE 1{where}", params):
            out[pmid] = (title, topics if topics != "[]" else None)
    return out


def recency(p: Prepared) -> tuple:
    """When a copy was revised: its version (``<PMID Version>``), then its ``DateRevised``."""
    return p.row[VERSION] or 1, p.row[REVISED]


def says(p: Prepared) -> tuple:
    """Of two copies of the same revision, how far NLM's processing had gone (its status),
    then its latest history date: the later recording says more."""
    status = p.row[STATUS]
    history = max((r[_HISTORY_DATE] for r in p.children["article_history"] if r[_HISTORY_DATE]), default=None)
    return (STATUS_ORDER.index(status) if status in STATUS_ORDER else -1), history


_STATUS_SQL = ("CASE medline_status " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STATUS_ORDER))
               + " ELSE -1 END")


class PubMedSource(Source):
    name = "pubmed"
    label = LABEL
    service = "NCBI E-utilities"
    unit = "records"
    parser_version = 2  # 2: embargoed PMC IDs, ELocationID pii, references' pmcid, NULL for empty lists
    family = FAMILY
    tables = TABLES
    # Copies are whole records; an XML copy (kept whole in the raw archive) is richer than a
    # MEDLINE text export of the same revision.
    writer = Writer(FAMILY, recency_sql="coalesce(pmid_version, 1), date_revised", recency=recency,
                    shape_sql="1 + (raw_block IS NOT NULL)", shape=lambda p: 2 if p.raw is not None else 1,
                    full_shape=2, says_sql=f"{_STATUS_SQL}, (SELECT max(h.date) FROM article_history h "
                                          f"WHERE h.pmid = articles.pmid)", says=says, raw=True,
                    derived=("design", "design_source", "retracted", "corrected"), derive=derive,
                    history=History("article_changes", ("pmid_version", "medline_status", "publication_status",
                                                        "design", "design_source", "retracted", "corrected"),
                                    "date_revised"))
    default_url = DEFAULT_URL
    url_key = "eutils_url"
    url_env = "LITWATCH_EUTILS_URL"
    query_help = "PubMed search syntax: MeSH headings plus title/abstract words."
    default_query = BUILTIN_QUERY
    main_tables = ("articles", "article_topics", "article_publication_types", "article_mesh")
    terms = ("U.S. National Library of Medicine terms",
             "https://www.nlm.nih.gov/databases/download/terms_and_conditions.html")
    # Its records are the papers with a PMID; of two sources holding one, PubMed's copy is shown.
    papers = PaperArm("a", pmid="pmid", deleted="SELECT pmid FROM article_deletions", cite_as="PMID: {key}", columns={
        "doi": "a.doi", "title": "a.title", "abstract": "a.abstract", "journal": "coalesce(a.journal_iso, a.journal)",
        "volume": "a.volume", "issue": "a.issue", "pages": "a.pages", "pub_year": "a.pub_year",
        "published": "a.pub_date", "added": "a.entrez_date", "design": "a.design", "design_source": "a.design_source",
        "retracted": "coalesce(a.retracted, 0)", "corrected": "coalesce(a.corrected, 0)", "preprint": "0",
        "url": "'https://pubmed.ncbi.nlm.nih.gov/' || a.pmid || '/'"})
    events_sql = EVENTS
    old_topic_keys = {"pubmed_query": "query"}
    options = (
        Option("api_key", "An NCBI API key raises the request rate from 3 to 10 per second.\n"
                          "Prefer the NCBI_API_KEY environment variable: it keeps the key out of this file.",
               env="NCBI_API_KEY", secret=True, old="ncbi.api_key"),
        Option("email", "NCBI asks every client to name itself and give a contact address.",
               env="NCBI_EMAIL", old="ncbi.email", example="you@example.org"),
        Option("tool", "The name NCBI knows this client by.", default="litwatch", old="ncbi.tool"),
    )
    table_options = {
        # Facets count every record at each page view: two by default (retracted, language and
        # the others are a click away).
        "articles": {"facets": ["design", "pub_year"], "sort_desc": "pub_year",
                     "label_column": "title"},
        "article_topics": {"facets": ["topic", "relevance"]},
        "article_publication_types": {"facets": ["name"]},
    }
    relevance_text_sql = """
SELECT a.pmid, coalesce(a.title, '') || ' ' || coalesce(a.abstract, '') || ' ' ||
  coalesce((SELECT group_concat(descriptor_name, ' | ') FROM article_mesh m WHERE m.pmid = a.pmid), '') || ' ' ||
  coalesce((SELECT group_concat(keyword, ' | ') FROM article_keywords k WHERE k.pmid = a.pmid), '') || ' ' ||
  coalesce((SELECT group_concat(name, ' | ') FROM article_chemicals c WHERE c.pmid = a.pmid), '')
FROM articles a WHERE 1"""
    relevance_key = "a.pmid"

    def client(self, settings: SourceSettings, http: "HttpClient | None" = None,
               budget: "Deadline | None" = None) -> "PubMedClient":
        """A PubMed client paced at NCBI's limit for the key (or lack of one)."""
        from ...http import HttpClient
        from .client import PubMedClient

        # NCBI allows 3 requests/s without a key and 10 with one; stay a little under
        # (Bio.Entrez found 1/3 s spacing still drew 429s).
        rate = 9.0 if settings.get("api_key") else 2.8
        return PubMedClient(http or HttpClient(per_second=rate, budget=budget), settings.url,
                            api_key=settings.get("api_key"), email=settings.get("email"),
                            tool=settings.get("tool") or "litwatch")

    def advice(self, settings: SourceSettings) -> str | None:
        # NCBI asks every E-utilities user for an e-mail address, to write before it blocks
        # a client that misbehaves (Biopython warns the same way).
        if settings.get("email"):
            return None
        return ("no e-mail address for NCBI: NCBI asks for one, to contact you before blocking your requests; "
                "set email under [sources.pubmed] in litwatch.toml or the NCBI_EMAIL environment variable")

    def probe_url(self, settings: SourceSettings) -> str:
        return f"{settings.url}/einfo.fcgi"

    def search(self, client: "PubMedClient", topic: Topic, since: date | None) -> Search:
        query = self.query_string(topic)
        if since is None:
            searches = client.search(query)
        else:  # added (entry date) or revised (modification date) since the window start
            searches = client.search(query, datetype="edat", mindate=since) + \
                client.search(query, datetype="mdat", mindate=since)
        params = {"searches": [s.describe() for s in searches],
                  "query_translation": next((s.translation for s in searches if s.translation), None)}
        # Two windowed searches overlap (a record added and revised since), so their counts
        # do not add up to the distinct records expected; each search is checked on its own.
        expected = searches[0].count if len(searches) == 1 else None
        found = Search(expected, params, iter(()))
        found.batches = self._batches(client, searches, found)
        return found

    def _batches(self, client: "PubMedClient", searches: list, found: Search) -> Iterator[Batch]:
        for search in searches:
            got: set[int] = set()
            for events in client.efetch(search):
                got.update(_keys(events))
                yield from _batches(iter(events), IMPORT_BATCH, "PubMed efetch")
            if len(got) < search.count:
                yield from self._repair(client, search, got, found)

    def _repair(self, client: "PubMedClient", search: Any, got: set[int], found: Search) -> Iterator[Batch]:
        """Fetch by PMID the records of a search its efetch batches did not bring (a batch
        repeated, records repeated within one, a short batch): the search's PMIDs are listed
        (the listing becomes what it holds), the missing ones fetched, and the run goes on
        only if every listed record has then arrived."""
        from ...errors import IncompleteFetch

        listed, malformed = client.listed_ids(search)
        params = found.params
        if found.expected is not None:  # one search: the listing is its latest count (a malformed ID: a skip)
            found.expected = len(listed) + malformed
        missing = [pmid for pmid in listed if pmid not in got]
        log.warning("PubMed's efetch batches brought %d distinct records of the %d %s holds; fetching the %d "
                    "missing by PMID", len(got), search.count, _what(search), len(missing))
        params["fetched_by_id"] = params.get("fetched_by_id", 0) + len(missing)
        for i in range(0, len(missing), FOLLOW_BATCH):
            events = client.efetch_ids(missing[i:i + FOLLOW_BATCH])
            got.update(_keys(events))
            yield from _batches(iter(events), IMPORT_BATCH, "PubMed efetch")
        lost = [pmid for pmid in listed if pmid not in got]
        if lost:
            raise IncompleteFetch(
                f"PubMed lists {len(listed)} records for {_what(search)}, but {len(lost)} of them were served "
                f"neither in its batches nor by PMID ({', '.join(map(str, lost[:3]))}"
                f"{', ...' if len(lost) > 3 else ''}); "
                f"what arrived is stored, the run is marked failed and the next run will ask again")

    def listing(self, client: "PubMedClient", topic: Topic) -> Listing:
        """The PMIDs of the search, listed by esearch (a date slice at a time past 9,999)."""
        slices = client.search(self.query_string(topic))
        keys: list[int] = []
        malformed = 0
        for part in slices:
            if part.count:
                listed, bad = client.listed_ids(part)
                keys += listed
                malformed += bad
        return Listing.checked(self.label, keys, sum(part.count for part in slices) - malformed)

    def record_ids(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, tuple[str, str | None, str | None]]:
        out: dict[Any, tuple[str, str | None, str | None]] = {}
        for where, params in in_keys("pmid", keys):
            for pmid, title in conn.execute(f"SELECT pmid, title FROM articles WHERE 1{where}", params):
                out[pmid] = (f"PMID:{pmid}", title, f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/")
        return out

    def citation(self, conn: sqlite3.Connection, key: Any) -> dict[str, Any]:
        """Its ``articles`` row, full author names and MeSH headings as keywords."""
        p = query(conn, "SELECT * FROM articles WHERE pmid = ?", [key])[0]
        p["authors"] = [cited_author(*a) for a in conn.execute(
            "SELECT last_name, fore_name, collective_name FROM article_authors WHERE pmid = ? ORDER BY position", [key])
            if a[0] or a[2]]
        p["keywords"] = [r[0] for r in conn.execute(
            "SELECT descriptor_name FROM article_mesh WHERE pmid = ? ORDER BY position", [key])]
        return p

    def result_note(self, result: Any) -> str:
        """An incremental fetch's two date searches (added since, revised since) share the
        records added and revised since; each is counted once, so say why the searches' counts
        add up to more."""
        searches = result.params.get("searches") or []
        listed = sum(s.get("count") or 0 for s in searches)
        if len(searches) < 2 or listed <= result.counts.received:
            return ""
        return (f"; each counted once: the searches for records added and revised since {result.params['since']} "
                f"overlap ({listed} between them)")

    def search_url(self, query: Any) -> str | None:
        return "https://pubmed.ncbi.nlm.nih.gov/?" + urllib.parse.urlencode({"term": query})

    def authors(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, list[str]]:
        return grouped(conn, "SELECT pmid, coalesce(last_name || ' ' || coalesce(initials, ''), collective_name) "
                             "FROM article_authors WHERE 1{where} ORDER BY pmid, position", "pmid", keys)

    def fetch_ids(self, client: "PubMedClient", ids: list[Any]) -> Iterator[Batch]:
        for i in range(0, len(ids), FOLLOW_BATCH):
            yield from _batches(iter(client.efetch_ids(ids[i:i + FOLLOW_BATCH])), IMPORT_BATCH, "PubMed efetch")

    def missing_links(self, conn: sqlite3.Connection) -> list[Any]:
        """Papers the topics' trials list as RESULT (or DERIVED) references, not stored yet."""
        return [row[0] for row in conn.execute(
            "SELECT DISTINCT l.pmid FROM paper_trial_links l JOIN trial_topics t ON t.nct_id = l.nct_id "
            "WHERE l.source = 'ctgov_reference' AND l.reference_type IN ('RESULT', 'DERIVED') "
            "AND l.pmid NOT IN (SELECT pmid FROM articles) ORDER BY l.pmid")]

    def save(self, conn: sqlite3.Connection, batch: Batch, *, run_id: int | None, topic: str | None,
             origin: str) -> Counts:
        """Store a batch: its records (a record PubMed deleted stays deleted unless this copy
        was revised after the deletion), then its deletions, remembered as tombstones."""
        records, dead = _without_tombstoned(conn, batch.records)
        counts = save(conn, self.writer, records, run_id=run_id, topic=topic, origin=origin)
        # Books and records kept deleted were received, not stored: a search that holds a
        # book is complete without it.
        counts.received += dead + batch.skipped
        counts.skipped += dead + batch.skipped
        if batch.deletes:
            as_of = batch.as_of or now()[:10]
            with transaction(conn):
                gone = _deleted_records(conn, batch.deletes)
                conn.executemany(
                    "INSERT INTO article_deletions (pmid, as_of, run_id, title, topics) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (pmid) DO UPDATE SET as_of = max(as_of, excluded.as_of), run_id = excluded.run_id, "
                    "title = coalesce(excluded.title, title), topics = coalesce(excluded.topics, topics)",
                    [(pmid, as_of, run_id) + gone.get(pmid, (None, None)) for pmid in batch.deletes])
                counts.deleted += delete(conn, self.family, batch.deletes, raw=True)
        return counts

    def reparse(self, conn: sqlite3.Connection) -> Iterator[list[Prepared]]:
        from ...store.raw import raw_records
        from .parse import parse_xml_bytes

        batch: list[Prepared] = []
        for _, raw in raw_records(conn, "articles", "pmid"):
            root = b"MedlineCitationSet" if raw.startswith(b"<MedlineCitation ") else b"PubmedArticleSet"
            (event,) = parse_xml_bytes(b"<%s>%s</%s>" % (root, raw, root))
            if event.record is None:  # stored by a version that let a malformed record in
                log.warning("reparse: kept as stored %s", event.skipped)
                continue
            batch.append(event.record._replace(raw=raw, digest=raw_fingerprint(raw)))
            if len(batch) >= IMPORT_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def deleted_since(self, conn: sqlite3.Connection, run_id: int) -> list[Any]:
        return [r[0] for r in conn.execute("SELECT pmid FROM article_deletions WHERE run_id > ?", [run_id])]

    def links(self, conn: sqlite3.Connection, keys: list[Any] | None = None) -> None:
        """A record's DataBank list, and NCT IDs written in its title or abstract."""

        for where, params in in_keys("pmid", keys):
            conn.execute(f"DELETE FROM paper_trial_links WHERE source IN ('pubmed_databank', 'pubmed_text'){where}",
                         params)
            conn.execute(
                "INSERT OR IGNORE INTO paper_trial_links (paper_id, nct_id, source, reference_type, pmid) "
                "SELECT 'PMID:' || pmid, upper(replace(accession, ' ', '')), 'pubmed_databank', NULL, pmid "
                f"FROM article_databanks WHERE databank = 'ClinicalTrials.gov' AND upper(accession) LIKE 'NCT%'{where}",
                params)
            mentions = set()
            for pmid, title, abstract in conn.execute(
                    "SELECT pmid, title, abstract FROM articles WHERE (title LIKE '%NCT%' OR abstract LIKE '%NCT%')"
                    f"{where}", params):
                for m in NCT_IN_TEXT.finditer(f"{title or ''}\n{abstract or ''}"):
                    mentions.add((f"PMID:{pmid}", f"NCT{m.group(1)}", pmid))
            conn.executemany("INSERT OR IGNORE INTO paper_trial_links (paper_id, nct_id, source, reference_type, "
                             "pmid) VALUES (?, ?, 'pubmed_text', NULL, ?)", sorted(mentions))

    def reads(self, fmt: str, head: bytes) -> bool:
        return fmt in (PUBMED_XML, MEDLINE)

    def read(self, fmt: str, stream: IO[bytes], name: str) -> Iterator[Batch]:
        return _batches(_events(fmt, stream, name), IMPORT_BATCH, name)


FOLLOW_BATCH = 500  # PMIDs per efetch POST when following links


def _events(fmt: str, stream: IO[bytes], name: str) -> Iterator["Event"]:
    from .medline import iter_medline
    from .parse import iter_xml

    try:
        if fmt == PUBMED_XML:
            yield from iter_xml(stream)
        else:
            text, replaced = _medline_text(stream, name)
            try:
                yield from iter_medline(text)
            finally:
                text.detach()  # closing the wrapper would close the file under the caller
            if replaced:
                log.warning("%s: %d %s not valid %s, read as U+FFFD (the replacement character)", name,
                            len(replaced), "byte was" if len(replaced) == 1 else "bytes were",
                            "UTF-8" if text.encoding.startswith("utf") else "Windows-1252")
    except ParseError as e:
        raise ParseError(f"{name}: {e}") from None
    except (OSError, EOFError) as e:  # truncated or corrupt gzip
        raise ParseError(f"{name}: cannot read ({e})") from None


def _medline_text(stream: IO[bytes], name: str) -> tuple[io.TextIOWrapper, list[int]]:
    """MEDLINE text decoded by what it is: UTF-8 (PubMed's exports, with or without a byte
    order mark), else Windows-1252 (older reference-manager exports), said in a warning.
    Bytes that still do not decode are replaced and counted in the returned list."""
    # BufferedReader reads through readinto(), which every binary stream has but typing.IO does not declare.
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    head = buffered.peek(1 << 16)[:1 << 16]
    sample = (head[:-3] if len(head) == 1 << 16 else head).decode("utf-8", errors="replace")  # no cut character
    encoding = "utf-8-sig"
    if "\ufffd" in sample and not any(ord(c) > 127 and c != "\ufffd" for c in sample):
        encoding = "cp1252"  # not one UTF-8 character among bytes that are not ASCII
        log.warning("%s: not UTF-8 text; read as Windows-1252", name)
    replaced: list[int] = []
    _replaced.bytes = replaced
    return io.TextIOWrapper(buffered, encoding=encoding, errors=_COUNTED), replaced


_replaced = threading.local()  # what the file being decoded in this thread counts into
_COUNTED = "litwatch-replace-counted"


def _count_replaced(error: UnicodeError) -> tuple[str, int]:
    """Replace undecodable bytes, as ``errors="replace"`` does, counting them."""
    assert isinstance(error, UnicodeDecodeError)
    _replaced.bytes.extend(range(error.start, error.end))
    return "\ufffd", error.end


codecs.register_error(_COUNTED, _count_replaced)


def _what(search: Any) -> str:
    """A search, or one date slice of it, as a message names it."""
    if not search.datetype:
        return "the search"
    return f"the search's {search.datetype} range {search.describe()['mindate']} to {search.describe()['maxdate']}"


def _keys(events: list["Event"]) -> Iterator[int]:
    """The PMIDs of the records served among events (articles, books, and records refused
    as malformed whose PMID could be read)."""
    for event in events:
        if event.kind == "article" and event.record is not None:
            yield event.record.key
        elif event.kind in ("book", "skipped"):
            yield from event.pmids


def _without_tombstoned(conn: sqlite3.Connection, records: list) -> tuple[list, int]:
    """The records that may be stored: not deleted, or revised after their deletion (which
    then no longer holds); and how many were refused."""
    if not records:
        return records, 0
    tombs = stored_rows(conn, "article_deletions", "pmid", "as_of", [p.key for p in records])
    if not tombs:
        return records, 0
    keep, revived = [], []
    for p in records:
        tomb = tombs.get(p.key)
        if tomb is None:
            keep.append(p)
        elif (p.row[REVISED] or "") > tomb[0]:
            keep.append(p)
            revived.append((p.key,))
    if revived:
        with transaction(conn):
            conn.executemany("DELETE FROM article_deletions WHERE pmid = ?", revived)
    log.info("kept %d deleted records deleted (copies older than their deletion)", len(records) - len(keep))
    return keep, len(records) - len(keep)


def _batches(events: Iterator["Event"], size: int, origin: str) -> Iterator[Batch]:
    """Group events into batches of records, each ending at a deletion block (so deletions
    apply after the records before them and before those after). A deletion is dated by the
    newest revision of the records read before it: the file's date, for an update file.
    Skipped records (books, malformed ones) are counted and named, with ``origin`` (the
    file, or the request) in front."""
    batch = Batch()
    newest = None
    held = 0  # bytes of XML in the batch
    for event in events:
        if event.kind == "article" and event.record is not None:  # an article always has its record
            batch.records.append(event.record)
            revised = event.record.row[REVISED]
            if revised and (newest is None or revised > newest):
                newest = revised
            held += len(event.record.raw or b"")
            if len(batch.records) >= size or held >= BATCH_BYTES:
                yield batch
                batch = Batch()
                held = 0
        elif event.kind == "delete":
            batch.deletes += event.pmids
            batch.as_of = newest
            yield batch
            batch = Batch()
            held = 0
        elif event.kind == "skipped" and event.skipped is not None:
            batch.skip(Skipped(f"{origin}: {event.skipped.where}", event.skipped.reason))
        else:
            batch.skip(Skipped(f"{origin}: book record PMID {event.pmids[0] if event.pmids else '?'}",
                               "books are not stored"))
    if batch.records or batch.skipped:
        yield batch


SOURCE = PubMedSource()
