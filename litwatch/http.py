"""The HTTP layer every source shares: one Session, a client-side rate limit, retries with
exponential backoff and jitter, and a deadline on every request, so that no server, however
slow or hostile, holds a run (and the database's write lock) for longer than it was given.

Every message it produces names the URL without its query string, is redacted (see
:mod:`litwatch.redact`) and fits on one line. Redirects are followed only within the same
origin, bodies are bounded in size, and a service that refuses connections is given up on
after two quick attempts (:class:`~litwatch.errors.Unreachable`) instead of after the long
backoff meant for overloaded servers.

The ideas it leans on live in their own modules: when to try again and how long to wait in
:mod:`litwatch.retry` (:class:`~litwatch.retry.Retry`), deadlines and the watch that holds a
socket to one in :mod:`litwatch.deadline`, and the words of its messages in
:mod:`litwatch.error_text`.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

import requests

from .deadline import Deadline, Watch, WatchedAdapter
from .error_text import ERROR_BODY_BYTES, describe_failure, error_text, where as _where
from .errors import (DeadlineExceeded, HttpError, HttpStatusError, LitwatchError, ResponseTooLarge,
                     ServiceUnavailable, TransientResponse, Unreachable)
from .redact import SECRET_NAME, printable, redact, register, register_url
from .retry import Retry
from .version import __version__

__all__ = ["ERROR_BODY_BYTES", "USER_AGENT", "Deadline", "HttpClient", "HttpStats", "RateLimiter", "Retry",
           "probe", "redact"]

T = TypeVar("T")
log = logging.getLogger(__name__)

USER_AGENT = f"litwatch/{__version__} (+https://github.com/litwatch/litwatch)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
MAX_BYTES = 256 * 2 ** 20
CHUNK_BYTES = 64 * 2 ** 10
_POLICY = Retry()  # the default retry policy, whose settings a client starts from


class RateLimiter:
    """Spaces calls at least ``1/per_second`` seconds apart (monotonic clock, no busy wait)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep or _sleep
        self._next = 0.0

    def wait(self) -> None:
        """Block until the next call is allowed, then reserve its slot."""
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@dataclass
class HttpStats:
    """What a client did, for run summaries."""

    requests: int = 0
    retries: int = 0


def _outcome(response: requests.Response, parse: Callable[[requests.Response], Any] | None, retry: Retry
             ) -> tuple[bool, Any, str, str | None]:
    """What one answer means: ``(True, value, "", None)`` when it is final, or ``(False,
    None, why, retry_after)`` when it should be asked again (a status ``retry`` retries, a
    body ``parse`` calls a passing fault; ``retry_after`` is the header, if any). Any other
    4xx raises :class:`HttpStatusError` with its text."""
    status = response.status_code
    if retry.retries_status(status):
        text = error_text(response)
        return False, None, f"HTTP {status}: {text}" if text else f"HTTP {status}", response.headers.get(
            "Retry-After")
    if status >= 400:
        text = error_text(response) or "(empty body)"
        raise HttpStatusError(f"{_where(response.url)} answered HTTP {status}: {text}", status, text)
    if parse is None:
        return True, response, "", None
    try:
        return True, parse(response), "", None
    except TransientResponse as e:
        return False, None, printable(str(e)), None


@dataclass
class HttpClient:
    """Sends requests to one service, politely and persistently, and never for too long.

    :param per_second: client-side rate limit for this service.
    :param timeout: ``(connect, read)`` seconds for one socket operation.
    :param total_timeout: seconds one :meth:`request` may take in all: every attempt's
        connect, headers and body, and the waits between attempts.
    :param budget: a run-wide :class:`Deadline`; no request starts or runs past it.
    :param max_attempts: tries per request (first try included) on transient faults.
    :param backoff: base delay in seconds of the waits after timeouts, resets, 429 and 5xx
        answers (doubling from try to try, capped at ``max_backoff``: see
        :class:`~litwatch.retry.Retry`) unless the server sent ``Retry-After``.
    :param connect_backoff: the delay after a refused connection, an unreachable network
        or a failed DNS lookup: retrying those soon rarely helps, so a service that is
        down costs about a second, not minutes.
    :param unreachable_attempts: tries when the service cannot be reached at all (at most
        ``max_attempts``); then :class:`Unreachable` is raised.
    :param max_bytes: the largest response body accepted.
    :param secrets: strings never to show in a message (an ``api_key``, ``password`` or
        ``token`` sent as a parameter, and a URL's password, are registered by themselves).

    ``max_attempts``, ``backoff``, ``max_backoff``, ``connect_backoff`` and
    ``unreachable_attempts`` make the client's :attr:`retry` policy (a
    :class:`~litwatch.retry.Retry`), which decides whether and when to try again.
    """

    per_second: float = 3.0
    timeout: tuple[float, float] = (10.0, 120.0)
    total_timeout: float = 300.0
    budget: Deadline | None = None
    max_attempts: int = _POLICY.attempts
    backoff: float = _POLICY.backoff
    max_backoff: float = _POLICY.max_backoff
    connect_backoff: float = _POLICY.connect_backoff
    unreachable_attempts: int = _POLICY.unreachable_attempts
    max_bytes: int = MAX_BYTES
    secrets: Iterable[str] = ()
    sleep: Callable[[float], None] | None = None
    session: requests.Session = field(default_factory=requests.Session)
    stats: HttpStats = field(default_factory=HttpStats)

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = USER_AGENT
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, WatchedAdapter())
        self.limiter = RateLimiter(self.per_second, sleep=self.sleep)
        for secret in self.secrets:
            register(secret)

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                data: Mapping[str, Any] | None = None,
                parse: Callable[[requests.Response], T] | None = None) -> T | requests.Response:
        """Send a request and return ``parse(response)`` (or the response, body read).

        Connection errors, timeouts, 429 and 5xx answers are retried, as is any
        :class:`TransientResponse` raised by ``parse`` (a truncated body, an error
        page in a 200). Other 4xx answers raise :class:`HttpStatusError` at once with the
        body's meaningful text. :class:`ServiceUnavailable` is raised when retries run
        out, :class:`Unreachable` (a subclass) when the service could not be reached at all,
        :class:`DeadlineExceeded` when the time runs out.
        """
        _register_secrets(url, params, data)
        where = _where(url)
        deadline = Deadline(self.total_timeout)
        if self.budget is not None:
            self.budget.check(f"{where} not started")
        retry = self.retry
        last, unreachable, attempt, refused = "", 0, 0, False
        while True:
            attempt += 1
            if attempt > 1:
                self.stats.retries += 1
            if not refused:  # a refused attempt reached no server, so its slot is still free
                self.limiter.wait()
            retry_after: str | None = None
            refused = False
            try:
                response = self._attempt(method, url, params, data, deadline, where)
            except DeadlineExceeded as e:
                raise DeadlineExceeded(f"{e} (last: {last})" if last else str(e)) from None
            except retry.exceptions as e:
                last, refused = describe_failure(e)
                unreachable += refused
            except requests.RequestException as e:  # a malformed URL or header: retrying won't help
                raise HttpError(f"{where}: {describe_failure(e)[0]}") from None
            else:
                final, value, last, retry_after = _outcome(response, parse, retry)
                if final:
                    return value
            if not retry.should_retry(attempt, unreachable):
                break
            self._pause(retry.next_delay(attempt, retry_after=retry_after, refused=refused), deadline, where,
                        attempt, last)
        tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
        raise (Unreachable if refused else ServiceUnavailable)(f"{where} failed after {tries} (last: {last})")

    @property
    def retry(self) -> Retry:
        """The retry policy this client's settings make."""
        return Retry(attempts=self.max_attempts, backoff=self.backoff, max_backoff=self.max_backoff,
                     connect_backoff=self.connect_backoff, unreachable_attempts=self.unreachable_attempts)

    def _pause(self, delay: float, own: Deadline, where: str, attempt: int, last: str) -> None:
        """Wait ``delay`` seconds before the next attempt, unless that would run past the deadline."""
        if delay >= self._deadline(own).remaining():
            raise self._expired(own, where, last, waiting=True)
        log.info("retrying %s in %.1f s (attempt %d of %d failed: %s)", where, delay, attempt,
                 self.max_attempts, last)
        (self.sleep or _sleep)(delay)

    def get(self, url: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("GET", url, params=params, **kw)

    def post(self, url: str, data: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("POST", url, data=data, **kw)

    def _attempt(self, method: str, url: str, params: Mapping[str, Any] | None,
                 data: Mapping[str, Any] | None, own: Deadline, where: str) -> requests.Response:
        """One try: connect, send, follow same-origin redirects, read the body, all
        before the deadline. A 4xx/5xx body is read only as far as needed to quote it."""
        self.stats.requests += 1
        deadline = self._deadline(own)
        try:
            with Watch(deadline.remaining()) as watch:
                response = self._open(method, url, params, data, deadline, where)
                try:
                    if response.status_code >= 400:
                        body = _read(response, ERROR_BODY_BYTES, deadline, where, truncate=True)
                    else:
                        body = _read(response, self.max_bytes, deadline, where, truncate=False)
                finally:
                    response.close()
                if watch.fired:  # the shutdown can end a body early in a way that looks complete
                    raise self._expired(own, where)
        except DeadlineExceeded:
            raise self._expired(own, where) from None
        except LitwatchError:
            raise
        except Exception:
            if deadline.expired:  # whatever broke, it broke because the watch shut the socket
                raise self._expired(own, where) from None
            raise
        # Storing the body where requests keeps it makes .content, .text and .json()
        # work as usual for ``parse`` hooks, with nothing left to read from the socket.
        response._content = body
        return response

    def _open(self, method: str, url: str, params: Mapping[str, Any] | None,
              data: Mapping[str, Any] | None, deadline: Deadline, where: str) -> requests.Response:
        """Send the request and follow redirects within its origin; return the final
        response, headers read, body not yet.

        requests would follow any redirect and re-send a POST body (and with it an API
        key) to whatever host a 307/308 names; here a redirect to another scheme, host
        or port is refused instead.
        """
        # A URL's user:pass@ would be lost on the hop to a Location without one; the hop
        # stays within the origin, so the credentials may go along.
        auth = requests.utils.get_auth_from_url(url)
        for hop in range(MAX_REDIRECTS + 1):
            if hop:
                self.limiter.wait()
            connect, read = self.timeout
            remaining = max(deadline.remaining(), 0.001)
            response = self.session.request(method, url, params=params, data=data, stream=True,
                                            allow_redirects=False, auth=auth if any(auth) else None,
                                            timeout=(min(connect, remaining), min(read, remaining)))
            if response.status_code not in REDIRECT_STATUSES or not response.headers.get("Location"):
                return response
            target = urllib.parse.urljoin(response.url, response.headers["Location"])
            response.close()
            if _origin(target) != _origin(response.url):
                raise HttpError(f"{where} redirected (HTTP {response.status_code}) to {_where(target)}, "
                                f"another origin; not followed", status=response.status_code)
            if response.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
                method, data = "GET", None  # as browsers do: the body is not sent again
            url, params = target, None  # the Location carries its own query
        raise HttpError(f"{where} redirected more than {MAX_REDIRECTS} times; not followed",
                        status=response.status_code)

    def _deadline(self, own: Deadline) -> Deadline:
        """The request's deadline or the run's budget, whichever comes first."""
        if self.budget is not None and self.budget.at < own.at:
            return self.budget
        return own

    def _expired(self, own: Deadline, where: str, last: str = "", waiting: bool = False) -> DeadlineExceeded:
        if self._deadline(own) is own:
            limit = f"the {self.total_timeout:g} s allowed for one request"
        else:
            limit = f"the run's time budget of {self.budget.seconds:g} s"  # type: ignore[union-attr]
        verb = "has no time left to retry within" if waiting else "did not complete within"
        return DeadlineExceeded(f"{where} {verb} {limit}" + (f" (last: {last})" if last else ""))


def probe(url: str, timeout: float = 5.0) -> bool:
    """Whether a service answers at all: one GET, no retries, no redirect followed, no
    body read, at most ``timeout`` seconds in all. Any HTTP answer, even an error, counts."""
    session = HttpClient(per_second=0).session
    try:
        with Watch(timeout) as watch:
            session.get(url, stream=True, allow_redirects=False, timeout=(timeout, timeout)).close()
        return not watch.fired
    except (requests.RequestException, ValueError):  # ValueError: a URL http.client rejects
        return False
    finally:
        session.close()


# --- Reading bodies ----------------------------------------------------------------------

def _read(response: requests.Response, limit: int, deadline: Deadline, where: str, *,
          truncate: bool) -> bytes:
    """The body, decoded, at most ``limit`` bytes: cut there if ``truncate``, else refused."""
    declared = response.headers.get("Content-Length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"{where} announced a body of {_size(int(declared))}, more than the "
                               f"{_size(limit)} accepted; not read", status=response.status_code)
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            if truncate:
                chunks.append(chunk[:limit - size])
                break
            raise ResponseTooLarge(f"{where} sent a body larger than the {_size(limit)} accepted; "
                                   f"stopped reading", status=response.status_code)
        chunks.append(chunk)
        if deadline.expired:
            raise DeadlineExceeded(where)  # replaced by the caller's message
    return b"".join(chunks)


def _size(n: int) -> str:
    for unit, scale in (("GB", 2 ** 30), ("MB", 2 ** 20), ("KB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.0f} {unit}"
    return f"{n} bytes"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1  # malformed: matches nothing
    return scheme, (parts.hostname or "").lower(), port


def _register_secrets(url: str, *fields: Mapping[str, Any] | None) -> None:
    register_url(url)
    for values in fields:
        for name, value in (values or {}).items():
            if isinstance(name, str) and isinstance(value, str) and SECRET_NAME.fullmatch(name):
                register(value)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so tests can patch time.sleep

