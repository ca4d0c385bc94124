"""Secrets never leave, on every path: an API key that a service echoes inside an HTTP 200
answer, and an SMTP password that a mail server echoes in its 535 reply, are sent down every
way litwatch has of saying something (stderr, the --json summary, runs.error and every other
stored text, the report, the feed, the digest, `litwatch runs`, the logs) and come out of
none of them, while the error that carried them is still told."""

import base64
import email
import email.policy
import logging
import sqlite3

import pytest
from click.testing import CliRunner

from litwatch.cli import cli

from ctgov_standin import CtgovStandin, load_studies
from europepmc_standin import EuropePmcStandin
from eutils_standin import XML_HEAD, EutilsStandin, load_records
from smtp_servers import Script, smtp_env, smtp_server
from standin_server import StandinServices
from test_report import TOML

KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e"  # shaped like an NCBI API key (36 hex digits)
PASSWORD = "smtp-Pa55-echoed-4417"
USER = "watcher"
FORMS = [KEY, PASSWORD] + [base64.b64encode(text.encode()).decode() for text in
                           (PASSWORD, f"\0{USER}\0{PASSWORD}")]


class EchoingEutils(EutilsStandin):
    """E-utilities that refuse the key inside a 200 answer and repeat it, as an ``<ERROR>``."""

    def handle(self, path, params):
        if path.endswith("esearch.fcgi"):
            key = params.get("api_key", "")
            body = f"<eSearchResult><ERROR>Invalid API key: {key} (api_key={key})</ERROR></eSearchResult>"
            return 200, {"Content-Type": "text/xml"}, XML_HEAD + body.encode()
        return super().handle(path, params)


def leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


@pytest.fixture
def world(tmp_path, monkeypatch, no_sleep):
    """A digital-therapeutics topic (PubMed and ClinicalTrials.gov), a key in the environment,
    and services: E-utilities that echo the key, ClinicalTrials.gov serving real studies."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "litwatch.toml").write_text(TOML)
    services = StandinServices(EchoingEutils(load_records()), CtgovStandin(load_studies(), page_size=60),
                               EuropePmcStandin([]))
    with services as env:
        yield {**env, "NCBI_API_KEY": KEY, "LITWATCH_DB": str(tmp_path / "litwatch.db")}


def run(env, *args):
    return CliRunner().invoke(cli, ["-v", *args], env=env)


@pytest.mark.slow
def test_an_api_key_echoed_in_a_200_answer_leaves_by_no_path(world, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    said = []
    for args in (["fetch", "--json"], ["fetch"], ["reconcile", "--json"], ["reconcile"],
                 ["update", "--json", "--format", "md", "-o", "report.md", "--feed", "feed.atom"],
                 ["update", "--format", "html", "-o", "report.html"]):
        result = run(world, *args)
        assert result.exit_code == 3, (args, result.output)  # PubMed failed, ClinicalTrials.gov did not
        said += [result.stdout, result.stderr]
    # the error is told, the key is not
    assert "Error: pubmed dtx-ptsd: NCBI esearch error: Invalid API key: *** (api_key=***" in said[3]
    assert '"error": "NCBI esearch error: Invalid API key: *** (api_key=***"' in said[0]
    for args in (["runs"], ["runs", "--json"], ["report"], ["feed"], ["notify", "--dry-run"]):
        result = run(world, *args)
        assert result.exit_code == 0, (args, result.output)
        said.append(result.output)
    assert "Monitoring gap: PubMed was not searched" in said[-1]  # the failure reaches the digest...
    assert "Invalid API key: ***" in said[-1] and "Invalid API key: ***" in said[-2]  # ...and the feed
    files = [(tmp_path / name).read_text() for name in ("report.md", "report.html", "feed.atom")]
    with sqlite3.connect(tmp_path / "litwatch.db") as db:
        stored = "\n".join(db.iterdump())
    assert "Invalid API key: ***" in stored
    assert leaks("\n".join(said + files + [stored, caplog.text])) == []


def test_the_digest_carries_no_secret(world, smtp):
    assert run(world, "fetch").exit_code == 3
    controller, inbox = smtp
    result = run({**world, **smtp_env(controller, LITWATCH_NOTIFY_FROM="watch@example.org")}, "notify")
    assert result.exit_code == 0, result.output
    (message,) = inbox.messages
    mail = email.message_from_bytes(message.content, policy=email.policy.default)
    text, html = (mail.get_body((kind,)).get_content() for kind in ("plain", "html"))
    assert "Invalid API key: ***" in text and "Invalid API key: ***" in html
    assert leaks(message.content.decode() + text + html) == []


@pytest.mark.slow
@pytest.mark.parametrize("echo", [
    lambda sent, login: f"535 5.7.8 Authentication failed for {sent}",
    lambda sent, login: f"535 5.7.8 Bad credentials {login!r}",
    lambda sent, login: f"535 5.7.8 wrong password {login.rsplit(chr(0), 1)[-1]}",
], ids=["base64", "decoded", "password"])
def test_a_535_reply_echoing_the_login_shows_no_password(world, echo, caplog):
    assert run(world, "fetch", "--source", "ctgov").exit_code == 0  # something to send
    caplog.set_level(logging.DEBUG)
    with smtp_server(Script(auth=echo)) as server:
        env = {**world, **smtp_env(server, LITWATCH_NOTIFY_FROM="watch@example.org", LITWATCH_SMTP_USER=USER,
                                   LITWATCH_SMTP_PASSWORD=PASSWORD)}
        result = run(env, "notify")
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1, result.output
    assert "login refused (535 5.7.8 " in result.output and "***" in result.output
    assert leaks(result.output + caplog.text) == []


def test_log_records_are_redacted_whatever_handler_shows_them(caplog):
    from litwatch import redact

    redact.register(KEY)
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("someone.else")  # not litwatch's: a library user's logger
    try:
        raise ValueError(f"refused key {KEY}")
    except ValueError:
        logger.warning("sent %s", KEY, exc_info=True)
    assert "sent ***" in caplog.text and "ValueError: refused key ***" in caplog.text
    assert leaks(caplog.text) == []


def test_a_key_an_older_litwatch_stored_is_masked_on_the_way_out(world, tmp_path):
    """A database from before the stored errors were redacted still holds the key in a run's
    error and its monitoring gap: the feed, the digest and `litwatch runs` mask it."""
    assert run(world, "fetch").exit_code == 3
    with sqlite3.connect(tmp_path / "litwatch.db") as db:
        for table, column in (("runs", "error"), ("monitoring_gaps", "reason")):
            db.execute(f"UPDATE {table} SET {column} = 'NCBI esearch error: Invalid API key: ' || ? "
                       f"WHERE {column} IS NOT NULL", [KEY])
    said = [run(world, *args).output for args in (["feed"], ["notify", "--dry-run"], ["runs"])]
    assert all("Invalid API key: ***" in text for text in said)
    assert leaks("\n".join(said)) == []
