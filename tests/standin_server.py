"""Serve a stand-in's ``handle(path, params)`` over real HTTP on 127.0.0.1, for CLI tests."""

from __future__ import annotations

import http.server
import marshal
import threading
import urllib.parse
from contextlib import contextmanager
from typing import Callable, Iterator

Handle = Callable[[str, dict[str, str]], tuple[int | str, dict[str, str], bytes]]


def copied(data):
    """A deep copy of JSON data (dicts, lists, strings, numbers) for a stand-in to own: several
    times faster than ``copy.deepcopy`` and than a round trip through ``json``."""
    return marshal.loads(marshal.dumps(data))


@contextmanager
def serve(handle: Handle, base_path: str) -> Iterator[str]:
    """Run a threaded HTTP server on a free port; yield ``http://127.0.0.1:PORT{base_path}``.

    GET query parameters and POST form bodies both reach ``handle`` as one dict. A status of
    "reset" drops the connection unanswered; "truncated" sends half the body it announces.
    """
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, body: bytes) -> None:
            url = urllib.parse.urlsplit(self.path)
            params = dict(urllib.parse.parse_qsl(url.query))
            params.update(urllib.parse.parse_qsl(body.decode()))
            status, headers, payload = handle(url.path, params)
            if status == "reset":  # drop the connection without answering
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if status == "truncated":  # promise more bytes than are sent, then hang up
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload) + 1000))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.close_connection = True
                return
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self._answer(b"")

        def do_POST(self):
            self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll: shutdown() waits for the loop to notice, half a second at the default.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{base_path}"
    finally:
        server.shutdown()
        server.server_close()


class StandinServices:
    """The three services' stand-ins served on 127.0.0.1 together; entered, it gives the
    environment that points litwatch at them."""

    def __init__(self, eutils, ctgov, europepmc):
        self.eutils, self.ctgov, self.europepmc = eutils, ctgov, europepmc

    def __enter__(self) -> dict[str, str]:
        self._servers = [self.eutils.serve(), self.ctgov.serve(), self.europepmc.serve()]
        urls = [s.__enter__() for s in self._servers]
        return {"LITWATCH_EUTILS_URL": urls[0], "LITWATCH_CTGOV_URL": urls[1], "LITWATCH_EUROPEPMC_URL": urls[2]}

    def __exit__(self, *exc) -> None:
        for s in reversed(self._servers):
            s.__exit__(*exc)
