"""Being told: every kind of event from real records (changed in named, derived copies), an
Atom feed whose entries keep their IDs, and an e-mail digest delivered once to a real SMTP
server on 127.0.0.1."""

import shutil
import smtplib
from dataclasses import replace

import feedparser
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from litwatch import api
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC, Config, Notify
from litwatch.events import RECORD_KINDS, events
from litwatch.notify import message, pending
from litwatch.catalog import open_db

from conftest import FIXTURES
from ctgov_standin import CtgovStandin, load_studies, nct_id
from europepmc_standin import EuropePmcStandin, load_results
from eutils_standin import EutilsStandin, load_records
from smtp_servers import Inbox, free_port, smtp_env
from standin_server import StandinServices
from test_europepmc_source import CANCER
from test_report import DTX, TOML

CONFIG = Config(topics=(DEFAULT_TOPIC, DTX, CANCER))


def replaced(items, new, key):
    """``items`` with the item of ``new``'s key replaced by ``new``."""
    return [new if key(item) == key(new) else item for item in items]


@pytest.fixture(scope="module")
def built(tmp_path_factory, prebuilt):
    """The database after each step, as a watch meets the records: live searches of stand-ins
    serving real records (then a changed copy of a real trial, then of a real paper), and last
    an update file's deletion imported. Made once per test run (conftest.prebuilt), copied here."""
    made = prebuilt("events", build_stages)
    folder = tmp_path_factory.mktemp("events")
    stages = [folder / f"after_step_{i}.db" for i in range(4)]
    for stage in stages:
        shutil.copy(made / stage.name, stage)
    return stages


def build_stages(folder):
    path, stages = folder / "litwatch.db", []
    eutils, ctgov = EutilsStandin(load_records()), CtgovStandin(load_studies())
    europepmc = EuropePmcStandin(load_results("epmc_search_1000results_cancer.json.gz"))
    steps = [
        lambda: None,
        lambda: setattr(ctgov, "studies", replaced(ctgov.studies, load_studies(
            "ctgov_NCT04040387_completed_with_results_derived.json")[0], nct_id)),
        lambda: setattr(eutils, "records", replaced(eutils.records, load_records(
            FIXTURES / "pubmed_34092549_v2_retracted_corrected_indexed_derived.xml")[0], lambda r: r.pmid)),
    ]
    with StandinServices(eutils, ctgov, europepmc) as env, pytest.MonkeyPatch.context() as m:
        m.setattr("litwatch.http.time.sleep", lambda seconds: None)
        config = replace(CONFIG, urls={"pubmed": env["LITWATCH_EUTILS_URL"], "ctgov": env["LITWATCH_CTGOV_URL"],
                                       "europepmc": env["LITWATCH_EUROPEPMC_URL"]})
        for i, (step, sources) in enumerate(zip(steps, [(), ("ctgov",), ("pubmed",)], strict=True)):
            step()
            done = api.fetch(path, config, sources=sources, full=True, follow=False)
            assert done["status"] == "success", done["errors"]
            stages.append(folder / f"after_step_{i}.db")
            shutil.copy(path, stages[-1])
    api.import_paths(path, [FIXTURES / "delete_citation_34092549_synthetic.xml"], CONFIG)
    stages.append(folder / "after_step_3.db")
    shutil.copy(path, stages[-1])


def all_events(path, topic):
    with open_db(path, readonly=True) as db:
        return events(db, topic)


@pytest.mark.slow
def test_every_kind_of_event_from_real_records(built):
    seen = {e.kind for topic in ("ketamine-ptsd", "dtx-ptsd", "cancer-treatment") for e in all_events(built[-1], topic)}
    assert seen == set(RECORD_KINDS)  # the monitoring kinds: tests/test_gaps.py


def test_trial_events_read_as_news(built):
    news = {(e.kind, e.detail): e for e in all_events(built[1], "dtx-ptsd") if e.record_id == "NCT04040387"}
    news = {kind if kind != "trial_completion_date" else detail: e for (kind, detail), e in news.items()}
    assert news["trial_status"].headline == (
        "NCT04040387 completed: Traumatic Nightmares Treated by NightWare (To Arouse Not Awaken)")
    assert news["trial_results"].headline.startswith("NCT04040387 posted results")
    assert news["trial_results"].importance == news["trial_status"].importance == "high"
    assert news["primary_completion_date"].headline.startswith("NCT04040387: primary completion date moved from "
                                                               "2024-08-24 to 2025-03-31")
    assert news["completion_date"].headline.startswith("NCT04040387: completion date moved from")
    assert news["trial_phase"].headline.startswith("NCT04040387: Not applicable -> Phase 2")
    assert news["trial_enrollment"].headline.startswith("NCT04040387: enrollment 270 -> 212")


def test_paper_side_changes_have_their_own_change_rows_and_events(built):
    with open_db(built[2], readonly=True) as db:
        changes = dict(db.execute("SELECT field, new_value FROM article_changes WHERE pmid = 34092549"))
    assert changes == {"pmid_version": "2", "design_source": "publication_type", "retracted": "1", "corrected": "1"}
    news = {e.kind: e for e in all_events(built[2], "ketamine-ptsd") if e.record_id == "PMID:34092549"}
    assert news["paper_retracted"].headline.startswith("Retracted: Combining Ketamine and Internet-Based")
    assert news["paper_new_version"].headline.startswith("New version (v2): ")
    assert {"paper_corrected", "paper_indexed"} <= set(news)
    assert news["new_paper"].id == "paper:ketamine-ptsd:PMID:34092549"  # what happened stays in the history
    deleted = [e for e in all_events(built[3], "ketamine-ptsd") if e.kind == "paper_deleted"]
    assert [e.headline for e in deleted] == ["Deleted from PubMed: Combining Ketamine and Internet-Based Cognitive "
                                             "Behavioural Therapy for the Treatment of Post-Traumatic Stress "
                                             "Disorder: Protocol for a Randomized Control Trial."]


def test_event_ids_are_stable_from_run_to_run(built):
    before = {e.id: e.headline for e in all_events(built[1], "dtx-ptsd")}
    after = {e.id: e.headline for e in all_events(built[2], "dtx-ptsd")}
    assert before and all(after[i] == h for i, h in before.items())


# ------------------------------------------------------------------ feed ----

def test_the_feed_is_valid_atom_whose_entries_keep_their_ids(built):
    first, _ = api.feed(built[0], CONFIG, topic="dtx-ptsd")
    later, n = api.feed(built[2], CONFIG, topic="dtx-ptsd")
    parsed_first, parsed_later = feedparser.parse(first), feedparser.parse(later)
    assert not parsed_first.bozo and not parsed_later.bozo
    assert parsed_later.feed.id == "urn:litwatch:dtx-ptsd" and len(parsed_later.entries) == n
    ids_first = {e.id: e.title for e in parsed_first.entries}
    ids_later = {e.id: e.title for e in parsed_later.entries}
    assert ids_first.items() <= ids_later.items()  # old entries unchanged: a reader shows them once
    titles = [e.title for e in parsed_later.entries]
    assert "NCT04040387 completed: Traumatic Nightmares Treated by NightWare (To Arouse Not Awaken)" in titles
    assert all(e.link.startswith("https://") for e in parsed_later.entries)


def test_the_feed_of_the_same_database_is_the_same_bytes_and_filters_kinds(built):
    assert api.feed(built[3], CONFIG, topic="dtx-ptsd") == api.feed(built[3], CONFIG, topic="dtx-ptsd")
    text, n = api.feed(built[3], CONFIG, topic="dtx-ptsd", kinds=["trial_results"])
    assert n == 1 and "posted results" in feedparser.parse(text).entries[0].title
    result = CliRunner().invoke(cli, ["--db", str(built[3]), "feed", "--kind", "no_such_kind"])
    assert result.exit_code == 2 and "unknown event kind(s): no_such_kind" in result.output


def test_a_feed_without_entries_is_dated_by_the_last_run_not_by_1970(built):
    text, n = api.feed(built[0], CONFIG, topic="dtx-ptsd", kinds=["trial_results"])
    with open_db(built[0], readonly=True) as db:
        last = db.execute("SELECT max(finished_at) FROM runs").fetchone()[0]
    parsed = feedparser.parse(text)
    assert n == 0 and not parsed.bozo
    assert parsed.feed.updated == last.replace("Z", "+00:00")


def hostile_copy(built, tmp_path, **columns):
    """A copy of the database after the trial's change, its record edited (synthetic values)."""
    db = tmp_path / "litwatch.db"
    shutil.copy(built[1], db)
    with open_db(db) as conn:
        for column, value in columns.items():
            conn.execute(f"UPDATE trials SET [{column}] = ? WHERE nct_id = 'NCT04040387'", [value])
        conn.commit()
    return db


def test_a_control_character_in_a_title_cannot_break_the_feed_or_the_digest(built, tmp_path):
    db = hostile_copy(built, tmp_path, brief_title="Traumatic \x1b[31mNightmares\x07 Treated\x00 by\r\nNightWare\x0c")
    result = CliRunner().invoke(cli, ["--db", str(db), "--config", str(_toml(tmp_path)), "feed"])
    assert result.exit_code == 0, result.output
    parsed = feedparser.parse(result.output)
    assert not parsed.bozo
    assert "NCT04040387 completed: Traumatic [31mNightmares Treated by NightWare" in [e.title for e in parsed.entries]
    digest = notify(db, {}, "--dry-run")
    assert digest.exit_code == 0 and "NCT04040387 completed: Traumatic [31mNightmares Treated by NightWare\n" in \
        digest.output
    assert not any(c in result.output + digest.output for c in "\x1b\x07\x00\x0c\r")


def test_only_http_links_reach_the_feed_and_the_digest(built, tmp_path):
    db = hostile_copy(built, tmp_path, url="javascript:alert(1)")
    refused = CliRunner().invoke(cli, ["--db", str(db), "feed", "--link", "javascript:alert(1)"])
    assert refused.exit_code == 2
    assert refused.output == "Error: the feed's link (--link) must be an http(s) URL, got 'javascript:alert(1)'\n"
    text, _ = api.feed(db, CONFIG, topic="dtx-ptsd", link="https://example.org/report.html")
    links = {e.title: e.link for e in feedparser.parse(text).entries}
    assert links["NCT04040387 posted results: Traumatic Nightmares Treated by NightWare (To Arouse Not Awaken)"] == \
        "https://example.org/report.html"  # the feed's page stands in for the record's
    with open_db(db, readonly=True) as conn:
        settings = Notify(smtp_host="mail.example.org", sender="w@example.org", to=("x@example.org",))
        mail = message(CONFIG, pending(conn, CONFIG, [DTX], settings), settings)
    html = mail.get_body(("html",)).get_content()
    assert "NCT04040387 posted results" in html
    assert "javascript:" not in text + html + mail.get_body(("plain",)).get_content()


def _toml(tmp_path):
    config = tmp_path / "dtx.toml"
    config.write_text(TOML)
    return config


# ---------------------------------------------------------------- digest ----

def notify(db, env, *args):
    """`litwatch notify` with the digital-therapeutics topic configured (its trials change)."""
    config = db.parent / "dtx.toml"
    config.write_text(TOML)
    return CliRunner().invoke(cli, ["--db", str(db), "--config", str(config), "notify", *args], env=env)


def test_the_digest_arrives_once_and_then_only_what_is_new(built, smtp, tmp_path):
    controller, inbox = smtp
    db = tmp_path / "litwatch.db"
    shutil.copy(built[1], db)
    env = smtp_env(controller)
    first = notify(db, env)
    assert first.exit_code == 0 and first.output.startswith("Sent a digest of ")
    (message,) = inbox.messages
    body = message.content.decode()
    assert message.rcpt_tos == ["writer@example.org"] and "Subject: litwatch: " in body
    assert "NCT04040387 completed" in body and "Important" in body and "text/html" in body
    # the first digest covers what the last command brought, not the whole history
    assert "New study protocol: Combining Ketamine" not in body
    again = notify(db, env)
    assert again.exit_code == 0 and again.output == "Nothing new to send.\n" and len(inbox.messages) == 1
    api.import_paths(db, [FIXTURES / "pubmed_34092549_v2_retracted_corrected_indexed_derived.xml"], CONFIG)
    third = notify(db, env)
    assert third.exit_code == 0 and len(inbox.messages) == 2
    assert "Retracted: Combining Ketamine" in inbox.messages[1].content.decode()
    assert "NCT04040387 completed" not in inbox.messages[1].content.decode()


def test_a_failed_send_keeps_the_events_for_next_time(built, smtp, tmp_path):
    controller, inbox = smtp
    db = tmp_path / "litwatch.db"
    shutil.copy(built[1], db)
    refused = dict(smtp_env(controller), LITWATCH_SMTP_PORT="9")  # nothing listens there
    failed = notify(db, refused)
    assert failed.exit_code == 1 and len(failed.output.splitlines()) == 1
    assert failed.output.startswith("Error: cannot send the digest through 127.0.0.1:9: connection refused; its ")
    assert "stay unsent for the next `litwatch notify`" in failed.output
    ok = notify(db, smtp_env(controller))
    assert ok.exit_code == 0 and len(inbox.messages) == 1
    assert "NCT04040387 completed" in inbox.messages[0].content.decode()


def test_a_refused_login_is_one_line_and_keeps_the_events(built, tmp_path):
    def refuse(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        return AuthResult(success=False, handled=False)  # the server answers 535
    controller = Controller(Inbox(), hostname="127.0.0.1", port=free_port(), authenticator=refuse,
                            auth_require_tls=False)
    controller.start()
    try:
        db = tmp_path / "litwatch.db"
        shutil.copy(built[1], db)
        env = smtp_env(controller, LITWATCH_SMTP_USER="watch", LITWATCH_SMTP_PASSWORD="wrong-password-123")
        result = notify(db, env)
    finally:
        controller.stop()
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert "login refused" in result.output and "wrong-password-123" not in result.output
    with open_db(db, readonly=True) as conn:  # no event counted as sent (the older ones are marked seen)
        assert conn.execute("SELECT count(*) FROM notifications WHERE message_id IS NOT NULL "
                            "OR sent_at IS NOT NULL").fetchone() == (0,)
        assert conn.execute("SELECT status FROM digests").fetchall() == [("refused",)]


@pytest.mark.parametrize("env,message", [
    ({"LITWATCH_SMTP_HOST": "mail.example.org", "LITWATCH_NOTIFY_FROM": "not an address",
      "LITWATCH_NOTIFY_TO": "writer@example.org"}, "config key 'notify.from' is not an e-mail address"),
    ({"LITWATCH_SMTP_HOST": "mail.example.org", "LITWATCH_NOTIFY_FROM": "w@example.org", "LITWATCH_NOTIFY_TO": "x@"},
     "config key 'notify.to' is not an e-mail address"),
    ({}, "no SMTP server configured"),
    ({"LITWATCH_SMTP_HOST": "mail.example.org", "LITWATCH_NOTIFY_FROM": "w@example.org\r\nBcc: all@example.org",
      "LITWATCH_NOTIFY_TO": "writer@example.org"},
     r"config key 'notify.from' holds a line break or another control character, which cannot go into a mail header: "
     r"'w@example.org\r\nBcc: all@example.org'"),
    ({"LITWATCH_SMTP_HOST": "mail.example.org", "LITWATCH_NOTIFY_FROM": "w@example.org",
      "LITWATCH_NOTIFY_TO": "writer@example.org,x@example.org\nBcc: all@example.org"},
     "config key 'notify.to' holds a line break"),
])
def test_bad_notify_configuration_is_one_line_and_exit_2(built, env, message):
    result = notify(built[1], env)
    assert result.exit_code == 2 and message in result.output and len(result.output.splitlines()) == 1


def test_a_topic_title_that_cannot_go_into_a_mail_subject_is_refused_when_read(built, tmp_path):
    config = tmp_path / "dtx.toml"
    config.write_text(TOML.replace('title = "Digital therapeutics for PTSD"',
                                   'title = "Digital therapeutics\\r\\nBcc: all@example.org"'))
    env = {"LITWATCH_SMTP_HOST": "mail.example.org", "LITWATCH_NOTIFY_FROM": "w@example.org",
           "LITWATCH_NOTIFY_TO": "writer@example.org"}
    result = CliRunner().invoke(cli, ["--db", str(built[1]), "--config", str(config), "notify"], env=env)
    assert result.exit_code == 2
    assert result.output == ("Error: config key 'topics[0].title' holds a line break or another control character, "
                             "which cannot go into a mail header: 'Digital therapeutics\\r\\nBcc: all@example.org'\n")


def test_an_unknown_smtp_host_is_one_line(built, tmp_path, monkeypatch):
    import socket

    def no_such_host(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(smtplib.socket, "create_connection", no_such_host)
    db = tmp_path / "litwatch.db"
    shutil.copy(built[1], db)
    env = {"LITWATCH_SMTP_HOST": "smtp.nowhere.invalid", "LITWATCH_NOTIFY_FROM": "w@example.org",
           "LITWATCH_NOTIFY_TO": "writer@example.org"}
    result = notify(db, env)
    assert result.exit_code == 1 and "smtp.nowhere.invalid:587: unknown host" in result.output


def test_dry_run_prints_the_digest_and_sends_nothing(built):
    result = notify(built[1], {}, "--dry-run")
    assert result.exit_code == 0 and "NCT04040387 completed" in result.output
    with open_db(built[1], readonly=True) as db:
        assert db.execute("SELECT count(*) FROM notifications").fetchone() == (0,)
