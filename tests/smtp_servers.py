"""SMTP servers on 127.0.0.1 that misbehave the way real ones do, each a raw socket in a
thread so that every reply and every pause is the test's: a server that accepts the message
and then drops the connection (before or after its 250), one that refuses some recipients,
one that echoes the login it refused, one that trickles its greeting forever.

Pauses wait on ``server.stopping`` (not ``time.sleep``, which some tests patch), so every
thread ends when the test does. The messages a server accepted (its DATA read in full) are
in ``server.messages``, whatever it answered after.
"""

from __future__ import annotations

import base64
import socket
import ssl
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from hostile_servers import listening


@dataclass
class Envelope:
    sender: str
    recipients: list[str]
    content: bytes


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Envelope] = field(default_factory=list)
    connections: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    # Set when the client's connection ended (the server saw it close, or closed it).
    ended: threading.Event = field(default_factory=threading.Event)

    def pause(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise ConnectionAbortedError("server stopping")


@dataclass
class Script:
    """How the server behaves.

    ``after_data``: "250" (accept), "drop" (read the whole message, then hang up without a
    reply) or "250-drop" (accept with 250, then hang up before QUIT is answered).
    ``refuse``: recipients answered 550. ``auth``: the reply to AUTH, given the login as
    sent (base64) and decoded (None: login accepted). ``trickle``: seconds between the bytes of a greeting
    that never ends.
    """

    after_data: str = "250"
    refuse: frozenset[str] = frozenset()
    auth: Callable[[str, str], str] | None = None
    trickle: float | None = None


@contextmanager
def smtp_server(script: Script | None = None) -> Iterator[SmtpServer]:
    """Run ``script`` for every connection on a free port of 127.0.0.1."""
    script = script or Script()
    stopping = threading.Event()

    def handle(conn: socket.socket) -> None:
        server.connections += 1
        with conn:
            try:
                _converse(conn, conn.makefile("rb"), server, script)
            except (OSError, ConnectionAbortedError):
                pass
            finally:
                server.ended.set()

    with listening(handle, stopping) as port:
        server = SmtpServer("127.0.0.1", port, stopping=stopping)
        yield server


def _converse(conn: socket.socket, reader, server: SmtpServer, script: Script) -> None:
    def say(line: str) -> None:
        conn.sendall(line.encode() + b"\r\n")

    if script.trickle is not None:
        conn.sendall(b"220")
        while True:
            server.pause(script.trickle)
            conn.sendall(b"-")
    say("220 stand-in ESMTP")
    sender, recipients = "", []
    while True:
        line = reader.readline()
        if not line:
            return
        verb, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        verb = verb.upper()
        if verb in ("EHLO", "HELO"):
            say("250-stand-in\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN" if verb == "EHLO" else "250 stand-in")
        elif verb == "AUTH":
            mechanism, _, initial = rest.partition(" ")
            sent = _login(mechanism.upper(), initial, reader, say)
            say(script.auth(sent, base64.b64decode(sent).decode("utf-8", "replace")) if script.auth
                else "235 2.7.0 Authentication successful")
        elif verb == "MAIL":
            sender, recipients = rest.split(":", 1)[1].strip().strip("<>"), []
            say("250 OK")
        elif verb == "RCPT":
            address = rest.split(":", 1)[1].strip().strip("<>")
            if address in script.refuse:
                say(f"550 5.1.1 <{address}>: mailbox unavailable")
            else:
                recipients.append(address)
                say("250 OK")
        elif verb == "DATA":
            if not _data(conn, reader, say, server, script, Envelope(sender, recipients, b"")):
                return
        elif verb == "QUIT":
            say("221 Bye")
            return
        else:  # RSET, NOOP
            say("250 OK")


def _data(conn: socket.socket, reader, say: Callable[[str], None], server: SmtpServer, script: Script,
          envelope: Envelope) -> bool:
    """Read a message and answer as the script says; False when the connection is to end."""
    say("354 End data with <CR><LF>.<CR><LF>")
    while not envelope.content.endswith(b"\r\n.\r\n"):
        chunk = reader.readline()
        if not chunk:
            return False
        envelope.content += chunk
    server.messages.append(envelope)
    if script.after_data == "drop":
        return False
    say("250 2.0.0 Ok: queued")
    if script.after_data == "250-drop":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False  # closed with a reset: the client's QUIT meets a dead connection
    return True


def _login(mechanism: str, initial: str, reader, say: Callable[[str], None]) -> str:
    """The login the client sent, in base64 (AUTH PLAIN: ``\\0user\\0password``; LOGIN: the
    password), so a script can echo it as careless servers do."""
    if mechanism == "PLAIN":
        if not initial:
            say("334 ")
            initial = reader.readline().decode().strip()
        return initial
    say("334 VXNlcm5hbWU6")
    reader.readline()
    say("334 UGFzc3dvcmQ6")
    return reader.readline().decode().strip()


# A self-signed certificate for 127.0.0.1 and localhost, valid from 2000 to 2100 (made once with
# `openssl ca -selfsign -startdate 20000101000000Z -enddate 21000101000000Z`), for TLS stand-ins
# (aiosmtpd's ssl_context and tls_context): a test trusts it through SSL_CERT_FILE, so that
# litwatch's own TLS set-up, default context and host name check included, is what runs.
CERT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIDGDCCAgCgAwIBAgIBATANBgkqhkiG9w0BAQsFADAUMRIwEAYDVQQDDAlsb2Nh
bGhvc3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNV
BAMMCWxvY2FsaG9zdDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBANWp
dVupUmCSPuCwWMqmqXiQj1x1Gd+dpXNt20WEbXhkaJisLB9BzyocpZ+oWJhnHWmy
RoMyc0RIHDTTu+EQ+/kRELyf7cdXeiFPMUFA6O6cVRsUOp+HSVVhwPx3VwxXlX27
18s4rRsZxqK+nyCvYcYkn5bXrJk8W+FS/+XVBjtTsYeUsUJijLOJfdd9b9tsZx47
gcpnoD06TD0xprqSKC1RhgRgnttQGpdV/cFBEGTsKcGyWJRE4lqLkmIza60VUBgd
cgv49wjooa73z3fTRmx9WUDxwGsaVY38MuyXMA2B4kZq6KoovDsJbjvGJOuPnNU2
Z9V8Y/jPF0fJJSyS1c0CAwEAAaNzMHEwGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxo
b3N0MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgKkMBMGA1UdJQQMMAoG
CCsGAQUFBwMBMB0GA1UdDgQWBBSsqIW2qvIM49rHbLFbelEJie3XljANBgkqhkiG
9w0BAQsFAAOCAQEAsqseZtjIGSREmL7w79j93Jd1+hrdeMtonTtv1jAi+rd2eU+8
Sj5/0ruTwyx26nSJgqrC0tg0zeNv/YyiO7bUsKXZSEIG33AWj0Jj6bcPHadWUVRp
ZwZPB0Oi/t6fLGxC1pAp468EvVKGnGEabz3udBID3umyfVe+66YBf3JOneCTUbvn
f+bU9Oq1shZHPr/5aBHwLwJevfBfeFY6RFR7Bw4rV74wdLU2lDuVJoFKbvhb4cpt
R9xubAkHDvbkhzPUIiRY/LL7/w9QE3wFJ7tzOkj3YbHfSd6ARS/op4xTrZQ9sFtv
lt9mxy/z+R6jQZTsgV4m3KgTMYgFVUuoORXBaQ==
-----END CERTIFICATE-----
"""
KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDVqXVbqVJgkj7g
sFjKpql4kI9cdRnfnaVzbdtFhG14ZGiYrCwfQc8qHKWfqFiYZx1pskaDMnNESBw0
07vhEPv5ERC8n+3HV3ohTzFBQOjunFUbFDqfh0lVYcD8d1cMV5V9u9fLOK0bGcai
vp8gr2HGJJ+W16yZPFvhUv/l1QY7U7GHlLFCYoyziX3XfW/bbGceO4HKZ6A9Okw9
Maa6kigtUYYEYJ7bUBqXVf3BQRBk7CnBsliUROJai5JiM2utFVAYHXIL+PcI6KGu
989300ZsfVlA8cBrGlWN/DLslzANgeJGauiqKLw7CW47xiTrj5zVNmfVfGP4zxdH
ySUsktXNAgMBAAECggEADe/u4trJr9j6VwfJ0vZKKb4sS9irpmWPLFdnLUK1LVxH
YmYgvq05SULzHtYJaW+YgJOLe/VnhXW6uUtyfvzvotCVKei4xv8SzWdwDBSi3SW/
e3O3Wz6k7vfgcdeLCxgPfVMqgWwiBpmI1obetHAcTaOH8XwCG0DPsYQLgz+BF4+A
iqg83aYysQy2FeZbYFVubxPh85OVXgPLEZViHa9XwZZGY0p/4JTa2EXernZYSPfV
ZeAJ9R6LBKwEZSFUbe3BMlsE8XTFlXt0Dhwm6rRw2glJ3g3bIdifXUoQ/3nV9jE/
0ky4A36jfEAoqiu5JLHuY+jpKJEmius8HV/+b7aTYQKBgQDsOhP2IG9aNKjoMvwS
ZRrI+hhgYrToJu6M6c8ioVSpgyFXjPAtd/lcvTTjSKyGI71Apl/JSVVYwV6ikW/0
AYssVJPrmnjtqRO1bv5lRntY3JCYJXO7So5iANoeMIv7/pYI9ZHfg1xc8n9rDtWz
w5SxWLEHtEwgwHfSXzBxf99ViQKBgQDni9q0MWVfsUZRVt7Tc0a7og1kJazLRhKs
f/h7LAQZtMkf0jqJwW5esLUTvoWk8Zdxxvsj+QusnfbManCdntVYZPgNJtfSoEN+
oVTqHIrqPXUdIIn8SEOKSD3ozswPd9LgeAnxAYMTmQsQv88g0/W0dqJqKVBpx9WA
KAGRf7pxJQKBgCHU54r2djwrEo2+z48q370s5FTZjiM5gCy6R6okBOYKG7pYOwWo
CxSXHH34qIzFjZM2wL0pPYnql80cmzYNCoucyVqS0wLmliYD8Xc7suq1HBhONNb8
BIxQpuxv83xxp7c8xFmIjK/bIxiIFV8bga4sj54U2lpOdlqwu1VmBOxRAoGBAJK0
9hl9wrFi7R7UX9KyE3sHLlzp0hXpjCNn4dSJCwAOn/Bdj2GBAaFVbSXZbWwY9s/M
N4uPXGo+nATg3AHChYLAVrpehhiaGqm9JsQ+2XWZAv81grgqQUD4jOFZRcn3LdGz
vPjK8HYWXgB6x44RPnjdQgLpsl2TlB7jOjsqJsNRAoGASyEex1qMMJH4PCQ0/JOq
EyZuMuspO0+KlqVh3JQgtCiEaK/oGWQaZFd1yKwMrOHpcUON6QLYQCrT4cwD3U+S
lWLXP7zXORi3JIxVqvnlg/ZQiVjcxFPmK5y1e3GLQ6/ownJyNrcseahQ1DcHZeFi
OOnSt7CkTWvzIX2WCc4mlgU=
-----END PRIVATE KEY-----
"""


def tls_context(folder) -> ssl.SSLContext:
    """A server context with the stand-in certificate; its file is ``folder / "cert.pem"``."""
    (folder / "cert.pem").write_text(CERT_PEM)
    (folder / "key.pem").write_text(KEY_PEM)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


# ------------------------------------------- a well-behaved server (aiosmtpd) --

class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_env(controller, **extra):
    """The environment that points ``litwatch notify`` at a server on 127.0.0.1 (``controller``:
    anything with its ``port``), plaintext, with ``extra`` variables over the defaults."""
    return {"LITWATCH_SMTP_HOST": "127.0.0.1", "LITWATCH_SMTP_PORT": str(controller.port),
            "LITWATCH_SMTP_SECURITY": "none", "LITWATCH_NOTIFY_FROM": "litwatch <watch@example.org>",
            "LITWATCH_NOTIFY_TO": "writer@example.org", **extra}
