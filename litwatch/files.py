"""Opening input files: transparent gzip, and format detection from content, not names."""

from __future__ import annotations

import gzip
import io
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import ParseError, UnknownFormat

PUBMED_XML, MEDLINE, JSON = "pubmed-xml", "medline", "json"
_SNIFF = 4096


def sniff(head: bytes) -> str:
    """Name the format of a file from its first bytes (already decompressed)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        lowered = text[:_SNIFF].lower()
        if b"<pubmedarticleset" in lowered or b"<medlinecitationset" in lowered or b"pubmedarticle" in lowered:
            return PUBMED_XML
        raise UnknownFormat("XML, but not a PubmedArticleSet or MedlineCitationSet document")
    if text.startswith(b"PMID-"):
        return MEDLINE
    if text.startswith((b"{", b"[")):
        return JSON
    raise UnknownFormat("not PubMed XML, MEDLINE text or JSON")


@contextmanager
def open_input(path: str | Path) -> Iterator[tuple[str, IO[bytes], IO[bytes], bytes]]:
    """Open ``path`` (gzip or plain) and yield ``(format, stream, raw_file, head)``.

    ``stream`` gives decompressed bytes; ``raw_file.tell()`` tracks progress on disk;
    ``head`` is the first decompressed bytes, for the sources to recognise their files.
    :raises ParseError: when the file is unreadable or of an unknown format.
    """
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as e:
        raise ParseError(f"{path}: cannot open ({e.strerror or e})") from None
    try:
        magic = raw.read(2)
        raw.seek(0)
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
        buffered = io.BufferedReader(stream) if not isinstance(stream, io.BufferedReader) else stream
        try:
            head = buffered.peek(_SNIFF)[:_SNIFF]
        except (OSError, EOFError) as e:
            raise ParseError(f"{path}: cannot read ({e})") from None
        try:
            fmt = sniff(head)
        except UnknownFormat as e:
            raise UnknownFormat(f"{path}: {e}") from None
        yield fmt, buffered, raw, head
    finally:
        raw.close()
