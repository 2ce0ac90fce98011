"""Shared helpers of the EI tests: the shipped examples, a validator with a fixed clock, summaries."""

from __future__ import annotations

import random
from datetime import date
from functools import cache

from gateway.results import Verdict
from gateway.testing.builders_ei import EiAnswer, EiDeclaration, answer_for_ei, random_ei_declaration
from tests.conftest import PROJECT
from tests.helpers import TODAY, validator

__all__ = [
    "B7",
    "B7_ANSWER",
    "EXAMPLES",
    "TODAY",
    "check",
    "findings",
    "generated",
    "generated_answer",
    "records",
    "with_records",
]

EXAMPLES = PROJECT / "examples" / "ei"
#: The worked example of B.7 exactly as shipped in examples/ei/JW321.txt (CR LF after every record).
B7 = (EXAMPLES / "JW321.txt").read_bytes()
#: A JW322 on it (VB0002 granted in part), examples/ei/JW322.txt.
B7_ANSWER = (EXAMPLES / "JW322.txt").read_bytes()


def check(data: bytes, *, today: date = TODAY) -> Verdict:
    """Validate one message with the shared validator (the same code path as the CLI)."""
    return validator().validate(data, "ei.txt", today=today)


def findings(verdict: Verdict) -> list[tuple[str, str | None]]:
    """(code, path) of every error, in report order."""
    return [(e.code, e.path) for e in verdict.errors]


def records(data: bytes) -> list[bytes]:
    """The records of a file (without their CR LF)."""
    body = data[:-2] if data.endswith(b"\r\n") else data
    return body.split(b"\r\n")


def with_records(parts: list[bytes]) -> bytes:
    """A file of the given records, each followed by CR LF."""
    return b"".join(p + b"\r\n" for p in parts)


@cache
def generated(seed: int) -> EiDeclaration:
    """A random rule-valid JW321 (cached per seed)."""
    return random_ei_declaration(random.Random(seed))


@cache
def generated_answer(seed: int) -> EiAnswer:
    """A random rule-valid JW322 on :func:`generated` of the same seed."""
    return answer_for_ei(generated(seed), random.Random(seed))
