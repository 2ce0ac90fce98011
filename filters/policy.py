"""Loading and checking minimisation policy files (TOML).

A policy is an ordered list of rules. Each rule says *which lines* it applies to (``match``), *what* it
does (``action``) and *to which fields* (``field``). The file format is documented in
``docs/minimisation.md``; in short::

    policy_version = "1.0.0"
    description = "..."

    [tables.judicial_zorgtype]          # optional inline code tables (string -> string)
    "110" = "101"

    [[rule]]
    id = "optout-disorder-restrict"
    match = { reveals_disorder = true, optout = true }
    action = "restrict"
    withhold = ["product_code", "tariff_cents"]

Everything is checked at load time: unknown keys, fields, attributes, tables, actions and value types are
errors, reported with the rule's id (or its 1-based position when it has none) and the problem. A policy
that loads is therefore safe to evaluate: the engine (:mod:`filters.engine`) never meets a surprise.

Loading reads no files by itself: :func:`parse_policy` takes the text, :func:`load_policy` is the one
convenience that reads a path. Code tables from elsewhere (e.g. ``filters.codetables``) are passed in.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol, cast, get_args

from filters.fields import (
    ATTRIBUTES,
    BILLING_FIELDS,
    FLAG_FIELDS,
    LINE_FIELDS,
    MESSAGE_FIELDS,
    POLICY_SET_FIELDS,
    Value,
)

__all__ = [
    "Action",
    "CodeTable",
    "Policy",
    "PolicyError",
    "Rule",
    "Scope",
    "Target",
    "default_policy",
    "default_policy_text",
    "load_policy",
    "parse_policy",
]

Action = Literal["keep", "drop", "coarsen", "neutralise", "pseudonymise", "restrict", "tag"]
Target = Literal["both", "billing", "message"]
Scope = Literal["line", "message"]
Unmapped = Literal["keep", "drop", "neutralise"]

_ACTIONS: tuple[str, ...] = get_args(Action)
_TARGETS: tuple[str, ...] = get_args(Target)
_SCOPES: tuple[str, ...] = get_args(Scope)
_UNMAPPED: tuple[str, ...] = get_args(Unmapped)
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")
_TOP_KEYS = frozenset({"policy_version", "description", "tables", "rule"})
_COMMON_KEYS = frozenset({"id", "description", "implements", "match", "action", "scope", "audit"})
# Keys each action accepts besides the common ones.
_ACTION_KEYS: dict[str, frozenset[str]] = {
    "keep": frozenset({"field"}),
    "tag": frozenset({"field"}),
    "drop": frozenset({"field", "target"}),
    "coarsen": frozenset({"field", "target", "table", "source", "unmapped", "value"}),
    "neutralise": frozenset({"field", "target", "value", "value_from"}),
    "pseudonymise": frozenset({"field", "target", "domain"}),
    "restrict": frozenset({"withhold"}),
}
_MESSAGE_ACTIONS = frozenset({"drop", "coarsen", "neutralise"})


class PolicyError(ValueError):
    """A policy file cannot be used. The message names the file, the rule and every problem found."""


class CodeTable(Protocol):
    """A named code table: maps a code to its replacement, or None when the code is not in the table."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Rule:
    """One checked rule. ``index`` is its 1-based position in the file."""

    id: str
    index: int
    action: Action
    fields: tuple[str, ...] = ()
    match: tuple[tuple[str, frozenset[Value]], ...] = ()
    scope: Scope = "line"
    target: Target = "both"
    table: str | None = None
    source: str | None = None
    unmapped: Unmapped = "keep"
    value: Value = None
    value_from: str | None = None
    domain: str = ""
    withhold: tuple[str, ...] = ()
    audit: bool = True
    description: str = ""
    implements: str = ""

    @property
    def label(self) -> str:
        return f'rule "{self.id}" (#{self.index})'

    @property
    def changes_billing(self) -> bool:
        return self.target in ("both", "billing") and self.scope == "line"

    @property
    def changes_message(self) -> bool:
        return self.target in ("both", "message") or self.scope == "message"

    def matches(self, attrs: Mapping[str, Value]) -> bool:
        """True when every condition holds (an absent attribute matches nothing)."""
        return all(attrs.get(name) in allowed for name, allowed in self.match)

    def mentions(self, attribute: str) -> bool:
        return any(name == attribute for name, _ in self.match)


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A loaded policy: its version, its rules in order and the code tables they use."""

    version: str
    rules: tuple[Rule, ...]
    tables: Mapping[str, CodeTable] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    name: str = "<policy>"

    @property
    def line_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.scope == "line")

    @property
    def message_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.scope == "message")

    @property
    def match_attributes(self) -> tuple[str, ...]:
        """Every attribute some rule tests, in a stable order (the inputs of a line's decision)."""
        names = {name for r in self.rules for name, _ in r.match}
        return tuple(sorted(names))

    @property
    def pseudonymises(self) -> bool:
        return any(r.action == "pseudonymise" for r in self.rules)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


# --------------------------------------------------------------------------------------------------
# Checking


class _Problems:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[str] = []

    def add(self, where: str, problem: str) -> None:
        self.items.append(f"{where}: {problem}")

    def raise_if_any(self) -> None:
        if self.items:
            raise PolicyError(f"policy {self.name} is not usable: " + "; ".join(self.items))


def _is_value(v: object) -> bool:
    return isinstance(v, str | int | bool)


def _names(raw: object) -> tuple[str, ...] | None:
    """A field list: one name or a non-empty list of names; None when malformed."""
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return tuple(cast("list[str]", raw))
    return None


def _check_match(raw: object, where: str, p: _Problems) -> tuple[tuple[str, frozenset[Value]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        p.add(where, "match must be a table of attribute = value")
        return ()
    out: list[tuple[str, frozenset[Value]]] = []
    for name, wanted in raw.items():
        kind = ATTRIBUTES.get(name)
        if kind is None:
            p.add(where, f'match names an unknown attribute "{name}"')
            continue
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values:
            p.add(where, f'match "{name}" has an empty list')
            continue
        if kind == "bool":
            ok = all(isinstance(v, bool) for v in values)
            expected = "true or false"
        else:
            ok = all(isinstance(v, str) for v in values)
            expected = 'a string or a list of strings (quote codes: "51", not 51)'
        if not ok:
            p.add(where, f'match "{name}" must be {expected}')
            continue
        out.append((name, frozenset(cast("list[Value]", values))))
    return tuple(out)


def _check_rule(  # noqa: PLR0912, PLR0915 - one flat list of checks reads better than many helpers
    raw: object, index: int, seen: set[str], tables: Mapping[str, CodeTable], p: _Problems
) -> Rule | None:
    if not isinstance(raw, dict):
        p.add(f"rule #{index}", "each [[rule]] must be a table")
        return None
    rid = raw.get("id")
    if isinstance(rid, str) and _ID.match(rid):
        where = f'rule "{rid}" (#{index})'
        if rid in seen:
            p.add(where, "the id is used by an earlier rule")
        seen.add(rid)
    else:
        where = f"rule #{index}"
        p.add(where, "id is missing or not of the form [a-z0-9][a-z0-9._-]* (at most 64 characters)")
        rid = f"#{index}"
    action = raw.get("action")
    if action not in _ACTIONS:
        p.add(where, f"action must be one of {', '.join(_ACTIONS)}")
        return None
    allowed = _COMMON_KEYS | _ACTION_KEYS[action]
    for key in raw:
        if key not in allowed:
            p.add(where, f'key "{key}" is not used by action "{action}"')
    scope = raw.get("scope", "line")
    if scope not in _SCOPES:
        p.add(where, 'scope must be "line" or "message"')
        scope = "line"
    if scope == "message" and action not in _MESSAGE_ACTIONS:
        p.add(where, f"a message-scope rule can only {', '.join(sorted(_MESSAGE_ACTIONS))}")
    match = _check_match(raw.get("match"), where, p)
    audit = raw.get("audit", True)
    if not isinstance(audit, bool):
        p.add(where, "audit must be true or false")
        audit = True
    for text_key in ("description", "implements"):
        if not isinstance(raw.get(text_key, ""), str):
            p.add(where, f"{text_key} must be a string")

    fields: tuple[str, ...] = ()
    if action != "restrict":
        names = _names(raw.get("field"))
        if names is None:
            p.add(where, "field must be a field name or a non-empty list of field names")
            names = ()
        known = MESSAGE_FIELDS if scope == "message" else LINE_FIELDS | FLAG_FIELDS
        for name in names:
            if name not in known:
                p.add(where, f'unknown field "{name}" for scope "{scope}"')
            elif action == "tag" and name not in FLAG_FIELDS:
                p.add(where, f'tag sets only flag fields ({", ".join(sorted(FLAG_FIELDS))}), not "{name}"')
            elif action != "tag" and name in POLICY_SET_FIELDS:
                p.add(where, f'"{name}" is set by tag/restrict rules only')
            elif action == "keep" and name not in BILLING_FIELDS:
                p.add(where, f'keep applies to billing fields; "{name}" is not one')
        if len(set(names)) != len(names):
            p.add(where, "a field is listed twice")
        fields = names

    target = raw.get("target", "both")
    if target not in _TARGETS:
        p.add(where, 'target must be "both", "billing" or "message"')
        target = "both"
    if scope == "message" and "target" in raw:
        p.add(where, "a message-scope rule changes the message only; leave out target")
    if target == "billing" and any(f not in BILLING_FIELDS for f in fields):
        p.add(where, 'target "billing" on a field that is not in the billing record changes nothing')

    value = raw.get("value")
    if value is not None and not _is_value(value):
        p.add(where, "value must be a string, an integer or a boolean")
        value = None
    table = raw.get("table")
    source = raw.get("source")
    unmapped = raw.get("unmapped", "keep")
    value_from = raw.get("value_from")
    if action == "coarsen":
        if not isinstance(table, str) or table not in tables:
            p.add(where, "coarsen needs table = the name of a known code table")
        if source is not None and (
            not isinstance(source, str) or (source not in ATTRIBUTES and source not in LINE_FIELDS)
        ):
            p.add(where, "source must name a field or an attribute")
        if unmapped not in _UNMAPPED:
            p.add(where, 'unmapped must be "keep", "drop" or "neutralise"')
            unmapped = "keep"
        if (unmapped == "neutralise") != (value is not None):
            p.add(where, 'value is required with unmapped = "neutralise" and used only there')
    if action == "neutralise":
        if value_from is not None and (
            not isinstance(value_from, str) or ATTRIBUTES.get(value_from) != "str"
        ):
            p.add(where, "value_from must name a string attribute (e.g. neutral_code)")
        if value is None and value_from is None:
            p.add(where, "neutralise needs value (and/or value_from with value as the fallback)")
    domain = raw.get("domain", rid)
    if not isinstance(domain, str) or not domain:
        p.add(where, "domain must be a non-empty string")
        domain = str(rid)
    withhold: tuple[str, ...] = ()
    if action == "restrict":
        raw_withhold = raw.get("withhold", [])
        names = _names(raw_withhold) if raw_withhold != [] else ()
        if names is None:
            p.add(where, "withhold must be a list of billing field names")
            names = ()
        for name in names:
            if name not in BILLING_FIELDS or name in POLICY_SET_FIELDS:
                p.add(where, f'withhold names "{name}", which is not a billing field it can null')
        withhold = names
    return Rule(
        id=str(rid),
        index=index,
        action=action,
        fields=fields,
        match=match,
        scope=scope,
        target=target,
        table=table if isinstance(table, str) else None,
        source=source if isinstance(source, str) else None,
        unmapped=unmapped,
        value=cast("Value", value),
        value_from=value_from if isinstance(value_from, str) else None,
        domain=domain,
        withhold=withhold,
        audit=audit,
        description=str(raw.get("description", "")),
        implements=str(raw.get("implements", "")),
    )


def _check_tables(raw: object, extra: Mapping[str, CodeTable], p: _Problems) -> dict[str, CodeTable]:
    tables: dict[str, CodeTable] = dict(extra)
    if raw is None:
        return tables
    if not isinstance(raw, dict):
        p.add("tables", "must be a table of named code tables")
        return tables
    for name, content in raw.items():
        if name in extra:
            p.add(f'table "{name}"', "is defined in the file and also passed in")
            continue
        if not isinstance(content, dict) or not all(isinstance(v, str) for v in content.values()):
            p.add(f'table "{name}"', "must map codes to replacement codes (strings)")
            continue
        tables[name] = MappingProxyType(dict(cast("dict[str, str]", content)))
    return tables


def parse_policy(
    text: str, *, name: str = "<policy>", tables: Mapping[str, CodeTable] | None = None
) -> Policy:
    """Parse and check a policy; raise :class:`PolicyError` naming each broken rule and its problem."""
    p = _Problems(name)
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy {name} is not valid TOML: {exc}") from None
    for key in data:
        if key not in _TOP_KEYS:
            p.add("top level", f'unknown key "{key}"')
    version = data.get("policy_version")
    if not isinstance(version, str) or not version.strip():
        p.add("top level", "policy_version is required (a non-empty string)")
        version = ""
    description = data.get("description", "")
    if not isinstance(description, str):
        p.add("top level", "description must be a string")
        description = ""
    known_tables = _check_tables(data.get("tables"), tables or {}, p)
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        p.add("top level", "a policy needs at least one [[rule]]")
        raw_rules = []
    seen: set[str] = set()
    rules = [_check_rule(raw, i, seen, known_tables, p) for i, raw in enumerate(raw_rules, start=1)]
    p.raise_if_any()
    return Policy(
        version=version,
        rules=tuple(r for r in rules if r is not None),
        tables=MappingProxyType(known_tables),
        description=description,
        name=name,
    )


def load_policy(path: Path | str, *, tables: Mapping[str, CodeTable] | None = None) -> Policy:
    """Read and check a policy file (the only function of this module that touches a file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy {p}: {exc}") from None
    return parse_policy(text, name=p.name, tables=tables)


def default_policy_text() -> str:
    """The text of the shipped default policy (``filters/policies/default.toml``)."""
    return (resources.files("filters") / "policies" / "default.toml").read_text(encoding="utf-8")


def default_policy(*, tables: Mapping[str, CodeTable] | None = None) -> Policy:
    return parse_policy(default_policy_text(), name="default.toml", tables=tables)


def field_list(rules: Sequence[Rule]) -> tuple[str, ...]:
    """Every field the given rules name, in first-mention order (for documentation and checks)."""
    return tuple(dict.fromkeys(f for r in rules for f in r.fields))
