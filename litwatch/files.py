"""Opening input files: regular files only, transparent gzip with a guard against gzip bombs,
format detection from content (not names), and the size limit every reader applies to one
record.

Hostile input is refused within seconds and in bounded memory: a named pipe or a device is
never read (it could block or never end), a gzip stream that inflates far beyond what real
data does is stopped early, and the readers refuse a record larger than
:data:`MAX_RECORD_BYTES` instead of holding it. The configuration is read through the same
door (:func:`read_regular`), whole but never past :data:`MAX_CONFIG_BYTES`.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tempfile
import zlib
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import LitwatchError, ParseError, UnknownFormat
from .redact import printable

PUBMED_XML, MEDLINE, JSON = "pubmed-xml", "medline", "json"
_SNIFF = 4096

# No real record comes near this: PubMed's largest (consortium papers listing thousands of
# authors with affiliations, or thousands of references) are a few MB of XML, a
# ClinicalTrials.gov study with results a few MB of JSON, a Europe PMC result some KB. A
# record past it is a damaged or hostile file, and holding it would cost memory without limit.
MAX_RECORD_BYTES = 64 << 20
# JSON a source reads whole (a single object, a Europe PMC page); a larger body is refused
# rather than read into memory. ClinicalTrials.gov arrays and pages are streamed instead.
MAX_JSON_BYTES = 512 << 20
# Real files inflate about tenfold (PubMed XML 10x, ClinicalTrials.gov JSON 6x, indented
# JSON 11x); a gzip bomb (one repeated byte) inflates about a thousandfold. Measured over
# each window of decompressed output, so a real head cannot hide a bomb behind it.
MAX_INFLATION = 100
_INFLATION_WINDOW = 16 << 20
# A configuration file: a real one is a few KB (topics, terms, claims); a megabyte is room
# for hundreds of topics, and reading more would only hold memory for a damaged file.
MAX_CONFIG_BYTES = 1 << 20


def sniff(head: bytes) -> str:
    """Name the format of a file from its first bytes (already decompressed)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnknownFormat("text in UTF-16; litwatch reads UTF-8 (save the file as UTF-8)")
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
    :raises ParseError: when the file is not a regular file, is unreadable or of an unknown
        format; reading ``stream`` raises it (without the file's name) on damaged gzip data
        or a gzip bomb.
    """
    path = Path(path)
    raw = _open_regular(path)
    try:
        magic = raw.read(2)
        raw.seek(0)
        buffered: io.BufferedReader[Any] = io.BufferedReader(_Inflating(raw)) if magic == b"\x1f\x8b" else raw
        try:
            head = buffered.peek(_SNIFF)[:_SNIFF]
        except ParseError as e:
            raise ParseError(f"{path}: {e}") from None
        except OSError as e:
            raise ParseError(f"{path}: cannot read ({e})") from None
        try:
            fmt = sniff(head)
        except UnknownFormat as e:
            raise UnknownFormat(f"{path}: {e}") from None
        yield fmt, buffered, raw, head
    finally:
        raw.close()


def read_regular(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The whole of a small regular file (a configuration): at most ``limit`` bytes read,
    whatever the file is.

    :raises FileNotFoundError: there is no such file (the caller says what that means).
    :raises ParseError: one line naming ``path``: not a regular file (a named pipe, a device:
        refused before a byte is read), unreadable, or larger than ``limit``.
    """
    path = Path(path)
    with _open_regular(path, f"read as a {what}", missing_ok=False) as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise ParseError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(data) > limit:
        raise ParseError(f"{path}: larger than {limit >> 10} KB, more than any real {what}; refused")
    return data


def regular_or_absent(path: str | Path) -> str | None:
    """Why ``path`` cannot be a file litwatch writes in place (a database): "a directory",
    "a device"...; None when it is a regular file or does not exist. Nothing is opened."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"unusable ({e.strerror or e})"
    return None if stat.S_ISREG(mode) else _kind(mode)


def _open_regular(path: Path, purpose: str = "imported", missing_ok: bool = True) -> io.BufferedReader:
    """Open a regular file for reading, refusing anything else before a byte is read.

    Opened non-blocking, then checked with fstat: opening a named pipe would otherwise wait
    for a writer, and checking before opening leaves a moment to swap the file. With
    ``missing_ok`` False a missing file raises FileNotFoundError, for the caller to name.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if not missing_ok:
            raise
        raise ParseError(f"{path}: cannot open (No such file or directory)") from None
    except OSError as e:
        raise ParseError(f"{path}: cannot open ({e.strerror or e})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ParseError(f"{path}: {_kind(mode)}, not a regular file; only files are {purpose}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class _Inflating(io.RawIOBase):
    """The decompressed bytes of a gzip file; refuses a bomb, and names damage plainly."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.gz = gzip.GzipFile(fileobj=raw, mode="rb")
        self.window_out = 0
        self.window_in = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        # At most a window per call, so a caller asking for a large read (a whole JSON body)
        # cannot make a bomb inflate into memory before the ratio is checked.
        b = memoryview(b)[:_INFLATION_WINDOW]
        try:
            n = self.gz.readinto(b)
        except EOFError:
            raise ParseError("the gzip data ends before its end marker: the file is truncated") from None
        except gzip.BadGzipFile as e:
            if str(e).startswith("Not a gzipped file"):
                raise ParseError("bytes that are not gzip follow the gzip data (trailing garbage); "
                                 "the file is damaged") from None
            raise ParseError(f"the gzip data is corrupt ({e})") from None
        except zlib.error as e:
            raise ParseError(f"the gzip data is corrupt ({e})") from None
        self.window_out += n
        if self.window_out >= _INFLATION_WINDOW:
            read = self.raw.tell()
            if self.window_out > MAX_INFLATION * max(read - self.window_in, 1):
                raise ParseError(f"the gzip data inflates more than {MAX_INFLATION}-fold (real files inflate "
                                 f"about tenfold): a gzip bomb or a damaged file; refused")
            self.window_out, self.window_in = 0, read
        return n

    def close(self) -> None:
        self.gz.close()
        super().close()
