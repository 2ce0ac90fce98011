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

from gateway.registry import MessageSpec, SchemaRegistry
from gateway.results import Finding, Stage, Verdict
from gateway.retour import build_answer
from gateway.retour.plan import AnswerPlan, plan_answer
from gateway.validation import Checked, Validator

__all__ = [
    "ConflictingDuplicate",
    "DedupKey",
    "Environment",
    "Keyed",
    "Minimised",
    "Minimiser",
    "Outcome",
    "answer_id",
    "content_digest",
    "dedup_key",
    "process",
    "refusal_id",
    "refuse_duplicate",
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
    digest: str = ""  # content_digest() of the message: same key + other digest = a conflicting duplicate
    refused_duplicate: bool = False  # the TR056 answer to a conflicting duplicate: nothing but the answer

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


class ConflictingDuplicate(Exception):  # noqa: N818 - the domain's name for the case
    """A message whose key was handed over before with other content (TR056 / retourcode 9056).

    Raised by a hand-over; carries no key or content (they may identify the sender's client).
    """

    def __init__(self) -> None:
        super().__init__("this message identification was used before for other content")


def content_digest(data: bytes) -> str:
    """What tells a redelivery (same bytes) from a conflicting duplicate: 32 hex digits of SHA-256."""
    return hashlib.sha256(data).hexdigest()[:32]


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
    return Outcome(checked.verdict, key, answer, minimised, content_digest(data))


DUPLICATE_RULE = "TR056"
DUPLICATE_RETOURCODE = "9056"


def _identification_path(spec: MessageSpec) -> str:
    """Where the generation keeps the message identification that TR056 is about."""
    if spec.format != "xml":
        return f"/{spec.name}/R01[1]/IDENTIFICATIE_BERICHT"
    if spec.release.startswith("2"):
        return "/Bericht/Header/DeclaratieFactuurIdentificatie/DeclarantFactuurNummer"
    return "/Bericht/Header/BerichtIdentificatie/Identificatie"


def refusal_id(key: DedupKey, digest: str) -> str:
    """The answer id of a conflicting duplicate's refusal: its own, so the first answer keeps its name."""
    return answer_id((key[0], key[1], f"{key[2]}:{digest}"))


def refuse_duplicate(data: bytes, source: str, env: Environment) -> Outcome:
    """The outcome for a conflicting duplicate: refused as a whole under TR056 (retourcode 9056).

    The message is checked again, its findings get the TR056 finding at Header level (so the answer
    rejects the message with 9056 and grants nothing), and nothing of it is billed or minimised. The
    answer has its own id: the first message's answer keeps its name.
    """
    checked = env.validator.check(data, source, today=env.today)
    key = dedup_key(checked, data)
    digest = content_digest(data)
    spec = checked.spec
    if spec is None or checked.message is None:  # unreadable now: it is not a duplicate of anything
        return Outcome(checked.verdict, key, None, Minimised(), digest)
    finding = Finding(
        DUPLICATE_RULE,
        DUPLICATE_RETOURCODE,
        _identification_path(spec),
        "this message identification was used before by this sender for other content",
    )
    verdict = Verdict(
        checked.verdict.source,
        checked.verdict.message_type,
        False,
        Stage.RULES,
        (finding, *(e for e in checked.verdict.errors if e.code != DUPLICATE_RULE)),
    )
    refused = checked._replace(verdict=verdict)
    plan = plan_answer(verdict) if spec.kind == "declaration" else None
    answer = None
    if plan is not None:
        answer = build_answer(
            refused, env.registry, message_id=refusal_id(key, digest), today=env.today, plan=plan
        )
    return Outcome(verdict, key, answer, Minimised(), digest, refused_duplicate=True)
