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


class Unexpected(LitwatchError):
    """An exception litwatch did not foresee (a bug, or a fault no rule covers), wrapped so that
    it is reported as one line and the next source, file or step still runs."""

    def __init__(self, error: BaseException):
        from .redact import excerpt

        super().__init__(f"unexpected {type(error).__name__}: {excerpt(str(error), 300)} "
                         f"(run with -v for the traceback)")
        self.error = error


def debugging() -> bool:
    """Whether ``LITWATCH_DEBUG`` is set: unexpected exceptions then propagate with their
    traceback instead of becoming one line (the test suite sets it, so a bug fails a test)."""
    import os

    return os.environ.get("LITWATCH_DEBUG", "") not in ("", "0")
