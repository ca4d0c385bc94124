"""The HTTP layer every source shares: one Session, a client-side rate limit, retries with
exponential backoff and jitter, and a deadline on every request, so that no server, however
slow or hostile, holds a run (and the database's write lock) for longer than it was given.

Every message it produces names the URL without its query string, is redacted (see
:mod:`litwatch.redact`) and fits on one line. Redirects are followed only within the same
origin, bodies are bounded in size, and a service that refuses connections is given up on
after two quick attempts (:class:`~litwatch.errors.Unreachable`) instead of after the long
backoff meant for overloaded servers.
"""

from __future__ import annotations

import email.utils
import html
import json
import logging
import random
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from . import __version__
from .errors import (DeadlineExceeded, HttpError, HttpStatusError, LitwatchError, ResponseTooLarge,
                     ServiceUnavailable, TransientResponse, Unreachable)
from .redact import SECRET_NAME, printable, redact, register, register_url

__all__ = ["USER_AGENT", "Deadline", "HttpClient", "HttpStats", "RateLimiter", "probe", "redact"]

T = TypeVar("T")
log = logging.getLogger(__name__)

USER_AGENT = f"litwatch/{__version__} (+https://github.com/litwatch/litwatch)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
MAX_BYTES = 256 * 2 ** 20
# An error body is only quoted, never parsed whole: its first 64 KiB are plenty.
ERROR_BODY_BYTES = 64 * 2 ** 10
CHUNK_BYTES = 64 * 2 ** 10
# Tries when a service cannot be reached at all: a second one rides out a blip (a server
# restarting), more only delay the run's "offline" verdict.
UNREACHABLE_ATTEMPTS = 2
MESSAGE_CHARS = 300


class Deadline:
    """A moment, on the monotonic clock, that work must not run past: a run's time budget.

    Give one to every :class:`HttpClient` of a run (``HttpClient(budget=Deadline(3600))``)
    and no request starts, waits to retry or keeps reading after it.
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self, what: str = "the run") -> None:
        """Raise :class:`DeadlineExceeded` if the deadline has passed."""
        if self.expired:
            raise DeadlineExceeded(f"{_clean(what)}: the time budget of {self.seconds:g} s is spent")


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



def _outcome(response: requests.Response, parse: Callable[[requests.Response], Any] | None
             ) -> tuple[bool, Any, str, float | None]:
    """What one answer means: ``(True, value, "", None)`` when it is final, or ``(False,
    None, why, retry_after)`` when it should be asked again (429, 5xx, a body ``parse``
    calls a passing fault). Any other 4xx raises :class:`HttpStatusError` with its text."""
    status = response.status_code
    if status in RETRY_STATUSES:
        text = _error_text(response)
        return False, None, f"HTTP {status}: {text}" if text else f"HTTP {status}", _retry_after(
            response.headers.get("Retry-After"))
    if status >= 400:
        text = _error_text(response) or "(empty body)"
        raise HttpStatusError(f"{_where(response.url)} answered HTTP {status}: {text}", status, text)
    if parse is None:
        return True, response, "", None
    try:
        return True, parse(response), "", None
    except TransientResponse as e:
        return False, None, _clean(str(e)), None

@dataclass
class HttpClient:
    """Sends requests to one service, politely and persistently, and never for too long.

    :param per_second: client-side rate limit for this service.
    :param timeout: ``(connect, read)`` seconds for one socket operation.
    :param total_timeout: seconds one :meth:`request` may take in all: every attempt's
        connect, headers and body, and the waits between attempts.
    :param budget: a run-wide :class:`Deadline`; no request starts or runs past it.
    :param max_attempts: tries per request (first try included) on transient faults.
    :param backoff: base delay in seconds; the n-th retry waits about ``backoff * 2**n``
        (full jitter, capped at ``max_backoff``) unless the server sent ``Retry-After``.
        Timeouts, resets, 429 and 5xx answers wait this long.
    :param connect_backoff: the delay after a refused connection, an unreachable network
        or a failed DNS lookup: retrying those soon rarely helps, so a service that is
        down costs about a second, not minutes.
    :param unreachable_attempts: tries when the service cannot be reached at all (at most
        ``max_attempts``); then :class:`Unreachable` is raised.
    :param max_bytes: the largest response body accepted.
    :param secrets: strings never to show in a message (an ``api_key``, ``password`` or
        ``token`` sent as a parameter, and a URL's password, are registered by themselves).
    """

    per_second: float = 3.0
    timeout: tuple[float, float] = (10.0, 120.0)
    total_timeout: float = 300.0
    budget: Deadline | None = None
    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    connect_backoff: float = 0.25
    unreachable_attempts: int = UNREACHABLE_ATTEMPTS
    max_bytes: int = MAX_BYTES
    secrets: Iterable[str] = ()
    sleep: Callable[[float], None] | None = None
    session: requests.Session = field(default_factory=requests.Session)
    stats: HttpStats = field(default_factory=HttpStats)

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = USER_AGENT
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, _WatchedAdapter())
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
        last, unreachable, attempt, refused = "", 0, 0, False
        while True:
            attempt += 1
            if attempt > 1:
                self.stats.retries += 1
            if not refused:  # a refused attempt reached no server, so its slot is still free
                self.limiter.wait()
            retry_after: float | None = None
            refused = False
            try:
                response = self._attempt(method, url, params, data, deadline, where)
            except DeadlineExceeded as e:
                raise DeadlineExceeded(f"{e} (last: {last})" if last else str(e)) from None
            except _TRANSIENT_ERRORS as e:
                last, refused = _describe_failure(e)
                unreachable += refused
                if refused and unreachable >= self.unreachable_attempts:
                    break
            except requests.RequestException as e:  # a malformed URL or header: retrying won't help
                raise HttpError(f"{where}: {_describe_failure(e)[0]}") from None
            else:
                final, value, last, retry_after = _outcome(response, parse)
                if final:
                    return value
            if attempt >= self.max_attempts:
                break
            if refused:
                delay = random.uniform(self.connect_backoff / 2, self.connect_backoff)
            else:
                delay = self._delay(attempt - 1, retry_after)
            if delay >= self._deadline(deadline).remaining():
                raise self._expired(deadline, where, last, waiting=True)
            log.info("retrying %s in %.1f s (attempt %d of %d failed: %s)", where, delay, attempt,
                     self.max_attempts, last)
            (self.sleep or _sleep)(delay)
        tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
        raise (Unreachable if refused else ServiceUnavailable)(f"{where} failed after {tries} (last: {last})")

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
            with _Watch(deadline.remaining()) as watch:
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

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        cap = min(self.max_backoff, self.backoff * 2 ** attempt)
        return random.uniform(cap / 2, cap)


def probe(url: str, timeout: float = 5.0) -> bool:
    """Whether a service answers at all: one GET, no retries, no redirect followed, no
    body read, at most ``timeout`` seconds in all. Any HTTP answer, even an error, counts."""
    session = HttpClient(per_second=0).session
    try:
        with _Watch(timeout) as watch:
            session.get(url, stream=True, allow_redirects=False, timeout=(timeout, timeout)).close()
        return not watch.fired
    except (requests.RequestException, ValueError):  # ValueError: a URL http.client rejects
        return False
    finally:
        session.close()


# --- Deadlines against trickling servers ----------------------------------------------
#
# Connect and read timeouts bound one socket operation each: a server that sends a byte
# of its headers or body every few seconds never trips them, and a request could last
# forever. Checking a clock between chunks bounds the body only when reads return often
# (a 64 KiB read of a trickle blocks for a day), and cannot reach the headers at all,
# which http.client reads line by line. Running the request in a worker thread and
# abandoning it at the deadline would leave that thread, and its socket, blocked for as
# long as the server cares to trickle.
#
# So each attempt runs under a watch: a timer thread that, at the deadline, shuts down
# the sockets the attempt uses. shutdown() wakes a thread blocked in recv or send on that
# socket at once, in any phase (TLS handshake, headers, body), without closing the file
# descriptor under the thread that uses it; urllib3 then sees a dead connection and
# discards it. The sockets reach the watch through connection classes mounted on the
# client's Session (requests has no way to hand per-request state down to a connection,
# hence the thread-local): a new connection registers its socket as soon as it is
# connected, before TLS, and a pooled one when a request is sent on it. The watch holds a
# duplicate of each descriptor and closes it when the attempt ends, so it can never shut
# down a descriptor number the process has since reused. To http.client a shutdown can
# look like the normal end of the headers or of a body without a length, so the watch's
# ``fired`` flag, not the outcome, decides whether the attempt ran out of time.
#
# The connect is bounded by the connect timeout, cut to the time left; a DNS lookup,
# which Python cannot interrupt, by the system resolver's own timeout. Without a socket
# to watch (a SOCKS proxy, a mocked adapter) the per-operation timeouts, cut to the time
# left, and the clock check after each chunk still apply.

_active = threading.local()


class _Watch:
    """Shuts down an attempt's sockets when its deadline passes."""

    def __init__(self, seconds: float):
        self.fired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.name = "litwatch-deadline"
        self._timer.daemon = True

    def __enter__(self) -> _Watch:
        _active.watch = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _active.watch = None
        with self._lock:
            self._done = True
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def attach(self, sock: socket.socket) -> None:
        try:
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except OSError:
            return
        with self._lock:
            if self._done:
                duplicate.close()
                return
            self._sockets.append(duplicate)
            if self.fired:
                _shut(duplicate)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


def _attach(sock: socket.socket) -> None:
    watch = getattr(_active, "watch", None)
    if watch is not None:
        watch.attach(sock)


class _Watched:
    """Hands each socket to the running attempt's watch."""

    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        _attach(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # a pooled connection, already connected
            _attach(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections that a deadline can interrupt."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is urllib3.ProxyManager:  # SOCKS managers keep their own pools
            manager.pool_classes_by_scheme = _POOLS
        return manager


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


# --- Messages ------------------------------------------------------------------------------

_DECLARATIONS = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>|<!\[CDATA\[|\]\]>"
                           r"|<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_ERROR_ELEMENT = re.compile(r"<(ERROR|errMsg|message|error)\b[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_JSON_FIELDS = ("error", "message", "errorMessage", "errMsg", "detail", "title")


def _error_text(response: requests.Response) -> str:
    """The meaningful text of an error body, redacted, on one line, capped in length."""
    body = response.content or b""
    # requests assumes Latin-1 for any text/* without a charset; error bodies are UTF-8 or ASCII.
    charset = re.search(r"charset=\"?([\w.:-]+)", response.headers.get("Content-Type", ""), re.IGNORECASE)
    try:
        text = body.decode(charset.group(1) if charset else "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", "replace")
    if len(body) >= ERROR_BODY_BYTES:
        text = re.sub(r"\S*\Z", "", text)  # a secret cut in half would escape redaction
    text = redact(text).strip()
    if text[:1] in ("{", "["):
        message = _json_message(text)
        if message:
            return _shorten(message)
    if text.startswith("<"):
        text = _DECLARATIONS.sub(" ", text)
        element = _ERROR_ELEMENT.search(text)
        if element:
            return _shorten(html.unescape(_TAG.sub(" ", element.group(2))))
        pieces = (html.unescape(piece).strip() for piece in _TAG.split(text))
        return _shorten(next((p for p in pieces if p), ""))
    return _shorten(next((line for line in text.splitlines() if line.strip()), ""))


def _json_message(text: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    for _ in range(3):  # {"error": {"message": ...}} and [{"error": ...}]
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            break
        value = next((data[k] for k in _JSON_FIELDS if data.get(k)), None)
        if isinstance(value, str):
            return value
        data = value
    return None


def _shorten(text: str) -> str:
    text = printable(" ".join(redact(text).split()))
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def _clean(text: str) -> str:
    return printable(redact(text))


def _where(url: str) -> str:
    """The URL without its query string, which may carry a key, safe to print."""
    return _clean(url.split("?", 1)[0].split("#", 1)[0])


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


_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                     requests.exceptions.ContentDecodingError)


def _describe_failure(e: requests.RequestException) -> tuple[str, bool]:
    """What went wrong, in a few words, and whether the service could not be reached at
    all (refused, unreachable, no such host): retrying that is quick or pointless."""
    causes = list(_causes(e))
    if any(isinstance(c, urllib3.exceptions.NameResolutionError) for c in causes):
        return "could not resolve the host name", True
    if isinstance(e, requests.ConnectTimeout):
        return "timed out connecting", False
    if isinstance(e, requests.Timeout):
        return "timed out", False
    if isinstance(e, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "the response was cut short", False
    if any(isinstance(c, NewConnectionError) for c in causes):
        return "could not connect", True
    if isinstance(e, requests.ConnectionError):
        text = str(e).lower()
        return ("connection reset" if "reset" in text or "aborted" in text else "could not connect"), False
    return _clean(f"{type(e).__name__}: {e}")[:MESSAGE_CHARS], False


def _causes(e: BaseException) -> Iterable[BaseException]:
    """An exception and those it wraps (requests wraps urllib3's, which wrap socket errors)."""
    seen: set[int] = set()
    todo = [e]
    while todo and len(seen) < 20:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [x for x in (current.__cause__, current.__context__, getattr(current, "reason", None),
                             *current.args) if isinstance(x, BaseException)]


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so tests can patch time.sleep


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
