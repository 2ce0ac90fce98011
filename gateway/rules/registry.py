"""The rule registry: small named checks, each with its official code, retourcode and message class.

Two shapes of check:

* a **message check** ``(subject, context) -> sequence of (path, message)`` looks at the message as a whole
  (totals, keys across lines, header dates);
* a **line check** ``(line, subject) -> (leaf, message) | None`` looks at one Prestatie; the engine runs all
  line checks in a single pass over the lines and builds the path (``.../Prestatie[2]/<leaf>``).

The registry wraps each issue into a :class:`~gateway.results.Finding` carrying the rule's code and
retourcode. Rules are registered per release and message kind with :func:`rule` / :func:`line_rule`; the
rule table in ``docs/rules.md`` is generated from this registry (``python -m gateway.rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.model import Context, Line, Subject, line_path
from gateway.results import Finding

__all__ = [
    "Context",
    "Issue",
    "Kind",
    "LineCheck",
    "MessageCheck",
    "MessageClass",
    "Rule",
    "Subject",
    "all_rules",
    "line_rule",
    "rule",
    "rules_for",
    "run_rules",
]

# The kind of message a rule checks: a declaration, an answer, or an answer against its declaration.
Kind = Literal["declaration", "answer", "echo"]
MessageClass = Literal["Header", "Declaratie", "Client", "Prestatie"]
Issue = tuple[str, str]  # (path, message) of a message check; (leaf, message) of a line check


MessageCheck = Callable[[Subject, Context], Sequence[Issue]]
LineCheck = Callable[[Line, Subject], "Issue | None"]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    retourcode: str | None
    message_class: MessageClass
    kinds: frozenset[Kind]
    release: str
    title: str
    check: MessageCheck | None = None
    line_check: LineCheck | None = None


_RULES: list[Rule] = []
_BY_KIND: dict[tuple[Kind, str], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = {}


def _register(new: Rule) -> None:
    for r in _RULES:
        if (r.code, r.message_class, r.release) == (
            new.code,
            new.message_class,
            new.release,
        ) and r.kinds & new.kinds:
            raise ValueError(
                f"rule {new.code} ({new.message_class}) registered twice for the same message kind"
            )
    _RULES.append(new)
    _BY_KIND.clear()


def rule(  # noqa: PLR0917 - the rule's identity reads best positionally at the decorator
    code: str,
    retourcode: str | None,
    message_class: MessageClass,
    kinds: Sequence[Kind],
    title: str,
    release: str = "3.2",
) -> Callable[[MessageCheck], MessageCheck]:
    """Register a message check. A code may be registered once per message class and message kind."""

    def register(check: MessageCheck) -> MessageCheck:
        _register(Rule(code, retourcode, message_class, frozenset(kinds), release, title, check=check))
        return check

    return register


def line_rule(
    code: str,
    retourcode: str | None,
    kinds: Sequence[Kind],
    title: str,
    release: str = "3.2",
) -> Callable[[LineCheck], LineCheck]:
    """Register a line check (message class ``Prestatie``)."""

    def register(check: LineCheck) -> LineCheck:
        _register(Rule(code, retourcode, "Prestatie", frozenset(kinds), release, title, line_check=check))
        return check

    return register


def all_rules() -> tuple[Rule, ...]:
    return tuple(_RULES)


def rules_for(kind: Kind, release: str) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The (message rules, line rules) registered for a message kind and release."""
    key = (kind, release)
    found = _BY_KIND.get(key)
    if found is None:
        selected = [r for r in _RULES if kind in r.kinds and r.release == release]
        found = (
            tuple(r for r in selected if r.check is not None),
            tuple(r for r in selected if r.line_check is not None),
        )
        _BY_KIND[key] = found
    return found


def run_rules(kind: Kind, release: str, subject: Subject, context: Context) -> tuple[Finding, ...]:
    """Every finding of the rules of ``kind``: message rules first, then lines in document order."""
    message_rules, line_rules = rules_for(kind, release)
    findings: list[Finding] = []
    for r in message_rules:
        issues = r.check(subject, context)  # type: ignore[misc]  # message rules have a check
        if issues:
            findings.extend(Finding(r.code, r.retourcode, path, msg) for path, msg in issues)
    if line_rules:
        for client in subject.clients:
            for line in client.lines:
                for r in line_rules:
                    hit = r.line_check(line, subject)  # type: ignore[misc]  # line rules have a line check
                    if hit is not None:
                        path = line_path(subject.container, subject.clients, line, hit[0])
                        findings.append(Finding(r.code, r.retourcode, path, hit[1]))
    return tuple(findings)
