"""Exception classes. Every error a user can cause or meet derives from LitwatchError,
so the CLI can print it as one line and exit non-zero."""


class LitwatchError(Exception):
    """Base class of every error litwatch reports to a user."""


class UsageError(LitwatchError):
    """The command was asked something it cannot do (a missing database file, ...): exit status 2."""


class ConfigError(UsageError):
    """The configuration file or environment is invalid."""


class HttpError(LitwatchError):
    """A service answered with an HTTP error that retrying will not fix (most 4xx)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class ServiceUnavailable(LitwatchError):
    """A service could not be reached, or kept failing after every retry."""


class Unreachable(ServiceUnavailable):
    """A service could not be reached at all (connection refused, no route, no such host):
    given up on after a short retry, and the steps that need it are skipped."""


class TransientResponse(LitwatchError):
    """A response body showed a passing fault (truncated, rate-limited...); worth retrying."""


class EutilsError(LitwatchError):
    """NCBI E-utilities reported an error inside an otherwise successful response."""


class IncompleteFetch(LitwatchError):
    """A source served fewer records than it said it had."""


class ParseError(LitwatchError):
    """An input file or response body could not be parsed."""


class UnknownFormat(ParseError):
    """An input file is in none of the formats litwatch reads."""


class HttpStatusError(HttpError):
    """A service answered with an error status; ``text`` is the meaningful text of the body
    (an XML ``<ERROR>``/``<errMsg>``, a JSON ``error``, a first line), redacted, on one line."""

    def __init__(self, message: str, status: int, text: str):
        super().__init__(message, status=status)
        self.text = text


class ResponseTooLarge(HttpError):
    """A response body is larger than the client accepts."""


class DeadlineExceeded(ServiceUnavailable):
    """A request, or the whole run, ran out of the time it was given."""


class BadRecord(ParseError):
    """One record is malformed (a key of the wrong shape, a module that is not an object, a
    field too large to be real): it is skipped and counted, and the records around it load."""


class StorageError(LitwatchError):
    """The database's storage failed (a full disk, a file that cannot be written, a damaged
    file, an I/O error): one line that says what to do, nothing stored before lost."""


class DatabaseLocked(StorageError):
    """Another program (not a litwatch run) holds the database locked: try again later (exit 75)."""


class DamagedDatabase(StorageError):
    """The database file is damaged: SQLite's own checks, or a read, found it malformed."""


# What to do about each storage fault, by SQLite's primary result code (the message of
# the fault follows in parentheses). Codes: https://sqlite.org/rescode.html
_FULL = ("the disk holding {where} is full ({detail}): free some space and run the command again; "
         "what was stored before is intact")
_READ_ONLY = ("{where} cannot be written ({detail}): make the file and its folder writable (litwatch also "
              "writes the -wal, -shm and .lock files beside it), or use a command that only reads")
_IO = ("a disk I/O error on {where} ({detail}): check the disk and its file system (a drive removed, a network "
       "share dropped, a file size limit), then run `litwatch check`")
_DAMAGED = ("{where} is damaged ({detail}); nothing more was written: run `litwatch check`, then restore the "
            "last copy of it (see 'litwatch check' in the README)")
_SQLITE_FAULTS: dict[int, tuple[type[StorageError], str]] = {
    13: (StorageError, _FULL),  # SQLITE_FULL
    8: (StorageError, _READ_ONLY),  # SQLITE_READONLY
    3: (StorageError, _READ_ONLY),  # SQLITE_PERM
    10: (StorageError, _IO),  # SQLITE_IOERR
    11: (DamagedDatabase, _DAMAGED),  # SQLITE_CORRUPT
    26: (DamagedDatabase, "{where} is not a usable SQLite database ({detail}): a damaged database or another kind "
                          "of file; check --db, or restore the last copy of the database"),  # SQLITE_NOTADB
    5: (DatabaseLocked, "{where} is locked by another program ({detail}): close whatever holds it open for "
                        "writing (an sqlite3 shell, a DB browser) and try again"),  # SQLITE_BUSY
    6: (DatabaseLocked, "{where} is locked by another connection ({detail}): try again"),  # SQLITE_LOCKED
    14: (StorageError, "cannot open {where} ({detail}): check that its folder exists and that the file and the "
                       "folder can be read and written"),  # SQLITE_CANTOPEN
    7: (StorageError, "SQLite ran out of memory on {where} ({detail}): free memory and run the command again"),
}
# The same faults met by the operating system (a folder made, a file written beside the database).
_NO_SPACE = "free some space and run the command again; what was stored before is intact"
_NO_WRITE = "make it (or its folder) writable, or use a command that only reads"
_OS_FAULTS = {"ENOSPC": _NO_SPACE, "EDQUOT": _NO_SPACE, "EROFS": _NO_WRITE, "EACCES": _NO_WRITE, "EPERM": _NO_WRITE,
              "EIO": "check the disk and its file system, then run `litwatch check`"}


def storage_fault(error: BaseException, where: str | None = None) -> StorageError | None:
    """The one-line :class:`StorageError` (saying what to do) of a storage fault: an SQLite
    error with a known result code, or an OS error of a full, read-only or failing disk; None
    for anything else. ``where``: the database's path, when known."""
    import errno
    import sqlite3

    from .redact import excerpt

    place = f"the database {where}" if where else "the database"
    detail = excerpt(str(error), 200)
    if isinstance(error, StorageError):
        return error
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        known = _SQLITE_FAULTS.get(code & 0xFF) if isinstance(code, int) else None
        if known is None:
            return None
        kind, text = known
        return kind(text.format(where=place, detail=detail))
    if isinstance(error, OSError) and error.errno is not None:
        advice = _OS_FAULTS.get(errno.errorcode.get(error.errno, ""))
        if advice is None:
            return None
        what = excerpt(str(error.filename), 200) if error.filename else place
        return StorageError(f"{what}: {error.strerror or detail}: {advice}")
    return None


class Unexpected(LitwatchError):
    """An exception litwatch did not foresee (a bug, or a fault no rule covers), wrapped so that
    it is reported as one line and the next source, file or step still runs. A storage fault
    (a full disk, a damaged file...) is said as such, with what to do."""

    def __init__(self, error: BaseException):
        from .redact import excerpt

        fault = storage_fault(error)
        super().__init__(str(fault) if fault else f"unexpected {type(error).__name__}: {excerpt(str(error), 300)} "
                                                  f"(run with -v for the traceback)")
        self.error = error


def debugging() -> bool:
    """Whether ``LITWATCH_DEBUG`` is set: unexpected exceptions then propagate with their
    traceback instead of becoming one line (the test suite sets it, so a bug fails a test)."""
    import os

    return os.environ.get("LITWATCH_DEBUG", "") not in ("", "0")
