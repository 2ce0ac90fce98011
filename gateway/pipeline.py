"""The one pipeline every intake uses: bytes in, everything that goes out as immutable values.

    bytes -> validate (transport, schema, rules) -> answer plan -> answer (325/304/322)
          -> minimise (billing records, filtered message, audit, restricted originals)

Pure: no file, socket, clock or database. The date, the opt-out lookup and the keys come in through
:class:`Environment`; the adapters (CLI ``process``, HTTP, Kafka) write the outputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, cast

from gateway.registry import SchemaRegistry
from gateway.results import Verdict
from gateway.retour import build_answer
from gateway.retour.plan import AnswerPlan, plan_answer
from gateway.validation import Checked, Validator

__all__ = [
    "DedupKey",
    "Environment",
    "Keyed",
    "Minimised",
    "Minimiser",
    "Outcome",
    "answer_id",
    "dedup_key",
    "process",
]

DedupKey = tuple[str, str, str]  # (Afzender, BerichtCode, message identification)


@dataclass(frozen=True, slots=True)
class Minimised:
    """What minimisation produced for one message (empty for an invalid one)."""

    billing: tuple[Mapping[str, Any], ...] = ()
    filtered: bytes | None = None
    audit: tuple[Mapping[str, str], ...] = ()
    restricted: tuple[
        Mapping[str, Any], ...
    ] = ()  # full originals of restricted lines: restricted channel only

    @property
    def any_restricted(self) -> bool:
        return bool(self.restricted)


# (checked message, answer plan or None, environment) -> what leaves the gateway
Minimiser = Callable[[Checked, AnswerPlan | None, "Environment"], Minimised]


@dataclass(frozen=True, slots=True)
class Environment:
    """Everything the pipeline needs from outside, passed in (so the pipeline stays pure)."""

    validator: Validator
    today: date
    minimiser: Minimiser | None = None
    optout: Callable[[str, str, date], bool] | None = None  # (bsn, provider agb, on date) -> active?
    hmac_key: bytes | None = None

    @property
    def registry(self) -> SchemaRegistry:
        return self.validator.registry


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one message: the verdict and every output, ready for an adapter to hand over."""

    verdict: Verdict
    dedup_key: DedupKey
    answer: bytes | None
    minimised: Minimised

    def to_json(self) -> dict[str, Any]:
        """The ``validate --json`` object plus the answer text (HTTP contract, clarifications 19)."""
        out = self.verdict.to_json()
        out["retour"] = self.answer.decode("utf-8") if self.answer is not None else None
        return out


class Keyed(Protocol):
    """A message record that knows its de-duplication key (every record type of a declaration family)."""

    def dedup_key(self) -> DedupKey: ...


def dedup_key(checked: Checked, data: bytes) -> DedupKey:
    """(Afzender, BerichtCode, Identificatie) of a readable message; a content hash otherwise.

    A redelivered message therefore maps to the same key, whether or not it could be read.
    """
    # Every record type of a declaration family implements Keyed; a structural check by attribute is
    # what isinstance() on a runtime-checkable Protocol does, at a fraction of its cost per message.
    key_of = getattr(checked.message, "dedup_key", None)
    if key_of is not None:
        return cast("Keyed", checked.message).dedup_key()
    return ("", "", hashlib.sha256(data).hexdigest())


def answer_id(key: DedupKey) -> str:
    """A stable 12-character id for the answer to a message: a redelivery gets the same answer id."""
    return hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:12].upper()


def process(data: bytes, source: str, env: Environment) -> Outcome:
    """Run the whole pipeline on one message."""
    checked = env.validator.check(data, source, today=env.today)
    key = dedup_key(checked, data)
    plan = (
        plan_answer(checked.verdict)
        if checked.spec is not None and checked.spec.kind == "declaration"
        else None
    )
    answer = None
    if plan is not None:
        answer = build_answer(checked, env.registry, message_id=answer_id(key), today=env.today, plan=plan)
    minimised = Minimised()
    if env.minimiser is not None and checked.spec is not None:
        minimised = env.minimiser(checked, plan, env)
    return Outcome(checked.verdict, key, answer, minimised)
