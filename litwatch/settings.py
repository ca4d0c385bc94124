"""What litwatch is told to do, as plain values: the topics it watches (their concepts and
claims), each source's settings, where digests go. Read and checked by :mod:`litwatch.config`;
a source receives its own :class:`SourceSettings` and the :class:`Topic` it searches, and knows
nothing else of the configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Claim:
    """A claim an article on the topic makes, as a question about outcomes: ``terms`` name the
    outcomes that would test it (instruments, symptoms, timings: "PCL-5", "suicidal ideation",
    "24 hours"). A core paper bears on the claim only through a sentence of its abstract that
    names one of them; a registered trial, through an outcome measure that does. With
    ``only_with``, only papers and trials that also name one of those (e.g. "psychotherapy")
    count: a claim about a combination."""

    name: str
    terms: tuple[str, ...]
    only_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topic:
    """One subject to watch: its name (for commands), its title (for readers), the query each
    source is asked (keyed by source name; a topic may use any subset of sources), its two
    concepts and the claims the report weighs the evidence for."""

    name: str
    queries: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""
    # The topic's two concepts: a record is core to the topic when both appear in it.
    intervention_terms: tuple[str, ...] = ()
    condition_terms: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()

    @property
    def display_title(self) -> str:
        """What a reader sees: the title, else the name."""
        return self.title or self.name


@dataclass(frozen=True)
class Notify:
    """Where `litwatch notify` sends its digest: an SMTP server and the addresses. The
    password comes from the environment only (LITWATCH_SMTP_PASSWORD), never the file."""

    smtp_host: str
    sender: str
    to: tuple[str, ...]
    smtp_port: int | None = None  # default by security: 587 starttls, 465 ssl, 25 none
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return self.smtp_port or {"starttls": 587, "ssl": 465}.get(self.security, 25)


@dataclass(frozen=True)
class Option:
    """A setting a source declares under its own table (``[sources.<name>] key = ...``): the
    environment variable that overrides it, a line of help for the configuration template, its
    default, whether it is a secret (masked wherever it could echo, and better kept in the
    environment), and where an earlier litwatch read it (``"ncbi.email"``: still read)."""

    key: str
    help: str
    env: str | None = None
    default: str | None = None
    secret: bool = False
    old: str | None = None
    example: str = ""  # shown commented out in the template when there is no default


@dataclass(frozen=True)
class SourceSettings:
    """What one source is told: the base URL of its service and the values of its options."""

    url: str
    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        """The option ``key``'s value (its default when unset), or None."""
        return self.values.get(key) or None
