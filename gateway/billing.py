"""The billing record: the minimal set finance receives, one per declaration line (interfaces.md).

One serialiser for every adapter (CLI, batch outbox, HTTP, Kafka): :func:`record_json` turns the engine's
record (periods as ``(start, end)`` pairs) into the contract's JSON object, fields in contract order.
:func:`record_problems` checks a JSON record against the contract (exact field set, types) - the
allow-list schema that tests hold every produced record to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

from filters.fields import BILLING_FIELDS, Value

__all__ = [
    "BILLING_FIELDS",
    "PERIOD_FIELDS",
    "record_from_values",
    "record_json",
    "record_problems",
    "record_text",
    "signed_total",
]

PERIOD_FIELDS = frozenset({"declaration_period", "product_period"})
_PERIOD_INDEXES = tuple(i for i, name in enumerate(BILLING_FIELDS) if name in PERIOD_FIELDS)
_INT_FIELDS = frozenset({"allocation_number", "volume", "tariff_cents", "amount_cents"})
_BOOL_FIELDS = frozenset({"special_category", "restricted"})
_REQUIRED = frozenset({"message_type", "amount_cents", "debit_credit", "special_category", "restricted"})


def record_json(record: Mapping[str, Value]) -> dict[str, Any]:
    """The JSON object of one billing record (every contract field, in contract order)."""
    out: dict[str, Any] = {}
    for name in BILLING_FIELDS:
        value = record.get(name)
        if isinstance(value, tuple):
            out[name] = {"start": value[0], "end": value[1]}
        else:
            out[name] = value
    return out


def record_from_values(values: Sequence[Value]) -> dict[str, Any]:
    """The JSON object of a record given as values in contract order (the engine's form); fast path."""
    out: dict[str, Any] = dict(zip(BILLING_FIELDS, values, strict=True))
    for index in _PERIOD_INDEXES:
        value = values[index]
        if isinstance(value, tuple):
            out[BILLING_FIELDS[index]] = {"start": value[0], "end": value[1]}
    return out


def _period_text(value: tuple[str, str]) -> str:
    if len(value) != 2:
        raise TypeError("a period is a (start, end) pair")
    return f'{{"start": {encode_basestring_ascii(value[0])}, "end": {encode_basestring_ascii(value[1])}}}'


# JSON text of each value type, exactly as json.dumps writes it (ASCII-escaped strings); a record is
# then one %-format of the per-field texts into a fixed template: fewer steps than building a dict and
# encoding 22 keys every time (billing JSON is on the per-message hot path).
_ENCODE: dict[type, Callable[[Any], str]] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): {None: "null"}.__getitem__,
    tuple: _period_text,
}
_TEMPLATE = "{" + ", ".join(f'"{name}": %s' for name in BILLING_FIELDS) + "}"


def record_text(values: Sequence[Value]) -> str:
    """One billing record as JSON text (identical to ``json.dumps(record_from_values(values))``)."""
    encode = _ENCODE
    try:
        return _TEMPLATE % tuple([encode[type(v)](v) for v in values])
    except (KeyError, TypeError):  # a value of another type: let json decide (or raise)
        return json.dumps(record_from_values(values))


def signed_total(records: Iterable[Mapping[str, Any]]) -> int:
    """Sum of ``amount_cents`` with credit lines negative (for reconciliation with the declaration)."""
    total = 0
    for r in records:
        amount = int(r["amount_cents"] or 0)
        total += -amount if r["debit_credit"] == "C" else amount
    return total


def _type_problem(name: str, value: Any) -> str | None:
    if name not in BILLING_FIELDS:
        return None
    if value is None:
        return f"{name} must not be null" if name in _REQUIRED else None
    if name in PERIOD_FIELDS:
        ok = isinstance(value, dict) and set(value) == {"start", "end"}
        return None if ok else f'{name} must be {{"start", "end"}}'
    if name in _BOOL_FIELDS:
        return None if isinstance(value, bool) else f"{name} must be a boolean"
    if name in _INT_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{name} must be an integer"
    return None if isinstance(value, str) else f"{name} must be a string"


def record_problems(record: Mapping[str, Any]) -> list[str]:
    """What is wrong with a JSON billing record (empty list: it follows the contract)."""
    problems = []
    if tuple(record) != BILLING_FIELDS:
        extra = sorted(set(record) - set(BILLING_FIELDS))
        missing = sorted(set(BILLING_FIELDS) - set(record))
        problems.append(f"fields differ from the contract (extra {extra}, missing {missing}, or order)")
    for name, value in record.items():
        problem = _type_problem(name, value)
        if problem is not None:
            problems.append(problem)
    if record.get("debit_credit") not in ("C", "D"):
        problems.append('debit_credit must be "C" or "D"')
    return problems
