"""Configuration: topics to watch, NCBI identity, service base URLs.

Read from a TOML file (``litwatch.toml``) and the environment; the environment wins.
Without a file the built-in ``ketamine-ptsd`` topic is used.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

DEFAULT_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
DEFAULT_CTGOV_URL = "https://clinicaltrials.gov/api/v2"
DEFAULT_CONFIG_NAME = "litwatch.toml"

# The query a medical librarian would write: MeSH headings (exploded) plus free-text
# title/abstract words, so records not yet MeSH-indexed (most new ones) are found too.
# Esketamine and arketamine map to the Ketamine heading but are also searched as words.
DEFAULT_PUBMED_QUERY = (
    '("Ketamine"[MeSH Terms] OR ketamine[tiab] OR esketamine[tiab] OR arketamine[tiab]'
    ' OR "Spravato"[tiab])'
    ' AND ("Stress Disorders, Post-Traumatic"[MeSH Terms] OR "Combat Disorders"[MeSH Terms]'
    ' OR PTSD[tiab] OR "posttraumatic stress"[tiab] OR "post-traumatic stress"[tiab]'
    ' OR "post traumatic stress"[tiab] OR "combat stress"[tiab])'
)
DEFAULT_CTGOV_CONDITION = 'PTSD OR "Posttraumatic Stress Disorder" OR "Post-traumatic Stress"'
DEFAULT_CTGOV_INTERVENTION = "ketamine OR esketamine OR arketamine"


@dataclass(frozen=True)
class Claim:
    """A claim an article on the topic makes, and the words that show a paper addresses it."""

    name: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    """One subject to watch, with the query each source is asked."""

    name: str
    pubmed_query: str
    ctgov_condition: str = ""
    ctgov_intervention: str = ""
    ctgov_term: str = ""
    # The topic's two concepts: a record is core to the topic when both appear in it.
    intervention_terms: tuple[str, ...] = ()
    condition_terms: tuple[str, ...] = ()
    # Claims the report weighs the evidence for.
    claims: tuple[Claim, ...] = ()


DEFAULT_TOPIC = Topic(
    name="ketamine-ptsd",
    pubmed_query=DEFAULT_PUBMED_QUERY,
    ctgov_condition=DEFAULT_CTGOV_CONDITION,
    ctgov_intervention=DEFAULT_CTGOV_INTERVENTION,
    intervention_terms=("ketamine", "esketamine", "arketamine", "Spravato", "Ketalar"),
    condition_terms=("PTSD", "posttraumatic stress", "post-traumatic stress", "post traumatic stress",
                     "Stress Disorders, Post-Traumatic", "combat stress", "combat disorder",
                     "trauma-related stress", "traumatic stress disorder"),
    claims=(
        Claim("Rapid symptom relief", ("rapid", "rapidly", "within 24 hours", "within hours", "24 hours",
                                       "single infusion", "single dose", "acute")),
        Claim("Greater effect when combined with psychotherapy",
              ("psychotherapy", "cognitive behavioral", "cognitive behavioural", "CBT", "e-CBT",
               "prolonged exposure", "exposure therapy", "ketamine-assisted", "trauma-focused",
               "mindfulness")),
        Claim("Reduced suicidal ideation", ("suicidal", "suicide", "suicidality")),
        Claim("Durability and safety", ("durable", "durability", "sustained", "maintenance", "relapse",
                                        "long-term", "follow-up", "safety", "adverse", "tolerability",
                                        "dissociat", "abuse potential")),
    ),
)


@dataclass(frozen=True)
class Config:
    """Everything litwatch needs to know besides the database path."""

    topics: tuple[Topic, ...] = (DEFAULT_TOPIC,)
    ncbi_api_key: str | None = None
    ncbi_email: str | None = None
    ncbi_tool: str = "litwatch"
    eutils_url: str = DEFAULT_EUTILS_URL
    ctgov_url: str = DEFAULT_CTGOV_URL
    source_path: str | None = field(default=None, compare=False)

    def topic(self, name: str | None) -> Topic:
        """Return the topic called ``name`` (the first topic when ``name`` is None)."""
        if name is None:
            return self.topics[0]
        for topic in self.topics:
            if topic.name == name:
                return topic
        known = ", ".join(t.name for t in self.topics)
        raise ConfigError(f"unknown topic {name!r} (configured: {known})")


_TOP_KEYS = {"ncbi", "services", "topics"}
_NCBI_KEYS = {"api_key": "ncbi_api_key", "email": "ncbi_email", "tool": "ncbi_tool"}
_SERVICE_KEYS = {"eutils_url": "eutils_url", "ctgov_url": "ctgov_url"}
_TOPIC_KEYS = {"name", "pubmed_query", "ctgov_condition", "ctgov_intervention", "ctgov_term",
               "intervention_terms", "condition_terms", "claims"}
_LIST_KEYS = {"intervention_terms", "condition_terms"}
_ENV = {
    "NCBI_API_KEY": "ncbi_api_key",
    "NCBI_EMAIL": "ncbi_email",
    "LITWATCH_EUTILS_URL": "eutils_url",
    "LITWATCH_CTGOV_URL": "ctgov_url",
}


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
    for var, attr in _ENV.items():
        if env.get(var):
            values[attr] = env[var]
    for attr in ("eutils_url", "ctgov_url"):
        if attr in values:
            values[attr] = _check_url(values[attr], attr)
    return Config(source_path=source, **values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config {path}: not valid TOML: {e}") from None
    _reject_unknown(data, _TOP_KEYS, "")
    values: dict[str, Any] = {}
    for section, mapping in (("ncbi", _NCBI_KEYS), ("services", _SERVICE_KEYS)):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"config key '{section}' must be a table")
        _reject_unknown(table, set(mapping), f"{section}.")
        for key, attr in mapping.items():
            if key in table:
                values[attr] = _string(table[key], f"{section}.{key}") or None
    if "topics" in data:
        values["topics"] = _topics(data["topics"])
    if values.get("ncbi_tool") is None:
        values.pop("ncbi_tool", None)
    return values


def _topics(raw: Any) -> tuple[Topic, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("config key 'topics' must be a non-empty array of tables ([[topics]])")
    topics = []
    for i, item in enumerate(raw):
        where = f"topics[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"config key '{where}' must be a table")
        _reject_unknown(item, _TOPIC_KEYS, f"{where}.")
        for required in ("name", "pubmed_query"):
            if not str(item.get(required, "")).strip():
                raise ConfigError(f"config key '{where}.{required}' is missing or empty")
        fields: dict[str, Any] = {}
        for key, value in item.items():
            if key == "claims":
                fields[key] = _claims(value, f"{where}.claims")
            elif key in _LIST_KEYS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"config key '{where}.{key}' must be an array of strings")
                fields[key] = tuple(v.strip() for v in value if v.strip())
            else:
                fields[key] = _string(value, f"{where}.{key}").strip()
        topics.append(Topic(**fields))
    names = [t.name for t in topics]
    if len(set(names)) != len(names):
        raise ConfigError("config key 'topics.name' must be unique across topics")
    return tuple(topics)


def _claims(raw: Any, where: str) -> tuple[Claim, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"config key '{where}' must be an array of tables ([[topics.claims]])")
    claims = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"name", "terms"}:
            raise ConfigError(f"config key '{where}[{i}]' must have exactly 'name' and 'terms'")
        terms = item["terms"]
        if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
            raise ConfigError(f"config key '{where}[{i}].terms' must be a non-empty array of strings")
        claims.append(Claim(_string(item["name"], f"{where}[{i}].name"), tuple(terms)))
    return tuple(claims)


def _reject_unknown(table: dict, allowed: set[str], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"config key '{prefix}{key}' is not recognised")


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config key '{key}' must be a string, not {type(value).__name__}")
    return value


def _check_url(value: str, key: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"config key '{key}' must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


CONFIG_TEMPLATE = f'''# litwatch configuration. Every key is optional; environment variables win over
# this file: NCBI_API_KEY, NCBI_EMAIL, LITWATCH_EUTILS_URL, LITWATCH_CTGOV_URL.

[ncbi]
# An NCBI API key raises the request rate from 3 to 10 per second.
# Prefer the NCBI_API_KEY environment variable: it keeps the key out of this file.
# api_key = ""
# NCBI asks every client to name itself and give a contact address.
# email = "you@example.org"
tool = "litwatch"

[services]
# Base URLs, e.g. to go through a proxy or a local stand-in.
eutils_url = "{DEFAULT_EUTILS_URL}"
ctgov_url = "{DEFAULT_CTGOV_URL}"

# One [[topics]] table per subject. The first one is the default topic.
[[topics]]
name = "{DEFAULT_TOPIC.name}"
# PubMed search syntax: MeSH headings plus title/abstract words.
pubmed_query = """{DEFAULT_TOPIC.pubmed_query}"""
# ClinicalTrials.gov API v2 query.cond / query.intr / query.term (Essie syntax).
ctgov_condition = \'{DEFAULT_TOPIC.ctgov_condition}\'
ctgov_intervention = "{DEFAULT_TOPIC.ctgov_intervention}"
ctgov_term = ""
# The topic's two concepts. A paper or trial is "core" when a term of each appears in its
# title, abstract, MeSH, keywords, conditions or interventions; "peripheral" otherwise.
intervention_terms = {json.dumps(list(DEFAULT_TOPIC.intervention_terms))}
condition_terms = {json.dumps(list(DEFAULT_TOPIC.condition_terms))}

# Claims the report weighs the published evidence for: a core paper addresses a claim
# when one of its terms appears in its title or abstract.
''' + "".join(f'''[[topics.claims]]
name = "{claim.name}"
terms = {json.dumps(list(claim.terms))}
''' for claim in DEFAULT_TOPIC.claims)
