"""Hostile HTTP servers on 127.0.0.1, each a few lines on a raw socket in a thread, so
that every byte and every pause is the test's: servers that trickle their headers or
body, never end, announce a huge body, redirect to another origin, echo the API key in
an error, or refuse the connection outright; and stand-ins (tests/*_standin.py) that turn
hostile after a few good answers.

A responder gets the connection, the parsed request and the server; it writes what it
likes and returns. Pauses wait on ``server.stopping`` (not ``time.sleep``, which some
tests patch), so every thread ends when the test does.
"""

from __future__ import annotations

import http
import socket
import threading
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.target).path

    @property
    def params(self) -> dict[str, str]:
        """Query parameters and form fields, as one dict."""
        query = urllib.parse.parse_qsl(urllib.parse.urlsplit(self.target).query)
        return dict(query + urllib.parse.parse_qsl(self.body.decode("latin-1")))


Responder = Callable[[socket.socket, Request, "Server"], None]


@dataclass
class Server:
    url: str
    received: list[Request] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    # Set when a client went away while the server was still writing: its socket is closed.
    hung_up: threading.Event = field(default_factory=threading.Event)

    def pause(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise ConnectionAbortedError("server stopping")


@contextmanager
def listening(handle: Callable[[socket.socket], None], stopping: threading.Event) -> Iterator[int]:
    """Accept connections on a free port of 127.0.0.1 (yielded), each handled in a thread of
    its own, until the test ends: then ``stopping`` is set and the port closed."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # listener closed: the test is over
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        listener.close()


@contextmanager
def serve(respond: Responder) -> Iterator[Server]:
    """Run ``respond`` for every connection, one request per connection."""
    stopping = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                request = _read_request(conn)
                server.received.append(request)
                respond(conn, request, server)
            except (BrokenPipeError, ConnectionResetError):
                server.hung_up.set()
            except OSError:
                pass

    with listening(handle, stopping) as port:
        server = Server(f"http://127.0.0.1:{port}", stopping=stopping)
        yield server


@contextmanager
def refused_port() -> Iterator[str]:
    """A URL whose port refuses connections: bound (so no one else takes it), not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _read_request(conn: socket.socket) -> Request:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionAbortedError("client left before sending a request")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        body += conn.recv(65536)
    return Request(method, target, headers, body)


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


# --- Responders -----------------------------------------------------------------------

def answer(status: str, body: bytes = b"", content_type: str = "text/plain") -> Responder:
    """A plain, complete answer."""
    def respond(conn, request, server):
        conn.sendall(_head(status, {"Content-Type": content_type, "Content-Length": str(len(body))}) + body)
    return respond


def trickle_headers(interval: float) -> Responder:
    """A status line, then one byte of a header every ``interval`` seconds, forever."""
    def respond(conn, request, server):
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while True:
            server.pause(interval)
            conn.sendall(b"z")
    return respond


def trickle_body(interval: float) -> Responder:
    """Complete headers announcing a megabyte, then one byte every ``interval`` seconds."""
    def respond(conn, request, server):
        conn.sendall(_head("200 OK", {"Content-Length": "1000000"}))
        while True:
            server.pause(interval)
            conn.sendall(b"z")
    return respond


def endless_body() -> Responder:
    """A body with no length that never ends, as fast as the client reads it."""
    def respond(conn, request, server):
        conn.sendall(_head("200 OK", {"Content-Type": "application/json"}))
        chunk = b"[" + b"0," * 32767
        while not server.stopping.is_set():
            conn.sendall(chunk)
    return respond


def huge_announced(length: int) -> Responder:
    """Headers announcing ``length`` bytes, then nothing: a client that reads would wait."""
    def respond(conn, request, server):
        conn.sendall(_head("200 OK", {"Content-Length": str(length)}))
        server.stopping.wait()
    return respond


def redirect(status: str, location: Callable[[Request], str]) -> Responder:
    """A redirect to wherever ``location(request)`` says."""
    def respond(conn, request, server):
        conn.sendall(_head(status, {"Location": location(request), "Content-Length": "0"}))
    return respond


def echo_key(status: str = "400 Bad Request") -> Responder:
    """An error that repeats the API key it was sent, as NCBI's invalid-key answer does."""
    def respond(conn, request, server):
        key = request.params.get("api_key", "")
        body = f'{{"error":"API key invalid","api-key":"{key}","type":"api-key","status":"unknown"}}'.encode()
        conn.sendall(_head(status, {"Content-Type": "application/json", "Content-Length": str(len(body))}) + body)
    return respond


def keep_alive_then(second: Responder) -> Responder:
    """Answer a first request and keep the connection open; meet the next one on it with
    ``second``: a hostile turn on a connection the client has pooled."""
    def respond(conn, request, server):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        request = _read_request(conn)
        server.received.append(request)
        second(conn, request, server)
    return respond


def routes(table: dict[str, Responder]) -> Responder:
    """Dispatch on the request path."""
    def respond(conn, request, server):
        table[request.path](conn, request, server)
    return respond


def echo_request() -> Responder:
    """200 with the method and the body it received, to check what a redirect re-sent."""
    def respond(conn, request, server):
        body = f"{request.method} {request.body.decode('latin-1')}".encode()
        conn.sendall(_head("200 OK", {"Content-Length": str(len(body))}) + body)
    return respond


def standin(handle: Callable[[str, dict[str, str]], tuple]) -> Responder:
    """Answer as a stand-in's ``handle(path, params)`` does (see tests/standin_server.py)."""
    def respond(conn, request, server):
        status, headers, body = handle(request.path, request.params)
        head = _head(f"{status} {http.HTTPStatus(status).phrase}", {**headers, "Content-Length": str(len(body))})
        conn.sendall(head + body)
    return respond


def after(count: int, first: Responder, then: Responder) -> Responder:
    """The first ``count`` requests answered by ``first``, every later one by ``then``."""
    answered = []
    lock = threading.Lock()

    def respond(conn, request, server):
        with lock:
            answered.append(request)
            turn = len(answered)
        (first if turn <= count else then)(conn, request, server)
    return respond
