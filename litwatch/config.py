"""Configuration: the topics to watch, each source's options (``[sources.<name>]``, as each
source declares them), service base URLs, the run time budget, where digests go.

Read from a TOML file (``litwatch.toml``) and the environment; the environment wins.
Without a file the built-in ``ketamine-ptsd`` topic is used, asked of every source in the
query that source declares for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tomllib
import urllib.parse
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Mapping

from . import redact
from .errors import ConfigError
from .settings import Claim, Notify, SourceSettings, Topic
from .sources import all_sources

log = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "litwatch.toml"
# Each run (one topic from one source, or one source's linked records) stops after this
# long: generous for any topic a person watches, and still a bound on a service that
# answers slowly forever or pages without end.
DEFAULT_RUN_BUDGET_MINUTES = 60.0

# The built-in topic's concepts and claims; each source asks its own query for it (its
# ``default_query``), see :func:`default_topic`.
BUILTIN_TOPIC = Topic(
    name="ketamine-ptsd",
    title="Ketamine for PTSD",
    intervention_terms=("ketamine", "esketamine", "arketamine", "Spravato", "Ketalar"),
    condition_terms=("PTSD", "posttraumatic stress", "post-traumatic stress", "post traumatic stress",
                     "Stress Disorders, Post-Traumatic", "combat stress", "combat disorder",
                     "trauma-related stress", "traumatic stress disorder"),
    claims=(
        Claim("Relief within a day of a dose", ("24 hours", "24 h", "within hours", "within a day", "day 1",
                                                "first day", "rapid reduction", "rapid improvement", "rapid relief",
                                                "rapid response", "rapid onset", "rapidly reduced",
                                                "rapidly improved", "rapid-acting")),
        Claim("Lower PTSD symptom severity", ("CAPS-5", "CAPS", "Clinician-Administered PTSD Scale", "PCL-5", "PCL",
                                              "PTSD Checklist", "IES-R", "Impact of Event Scale", "PTSD symptom",
                                              "symptoms of PTSD", "PTSD severity", "symptom severity")),
        Claim("Benefit that lasts for weeks", ("remission", "relapse", "durable", "durability", "sustained",
                                                "two weeks", "2 weeks", "four weeks", "4 weeks", "one month",
                                                "1 month", "3 months", "follow-up")),
        Claim("Less suicidal ideation", ("suicidal ideation", "suicidality", "suicidal thoughts", "C-SSRS",
                                         "Columbia Suicide Severity Rating Scale", "Scale for Suicide Ideation",
                                         "suicide attempt")),
        Claim("Dissociation and other side effects pass quickly", (
            "CADSS", "Clinician-Administered Dissociative States Scale", "dissociation", "dissociative symptoms",
            "adverse events", "side effects", "blood pressure", "tolerability", "well tolerated")),
        Claim("Greater effect when combined with psychotherapy",
              ("CAPS-5", "CAPS", "PCL-5", "PCL", "PTSD Checklist", "PTSD symptom", "symptoms of PTSD",
               "symptom severity", "remission"),
              only_with=("psychotherapy", "prolonged exposure", "exposure therapy", "cognitive behavioral",
                         "cognitive behavioural", "CBT", "cognitive processing therapy", "trauma-focused",
                         "ketamine-assisted")),
    ),
)


@cache
def default_topic() -> Topic:
    """The built-in topic, asked of every source that declares a query for it."""
    return replace(BUILTIN_TOPIC, queries={s.name: s.default_query for s in all_sources() if s.default_query})


def __getattr__(name: str) -> Any:
    # DEFAULT_TOPIC is made on first use: it asks the registered sources for their queries,
    # which `litwatch --help` need not load.
    if name == "DEFAULT_TOPIC":
        return default_topic()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Config:
    """Everything litwatch needs to know besides the database path."""

    topics: tuple[Topic, ...] = field(default_factory=lambda: (default_topic(),))
    # Base URL of each source's service, by source name; a source not named uses its default.
    urls: Mapping[str, str] = field(default_factory=dict)
    # Each source's options ([sources.<name>]), by source name: e.g. PubMed's NCBI identity.
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    notify: Notify | None = None
    # How long one run may take before it stops and is recorded as failed.
    run_budget_minutes: float = DEFAULT_RUN_BUDGET_MINUTES
    # What the report's "what changed" covers by default: the last update, everything since the
    # last report `update` wrote ("last-report"), or a period ("7 days", "2 weeks").
    changes_since: str = "last-update"
    source_path: str | None = field(default=None, compare=False)

    @property
    def run_budget_seconds(self) -> float:
        return self.run_budget_minutes * 60

    def topic(self, name: str | None) -> Topic:
        """Return the topic called ``name`` (the first topic when ``name`` is None)."""
        if name is None:
            return self.topics[0]
        for topic in self.topics:
            if topic.name == name:
                return topic
        known = ", ".join(t.name for t in self.topics)
        raise ConfigError(f"unknown topic {name!r} (configured: {known})")

    def settings(self, source: Any) -> SourceSettings:
        """What ``source`` is told: its base URL and its options (their defaults when unset)."""
        given = self.sources.get(source.name, {})
        values = {o.key: given.get(o.key) or o.default for o in source.options if given.get(o.key) or o.default}
        return SourceSettings(self.urls.get(source.name, source.default_url), values)


_TOP_KEYS = {"sources", "services", "run", "report", "topics", "notify"}
_TOPIC_KEYS = {"name", "title", "intervention_terms", "condition_terms", "claims"}
_LIST_KEYS = {"intervention_terms", "condition_terms"}
BUDGET_ENV = "LITWATCH_RUN_BUDGET"


def load_config(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration.

    :param path: a TOML file; when None, ``./litwatch.toml`` is read if it exists.
    :param env: environment to read overrides from (defaults to ``os.environ``).
    :raises ConfigError: with a one-line message naming the offending key.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    source = None
    if path is None and Path(DEFAULT_CONFIG_NAME).is_file():
        path = DEFAULT_CONFIG_NAME
    if path is not None:
        source = str(path)
        values = _read_toml(Path(path))
    if env.get(BUDGET_ENV):
        values["run_budget_minutes"] = _minutes(env[BUDGET_ENV], BUDGET_ENV)
    urls = dict(values.pop("urls", {}))
    options: dict[str, dict[str, str]] = values.pop("sources", {})
    for service in all_sources():
        if env.get(service.url_env):
            urls[service.name] = _check_url(env[service.url_env], service.url_env)
        for option in service.options:
            if option.env and env.get(option.env):
                options.setdefault(service.name, {})[option.key] = env[option.env]
            value = options.get(service.name, {}).get(option.key)
            if option.secret:  # scrubbed from every message, log line and stored error from now on
                redact.register(value)
    values["notify"] = _notify(values.pop("notify", {}), env)
    config = Config(source_path=source, urls=urls, sources=options, **values)
    redact.register(config.notify.password if config.notify else None)
    for url in urls.values():
        redact.register_url(url)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    from .errors import ParseError
    from .files import MAX_CONFIG_BYTES, read_regular

    try:
        data = tomllib.loads(read_regular(path, MAX_CONFIG_BYTES, "configuration").decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except ParseError as e:  # a named pipe, a device, a file too large: refused before it is read whole
        raise ConfigError(f"config {e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config {path}: not valid TOML: {e}") from None
    _reject_unknown(data, _TOP_KEYS | set(_old_tables()), "")
    values: dict[str, Any] = {"sources": _source_options(data)}
    services = _table(data, "services")
    by_key = {source.url_key: source.name for source in all_sources()}
    _reject_unknown(services, set(by_key), "services.")
    values["urls"] = {by_key[key]: _check_url(_string(value, f"services.{key}"), f"services.{key}")
                      for key, value in services.items()}
    run = _table(data, "run")
    _reject_unknown(run, {"budget_minutes"}, "run.")
    if "budget_minutes" in run:
        values["run_budget_minutes"] = _minutes(run["budget_minutes"], "run.budget_minutes")
    report = _table(data, "report")
    _reject_unknown(report, {"changes_since"}, "report.")
    if "changes_since" in report:
        values["changes_since"] = changes_since(_string(report["changes_since"], "report.changes_since"),
                                                "report.changes_since")
    if "topics" in data:
        values["topics"] = _topics(data["topics"])
    values["notify"] = _table(data, "notify")
    return values


def _source_options(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each source's options from its ``[sources.<name>]`` table, and from where an earlier
    litwatch read them (``[ncbi] email``), which is still read: the new place wins."""
    tables = _table(data, "sources")
    sources = {s.name: s for s in all_sources()}
    _reject_unknown(tables, set(sources), "sources.")
    options: dict[str, dict[str, str]] = {}
    for name, source in sources.items():
        table = tables.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"config key 'sources.{name}' must be a table ([sources.{name}])")
        _reject_unknown(table, {o.key for o in source.options}, f"sources.{name}.")
        for option in source.options:
            key, value = f"sources.{name}.{option.key}", table.get(option.key)
            if value is None and option.old:
                old_table, old_key = option.old.split(".")
                value, key = _table(data, old_table).get(old_key), option.old
                if value is not None:
                    log.warning("config key '%s' is read as [sources.%s] %s (write it there; it is still read "
                                "here)", option.old, name, option.key)
            if value is not None and _string(value, key):
                options.setdefault(name, {})[option.key] = _one_line(value, key)
    for old, keys in _old_tables().items():
        _reject_unknown(_table(data, old), keys, f"{old}.")
    return options


def _old_tables() -> dict[str, set[str]]:
    """Tables where an earlier litwatch read source options, and their keys (``ncbi``: email...)."""
    tables: dict[str, set[str]] = {}
    for source in all_sources():
        for option in source.options:
            if option.old:
                table, key = option.old.split(".")
                tables.setdefault(table, set()).add(key)
    return tables


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config key '{key}' must be a table")
    return table


def _topics(raw: Any) -> tuple[Topic, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("config key 'topics' must be a non-empty array of tables ([[topics]])")
    topics = [_topic(item, f"topics[{i}]") for i, item in enumerate(raw)]
    names = [t.name for t in topics]
    if len(set(names)) != len(names):
        raise ConfigError("config key 'topics.name' must be unique across topics")
    return tuple(topics)


def _topic(item: Any, where: str) -> Topic:
    if not isinstance(item, dict):
        raise ConfigError(f"config key '{where}' must be a table")
    item = dict(item)
    queries: dict[str, Any] = {}
    old_keys = {old: (s.name, key) for s in all_sources() for old, key in s.old_topic_keys.items()}
    for old, (source, key) in old_keys.items():
        if old in item:
            log.warning("config key '%s.%s' is from litwatch 0.1; write it as [topics.%s] %s = ... "
                        "(it is still read)", where, old, source, key)
            item.setdefault(source, {})
            if not isinstance(item[source], dict):
                raise ConfigError(f"config key '{where}.{source}' must be a table")
            item[source].setdefault(key, item.pop(old))
    query_keys = {source.name: source.query_keys for source in all_sources()}
    _reject_unknown(item, _TOPIC_KEYS | set(query_keys), f"{where}.")
    name = _string(item.get("name", ""), f"{where}.name").strip()
    if not name:
        raise ConfigError(f"config key '{where}.name' is missing or empty")
    title = _one_line(_string(item.get("title", ""), f"{where}.title").strip(), f"{where}.title")
    fields: dict[str, Any] = {"name": name, "title": title}
    for source, keys in query_keys.items():
        if source not in item:
            continue
        table = item[source]
        if not isinstance(table, dict):
            raise ConfigError(f"config key '{where}.{source}' must be a table ([topics.{source}])")
        _reject_unknown(table, keys, f"{where}.{source}.")
        query = {k: _string(v, f"{where}.{source}.{k}").strip() for k, v in table.items()}
        if any(query.values()):
            queries[source] = query["query"] if keys == {"query"} else {k: query.get(k, "") for k in sorted(keys)}
    if not queries:
        raise ConfigError(f"config key '{where}' has no query: give at least one of "
                          + ", ".join(f"[topics.{s}]" for s in query_keys))
    fields["queries"] = queries
    for key in sorted(_LIST_KEYS):
        fields[key] = _terms(item.get(key), f"{where}.{key}")
        if not fields[key]:
            raise ConfigError(f"config key '{where}.{key}' is missing or empty: a record is on a topic when it names "
                              f"a term of each of its two concepts, so both need at least one term")
    if "claims" in item:
        fields["claims"] = _claims(item["claims"], f"{where}.claims")
    return Topic(**fields)


def _claims(raw: Any, where: str) -> tuple[Claim, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"config key '{where}' must be an array of tables ([[topics.claims]])")
    claims = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not {"name", "terms"} <= set(item) <= {"name", "terms", "only_with"}:
            raise ConfigError(f"config key '{where}[{i}]' must have 'name' and 'terms' (and may have 'only_with')")
        name = _string(item["name"], f"{where}[{i}].name").strip()
        terms = _terms(item["terms"], f"{where}[{i}].terms")
        if not name or not terms:
            raise ConfigError(f"config key '{where}[{i}]' needs a name and at least one term (an outcome: an "
                              f"instrument, a symptom or a timing, e.g. \"PCL-5\", \"suicidal ideation\")")
        claims.append(Claim(name, terms, _terms(item.get("only_with"), f"{where}[{i}].only_with")))
    return tuple(claims)


def _terms(value: Any, key: str) -> tuple[str, ...]:
    """An array of terms, stripped, blanks dropped (None: no terms)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config key '{key}' must be an array of strings")
    return tuple(v.strip() for v in value if v.strip())


_NOTIFY_KEYS = {"smtp_host", "smtp_port", "security", "user", "from", "to"}
_NOTIFY_ENV = {"LITWATCH_SMTP_HOST": "smtp_host", "LITWATCH_SMTP_PORT": "smtp_port",
               "LITWATCH_SMTP_SECURITY": "security", "LITWATCH_SMTP_USER": "user", "LITWATCH_NOTIFY_FROM": "from",
               "LITWATCH_NOTIFY_TO": "to"}


def _notify(table: dict[str, Any], env: Mapping[str, str]) -> Notify | None:
    """The [notify] table with its environment overrides, checked; None when no SMTP host is
    configured."""
    if "password" in table:
        raise ConfigError("config key 'notify.password' is not read: keep the password out of the file and set "
                          "LITWATCH_SMTP_PASSWORD")
    _reject_unknown(table, _NOTIFY_KEYS, "notify.")
    values = dict(table)
    for var, key in _NOTIFY_ENV.items():
        if env.get(var):
            values[key] = env[var]
    if not values.get("smtp_host"):
        if values:
            raise ConfigError("config key 'notify.smtp_host' is missing (or set LITWATCH_SMTP_HOST)")
        return None
    security = _string(values.get("security", "starttls"), "notify.security").lower()
    if security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"config key 'notify.security' must be starttls, ssl or none, got {security!r}")
    port = values.get("smtp_port")
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ConfigError(f"config key 'notify.smtp_port' must be a port number, got {port!r}") from None
        if not 0 < port < 65536:
            raise ConfigError(f"config key 'notify.smtp_port' must be a port number, got {port}")
    to = values.get("to", [])
    to = [t.strip() for t in to.split(",")] if isinstance(to, str) else to
    if not isinstance(to, list) or not to or not all(isinstance(t, str) for t in to):
        raise ConfigError("config key 'notify.to' must be a non-empty array of e-mail addresses")
    sender = _string(values.get("from", ""), "notify.from")
    for key, address in [("notify.from", sender)] + [("notify.to", t) for t in to]:
        _check_address(address, key)
    user = _one_line(_string(values.get("user") or "", "notify.user"), "notify.user") or None
    return Notify(smtp_host=_one_line(_string(values["smtp_host"], "notify.smtp_host"), "notify.smtp_host"),
                  sender=sender, to=tuple(to), smtp_port=port, security=security, user=user,
                  password=env.get("LITWATCH_SMTP_PASSWORD") or None)


def _check_address(address: str, key: str) -> None:
    """An address as mail headers take it: "you@example.org" or "Name <you@example.org>", on
    one line (a line break would end the header and start another)."""
    from email.errors import HeaderParseError
    from email.headerregistry import Address
    from email.utils import parseaddr

    _one_line(address, key)
    _, spec = parseaddr(address)
    try:
        parsed = Address(addr_spec=spec) if spec and spec.count("@") == 1 else None
    except (ValueError, IndexError, TypeError, HeaderParseError):
        parsed = None
    if parsed is None or not parsed.username or "." not in parsed.domain:
        raise ConfigError(f"config key '{key}' is not an e-mail address: {address!r}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _one_line(value: str, key: str) -> str:
    """A value that goes into a mail header or a feed's title: refused when it holds a line
    break or another control character (a header would end there, and the rest be read as
    headers of its own)."""
    if _CONTROL.search(value):
        raise ConfigError(f"config key '{key}' holds a line break or another control character, which cannot go "
                          f"into a mail header: '{redact.printable(value)}'")
    return value


def _reject_unknown(table: dict, allowed: "set[str] | frozenset[str]", prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"config key '{prefix}{key}' is not recognised")


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config key '{key}' must be a string, not {type(value).__name__}")
    return value


def _minutes(value: Any, key: str) -> float:
    """A time budget in minutes: a positive number (a string from the environment)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"config key '{key}' must be a number of minutes, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ConfigError(f"config key '{key}' must be a positive number of minutes, got {value!r}")
    return float(value)


_PERIOD = re.compile(r"(\d{1,4})\s*(day|week)s?")


def changes_since(value: str, key: str = "--changes-since") -> str:
    """What "what changed" covers: ``last-update``, ``last-report`` or a period (``7 days``,
    ``2 weeks``), normalized.

    :raises ConfigError: any other value.
    """
    text = " ".join(value.lower().split())
    if text in ("last-update", "last-report"):
        return text
    match = _PERIOD.fullmatch(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"config key '{key}' must be last-update, last-report or a period such as "
                          f"\"7 days\" or \"2 weeks\", got {value!r}")
    n = int(match.group(1))
    return f"{n} {match.group(2)}{'s' if n != 1 else ''}"


def period_days(changes: str) -> int | None:
    """Days of a period given as :func:`changes_since` normalizes it (None for the others)."""
    match = _PERIOD.fullmatch(changes)
    if not match:
        return None
    return int(match.group(1)) * (7 if match.group(2) == "week" else 1)


def _check_url(value: str, key: str) -> str:
    """A service's base URL: http(s), with a host, and a port that is a port."""
    with contextlib.suppress(ValueError):  # a malformed URL is refused below, its password masked first
        redact.register_url(value)
    shown = redact.printable(value)
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"config key '{key}' must be an http(s) URL, got {shown!r}")
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of range or not a number
    except ValueError as e:
        raise ConfigError(f"config key '{key}' is not a valid URL ({e}): {shown!r}") from None
    if not parts.hostname:
        raise ConfigError(f"config key '{key}' must name a host, got {shown!r}")
    return value.rstrip("/")


def config_template() -> str:
    """A commented litwatch.toml holding the built-in topic (what ``litwatch init`` writes)."""
    sources = all_sources()
    topic = default_topic()
    envs = ", ".join([o.env for s in sources for o in s.options if o.env] + [s.url_env for s in sources]
                     + [BUDGET_ENV])
    lines = [
        "# litwatch configuration. Every key is optional; environment variables win over",
        f"# this file: {envs}.",
        "",
    ]
    for s in sources:
        if not s.options:
            continue
        lines.append(f"[sources.{s.name}]")
        for option in s.options:
            lines += [f"# {line}" for line in option.help.splitlines()]
            value = f"{option.key} = {_toml(option.default or option.example)}"
            lines.append(value if option.default else f"# {value}")
        lines.append("")
    lines += [
        "[services]",
        "# Base URLs, e.g. to go through a proxy or a local stand-in.",
        *[f"{s.url_key} = {_toml(s.default_url)}" for s in sources],
        "",
        "[run]",
        "# Minutes one run (a topic from one source) may take; when they are spent the run stops,",
        "# keeps what arrived, is recorded as failed, and the next source still runs.",
        f"budget_minutes = {DEFAULT_RUN_BUDGET_MINUTES:g}",
        "",
        "[report]",
        "# What the brief's \"What changed\" covers: last-update (what the last update brought),",
        "# last-report (everything since the last report `update` wrote: for a weekly reader of a",
        "# nightly update), or a period such as \"7 days\".",
        'changes_since = "last-update"',
        "",
        "# One [[topics]] table per subject. The first one is the default topic.",
        "[[topics]]",
        "# The name is what commands take (--topic); the title is what readers see.",
        f"name = {_toml(topic.name)}",
        f"title = {_toml(topic.title)}",
        "# The topic's two concepts. A paper or trial is \"core\" when a term of each appears in its",
        "# title, abstract, MeSH, keywords, conditions or interventions.",
        f"intervention_terms = {json.dumps(list(topic.intervention_terms))}",
        f"condition_terms = {json.dumps(list(topic.condition_terms))}",
        "",
        "# What each source is asked. Leave a source's table out and the topic does not use it.",
    ]
    for s in sources:
        query = topic.queries.get(s.name)
        if query is None:
            continue
        lines += [f"[topics.{s.name}]", *(f"# {line}" for line in s.query_help.splitlines())]
        values = {"query": query} if isinstance(query, str) else query
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()] + [""]
    lines += ["# Claims the article makes, each as a question about outcomes. 'terms' name the outcomes",
              "# that would test it: instruments (\"PCL-5\"), symptoms (\"suicidal ideation\"), timings",
              "# (\"24 hours\"), matched as whole words or phrases (a trailing * matches any ending).",
              "# A paper bears on a claim only through a sentence of its abstract that names one (the",
              "# brief quotes it; a title alone never counts); a registered trial, through a primary or",
              "# secondary outcome measure that names one. 'only_with' (optional) keeps the papers and",
              "# trials that also name one of its terms: a claim about a combination."]
    for claim in topic.claims:
        lines += ["[[topics.claims]]", f"name = {_toml(claim.name)}", f"terms = {json.dumps(list(claim.terms))}"]
        if claim.only_with:
            lines.append(f"only_with = {json.dumps(list(claim.only_with))}")
    return "\n".join(lines) + "\n"


def _toml(value: str) -> str:
    """A TOML string: literal ('...') when it holds double quotes, basic ("...") otherwise."""
    return f"'{value}'" if '"' in value and "'" not in value else json.dumps(value)
