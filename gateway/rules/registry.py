"""The rule registry: small named checks, each with its official code, retourcode and message class.

A rule is a function ``(subject, context) -> sequence of (path, message)``; the registry wraps each
issue into a :class:`~gateway.results.Finding` carrying the rule's code and retourcode. Rules are
registered per release and per message kind with the :func:`rule` decorator, and the rule table in
``docs/rules.md`` is generated from this registry (``python -m gateway.rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, NamedTuple

from gateway.model import Answer, Client, Declaration
from gateway.results import Finding

__all__ = [
    "Context",
    "Issue",
    "Kind",
    "MessageClass",
    "Rule",
    "Subject",
    "all_rules",
    "rule",
    "run_rules",
]

Kind = Literal["declaration", "answer", "echo"]
MessageClass = Literal["Header", "Declaratie", "Client", "Prestatie"]
Issue = tuple[str, str]  # (path, message)


class Subject(NamedTuple):
    """What a rule looks at: the message read into records, plus where its lines live."""

    message: Declaration | Answer
    container: str  # "/Bericht/Declaratie" or "/Bericht/DeclaratieAntwoord"
    clients: tuple[Client, ...]
    message_date: date


class Context(NamedTuple):
    """What a rule may need from outside the message: the clock, and for echo rules the 323."""

    today: date
    declaration: Declaration | None = None


Check = Callable[[Subject, Context], Sequence[Issue]]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    retourcode: str | None
    message_class: MessageClass
    kinds: frozenset[Kind]
    release: str
    title: str
    check: Check

    def run(self, subject: Subject, context: Context) -> list[Finding]:
        return [Finding(self.code, self.retourcode, path, msg) for path, msg in self.check(subject, context)]


_RULES: list[Rule] = []
_BY_KIND: dict[tuple[Kind, str], tuple[Rule, ...]] = {}


def rule(  # noqa: PLR0917 - the rule's identity reads best positionally at the decorator
    code: str,
    retourcode: str | None,
    message_class: MessageClass,
    kinds: Sequence[Kind],
    title: str,
    release: str = "3.2",
) -> Callable[[Check], Check]:
    """Register a check. A code may be registered once per message class and message kind."""

    def register(check: Check) -> Check:
        if any(
            r.code == code
            and r.message_class == message_class
            and r.release == release
            and r.kinds & set(kinds)
            for r in _RULES
        ):
            raise ValueError(f"rule {code} ({message_class}) registered twice for the same message kind")
        _RULES.append(Rule(code, retourcode, message_class, frozenset(kinds), release, title, check))
        _BY_KIND.clear()
        return check

    return register


def all_rules() -> tuple[Rule, ...]:
    return tuple(_RULES)


def rules_for(kind: Kind, release: str) -> tuple[Rule, ...]:
    key = (kind, release)
    found = _BY_KIND.get(key)
    if found is None:
        found = tuple(r for r in _RULES if kind in r.kinds and r.release == release)
        _BY_KIND[key] = found
    return found


def run_rules(kind: Kind, release: str, subject: Subject, context: Context) -> tuple[Finding, ...]:
    findings: list[Finding] = []
    for r in rules_for(kind, release):
        issues = r.check(subject, context)
        if issues:
            findings.extend(Finding(r.code, r.retourcode, path, msg) for path, msg in issues)
    return tuple(findings)
