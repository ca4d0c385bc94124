"""Deadlines: a moment work must not run past (:class:`Deadline`), and a watch that holds a
blocked socket to it (:class:`Watch`), so that no server, however slow, holds a request or
an SMTP conversation for longer than it was given.

The HTTP client (:mod:`litwatch.http`) mounts :class:`WatchedAdapter` on its Session and runs
each attempt under a :class:`Watch`; :mod:`litwatch.notify` hands its SMTP socket to one.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import DeadlineExceeded
from .redact import printable

__all__ = ["Deadline", "Watch", "WatchedAdapter"]


class Deadline:
    """A moment, on the monotonic clock, that work must not run past: a run's time budget.

    Give one to every :class:`~litwatch.http.HttpClient` of a run
    (``HttpClient(budget=Deadline(3600))``) and no request starts, waits to retry or keeps
    reading after it.
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
        """Whether no time is left."""
        return self.remaining() <= 0.0

    def check(self, what: str = "the run") -> None:
        """Raise :class:`DeadlineExceeded` if the deadline has passed."""
        if self.expired:
            raise DeadlineExceeded(f"{printable(what)}: the time budget of {self.seconds:g} s is spent")


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


class Watch:
    """Shuts down the sockets attached to it when ``seconds`` have passed.

    ``with Watch(5) as watch:`` makes it the running thread's watch, which sockets opened
    through :class:`WatchedAdapter` join by themselves; others join by :meth:`attach`.
    ``watch.fired`` tells afterwards whether the time ran out.
    """

    def __init__(self, seconds: float):
        self.fired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.name = "litwatch-deadline"
        self._timer.daemon = True

    def __enter__(self) -> Watch:
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
        """Watch ``sock`` (through a duplicate of its descriptor) until the watch ends."""
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


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections that a :class:`Watch` can interrupt."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is urllib3.ProxyManager:  # SOCKS managers keep their own pools
            manager.pool_classes_by_scheme = _POOLS
        return manager
