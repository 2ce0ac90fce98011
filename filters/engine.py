"""The policy engine: one declaration line (a neutral view) in, an immutable result out.

Pure: the policy (with its code tables), the line's values and attributes (including the opt-out
answer) and the pseudonymisation key are passed in; the engine reads no file, clock, register or
environment. Adapters (``filters.adapters``) turn a message of any format into :class:`LineView` values
and apply the results back to that format.

Semantics (the same as documented in ``docs/minimisation.md``):

* Rules are tried in file order. ``tag`` sets a flag (visible to later rules as an attribute);
  ``restrict`` routes the line to the restricted channel and nulls its ``withhold`` fields in billing.
* For every other action, the **first** matching rule that names a field decides that field, separately
  for the billing record and for the filtered message (``target``); later rules do not touch it again.
* **Allow-list**: a billing field that no rule decides is null. ``keep`` copies the value as received;
  ``coarsen``/``neutralise``/``pseudonymise`` put the new value in billing (unless ``target = "message"``);
  ``drop`` nulls it.
* A change is audited (rule id, field, action) when the value actually changed, never with a value.

Decisions depend only on the attributes a policy tests, so the engine caches one *plan* per distinct
combination of those attributes; applying a plan to a line is a few C-level calls when the adapter hands
its values over as a :class:`FieldTuple` (the billing fields in contract order), and a short loop for any
other mapping.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from types import MappingProxyType
from typing import NamedTuple

from filters.fields import BILLING_FIELDS, FLAG_FIELDS, Value
from filters.policy import Policy, PolicyError, Rule

__all__ = [
    "AuditItem",
    "Engine",
    "FieldTuple",
    "LineResult",
    "LineView",
    "MessageResult",
    "MessageView",
]

_CACHE_LIMIT = 4096
_ABSENT = ""  # a field name no view uses: reading it yields None
_BILLING_INDEX = {name: i for i, name in enumerate(BILLING_FIELDS)}
_RESTRICTED_INDEX = _BILLING_INDEX["restricted"]

Derive = Callable[[Mapping[str, Value]], Value]

# A FieldTuple's values followed by these constants: plans pick billing values by index in one call.
_CONSTANTS: tuple[Value, ...] = (None, False, True)
_NONE, _FALSE, _TRUE = len(BILLING_FIELDS), len(BILLING_FIELDS) + 1, len(BILLING_FIELDS) + 2


class FieldTuple(Mapping[str, Value]):
    """A line's fields as a tuple (``row``) of the billing fields in contract order, plus other fields in
    ``extra``.

    A read-only mapping like any other for rules and adapters; for the engine it is the fast form: a
    plan picks a line's billing values from it by position instead of by name. Positions of fields the
    line does not have (and of ``special_category``/``restricted``, which the engine sets) hold None.
    """

    __slots__ = ("extra", "row")

    def __init__(self, values: tuple[Value, ...], extra: Mapping[str, Value] | None = None) -> None:
        if len(values) != len(BILLING_FIELDS):
            raise ValueError(f"a FieldTuple holds {len(BILLING_FIELDS)} values in BILLING_FIELDS order")
        self.row = values
        self.extra = extra

    def __getitem__(self, key: str) -> Value:
        index = _BILLING_INDEX.get(key)
        if index is not None:
            return self.row[index]
        if self.extra is not None:
            return self.extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Value = None) -> Value:  # type: ignore[override]
        index = _BILLING_INDEX.get(key)
        if index is not None:
            return self.row[index]
        return default if self.extra is None else self.extra.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in _BILLING_INDEX or (self.extra is not None and key in self.extra)

    def __iter__(self) -> Iterator[str]:
        yield from BILLING_FIELDS
        if self.extra is not None:
            yield from self.extra

    def __len__(self) -> int:
        return len(BILLING_FIELDS) + (0 if self.extra is None else len(self.extra))

    def __repr__(self) -> str:  # values include the BSN: never print them
        return f"FieldTuple(<{len(self)} fields>)"


class LineView(NamedTuple):
    """One line as the engine sees it.

    ``fields`` maps field names (``filters.fields``) to the values as received; ``attrs`` holds the match
    attributes (an explicit ``optout`` there overrides the lazy question passed to :meth:`Engine.line`).
    Neither may be changed once handed to the engine (it remembers decisions per ``attrs`` object, so
    adapters can share one attribute mapping between the lines of a product).
    ``derived`` names billing fields computed from the line's values *after* the policy changed them
    (e.g. the JW321 prestatiecode from its minimised triplets); such a field still reaches billing only
    when a rule keeps it.
    """

    fields: Mapping[str, Value]
    attrs: Mapping[str, Value]
    derived: Mapping[str, Derive] | None = None


class MessageView(NamedTuple):
    """The message-level fields (``scope = "message"`` rules), e.g. the JW321 comment records."""

    fields: Mapping[str, Value]
    attrs: Mapping[str, Value]


class AuditItem(NamedTuple):
    """What one rule did to one field (``field`` is None for ``restrict``: the whole line). No value."""

    rule: str
    action: str
    field: str | None


class LineResult(NamedTuple):
    """The outcome for one line (immutable).

    ``values`` is the billing record: one value per field of ``filters.fields.BILLING_FIELDS``, in that
    order (periods as ``(start, end)`` pairs). ``changes`` holds the new values of fields the filtered
    message must carry (None = remove/blank). ``restricted_by`` lists the ids of the ``restrict`` rules
    that matched.
    """

    values: tuple[Value, ...]
    changes: Mapping[str, Value]
    audit: tuple[AuditItem, ...]
    restricted_by: tuple[str, ...]

    @property
    def restricted(self) -> bool:
        return bool(self.restricted_by)

    @property
    def billing(self) -> Mapping[str, Value]:
        return MappingProxyType(dict(zip(BILLING_FIELDS, self.values, strict=True)))


class MessageResult(NamedTuple):
    changes: Mapping[str, Value]
    audit: tuple[AuditItem, ...]


_NO_CHANGES: Mapping[str, Value] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class _Step:
    rule: Rule
    field: str
    billing: int  # index into the billing values, or -1 when the billing side is not this step's
    message: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the policy decides for one combination of attributes, compiled for fast application.

    ``read`` names, per billing field, the view field to copy (``_ABSENT``: none); ``constants`` overwrite
    positions (flags, restricted); ``pick`` does both at once for a :class:`FieldTuple` (followed by
    ``_CONSTANTS``); ``steps`` compute changed values.
    """

    read: tuple[str, ...]
    pick: Callable[[tuple[Value, ...]], tuple[Value, ...]] = field(compare=False)
    constants: tuple[tuple[int, Value], ...]
    steps: tuple[_Step, ...]
    kept: frozenset[str]
    restricted_by: tuple[str, ...]
    restrict_audit: tuple[AuditItem, ...]


class Engine:
    """Evaluates one policy. Reusable; holds only the policy, the key and a cache of decisions."""

    def __init__(self, policy: Policy, *, key: bytes | None = None) -> None:
        if policy.pseudonymises and not key:
            rule = next(r for r in policy.rules if r.action == "pseudonymise")
            raise PolicyError(f"policy {policy.name}: {rule.label} pseudonymises, but no key was given")
        self.policy = policy
        self._key = key or b""
        self._line_rules = policy.line_rules
        self._message_rules = policy.message_rules
        attributes = policy.match_attributes
        self._uses_optout = "optout" in attributes
        self._names = tuple(a for a in attributes if a != "optout")
        # key (attributes without optout) -> (depends on optout, plan without, plan with opt-out)
        self._plans: dict[tuple[Value, ...], tuple[bool, _Plan, _Plan]] = {}
        self._memo: dict[int, tuple[Mapping[str, Value], tuple[bool, _Plan, _Plan]]] = {}

    # -- decisions ---------------------------------------------------------------------------------

    def _entry(self, attrs: Mapping[str, Value]) -> tuple[bool, _Plan, _Plan]:
        # Adapters share one attribute mapping between lines of the same product: remember the entry
        # per mapping object (held in the memo, so its id cannot be reused while it is there).
        memo = self._memo.get(id(attrs))
        if memo is not None and memo[0] is attrs:
            return memo[1]
        entry = self._entry_by_key(attrs)
        if len(self._memo) >= _CACHE_LIMIT:
            self._memo.clear()
        self._memo[id(attrs)] = (attrs, entry)
        return entry

    def _entry_by_key(self, attrs: Mapping[str, Value]) -> tuple[bool, _Plan, _Plan]:
        key = tuple(map(attrs.get, self._names))
        entry = self._plans.get(key)
        if entry is None:
            if len(self._plans) >= _CACHE_LIMIT:
                self._plans.clear()
            without = self._decide({**attrs, "optout": False})
            if self._uses_optout:
                with_optout = self._decide({**attrs, "optout": True})
                entry = (with_optout != without, without, with_optout)
            else:
                entry = (False, without, without)
            self._plans[key] = entry
        return entry

    def _decide(self, attrs: Mapping[str, Value]) -> _Plan:  # noqa: PLR0912 - one pass over the rules
        current = dict(attrs)
        flags: set[str] = set()
        billing_done: set[str] = set()
        message_done: set[str] = set()
        kept: set[str] = set()
        steps: list[tuple[Rule, str, bool, bool]] = []
        restrict: list[Rule] = []
        withheld: set[str] = set()
        for rule in self._line_rules:
            if not rule.matches(current):
                continue
            if rule.action == "tag":
                for name in rule.fields:
                    flags.add(name)
                    current[name] = True
                continue
            if rule.action == "restrict":
                restrict.append(rule)
                withheld.update(rule.withhold)
                continue
            for name in rule.fields:
                in_billing = name in _BILLING_INDEX and name not in billing_done
                if rule.action == "keep":
                    if in_billing:
                        kept.add(name)
                        billing_done.add(name)
                    continue
                billing = rule.changes_billing and in_billing
                message = rule.changes_message and name not in message_done
                if billing:
                    billing_done.add(name)
                if message:
                    message_done.add(name)
                if billing or message:
                    steps.append((rule, name, billing, message))
        if not restrict:
            withheld.clear()
        read = tuple(name if name in kept and name not in withheld else _ABSENT for name in BILLING_FIELDS)
        constants: list[tuple[int, Value]] = [(_BILLING_INDEX[f], f in flags) for f in sorted(FLAG_FIELDS)]
        constants.append((_RESTRICTED_INDEX, bool(restrict)))
        indexes = [_BILLING_INDEX[name] if name else _NONE for name in read]
        for index, constant in constants:
            indexes[index] = _TRUE if constant else _FALSE
        compiled = tuple(
            _Step(
                rule,
                name,
                _BILLING_INDEX[name] if billing and name not in withheld else -1,
                message,
            )
            for rule, name, billing, message in steps
        )
        return _Plan(
            read=read,
            pick=itemgetter(*indexes),
            constants=tuple(constants),
            steps=compiled,
            kept=frozenset(kept - withheld),
            restricted_by=tuple(r.id for r in restrict),
            restrict_audit=tuple(AuditItem(r.id, "restrict", None) for r in restrict if r.audit),
        )

    def depends_on_optout(self, attrs: Mapping[str, Value]) -> bool:
        """True when the outcome for a line with these attributes differs with and without an opt-out."""
        return self._entry(attrs)[0]

    # -- application -------------------------------------------------------------------------------

    def _compute(  # noqa: PLR0911 - one return per action and outcome
        self, rule: Rule, old: Value, view: LineView | MessageView
    ) -> tuple[Value, str]:
        action = rule.action
        if action == "drop":
            return None, "drop"
        if action == "neutralise":
            if rule.value_from is not None:
                supplied = view.attrs.get(rule.value_from)
                if supplied is not None:
                    return supplied, "neutralise"
            return rule.value, "neutralise"
        if action == "pseudonymise":
            if old is None:
                return None, "pseudonymise"
            message = f"{rule.domain}|{old}".encode()
            return hmac.new(self._key, message, hashlib.sha256).hexdigest(), "pseudonymise"
        # coarsen
        name = rule.source
        source: Value
        if name is None:
            source = old
        elif name in view.fields:
            source = view.fields[name]
        else:
            source = view.attrs.get(name)
        table = self.policy.tables[rule.table or ""]
        mapped = table.get(str(source)) if source is not None else None
        if mapped is not None:
            return mapped, "coarsen"
        if rule.unmapped == "drop":
            return None, "drop"
        if rule.unmapped == "neutralise":
            return rule.value, "neutralise"
        return old, "coarsen"

    def line(  # noqa: PLR0912 - the per-line hot path, kept in one place on purpose
        self, view: LineView, optout: Callable[[], bool] | None = None
    ) -> LineResult:
        """Apply the policy to one line.

        ``optout`` answers "is an opt-out active for this line?"; it is called only when the outcome
        depends on it (so a register is asked only for lines where it matters). Without it: no opt-out.
        """
        attrs = view.attrs
        needed, plan, with_optout = self._entry(attrs)
        if needed:
            given = attrs.get("optout")
            if given is None:
                given = optout() if optout is not None else False
            if given:
                plan = with_optout
        fields = view.fields
        derived = view.derived
        if type(fields) is FieldTuple:
            picked: tuple[Value, ...] = plan.pick(fields.row + _CONSTANTS)
            if not plan.steps and not derived:  # the common case: nothing to compute
                return LineResult(picked, _NO_CHANGES, plan.restrict_audit, plan.restricted_by)
            values = list(picked)
        else:
            values = list(map(fields.get, plan.read))
            for index, constant in plan.constants:
                values[index] = constant
        changes: dict[str, Value] | None = None
        audit = list(plan.restrict_audit)
        for step in plan.steps:
            old = fields.get(step.field)
            new, action = self._compute(step.rule, old, view)
            if step.billing >= 0:
                values[step.billing] = new
            if new != old:
                if step.message:
                    if changes is None:
                        changes = {}
                    changes[step.field] = new
                if step.rule.audit:
                    audit.append(AuditItem(step.rule.id, action, step.field))
        if derived:
            after: Mapping[str, Value] = {**fields, **changes} if changes else fields
            for name, compute in derived.items():
                if name in plan.kept:
                    values[_BILLING_INDEX[name]] = compute(after)
        return LineResult(
            tuple(values),
            _NO_CHANGES if changes is None else MappingProxyType(changes),
            tuple(audit),
            plan.restricted_by,
        )

    def message(self, view: MessageView) -> MessageResult:
        """Apply the message-scope rules (first matching rule per field)."""
        changes: dict[str, Value] = {}
        audit: list[AuditItem] = []
        done: set[str] = set()
        for rule in self._message_rules:
            if not rule.matches(view.attrs):
                continue
            for name in rule.fields:
                if name in done:
                    continue
                done.add(name)
                old = view.fields.get(name)
                new, action = self._compute(rule, old, view)
                if new != old:
                    changes[name] = new
                    if rule.audit:
                        audit.append(AuditItem(rule.id, action, name))
        return MessageResult(MappingProxyType(changes), tuple(audit))
