"""Opening input files: transparent gzip, and format detection from content, not names."""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Iterator

from .errors import LitwatchError, ParseError, UnknownFormat
from .redact import printable

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


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    :raises LitwatchError: one line, the previous file left intact.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        if tmp:
            with suppress(OSError):
                os.unlink(tmp)
        raise LitwatchError(f"cannot write {printable(str(path))}: {e.strerror or e}"
                            f"{'; the previous file is unchanged' if path.exists() else ''}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
