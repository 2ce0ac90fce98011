"""Shared test helpers: a fixed clock, a validator, and hand-built base messages."""

from __future__ import annotations

from datetime import date
from functools import cache

from gateway.model import Declaration as DeclarationRecord
from gateway.results import Verdict
from gateway.testing.builders import Answer, Client, Declaration, Line, render
from gateway.validation import Validator

TODAY = date(2026, 1, 15)

LINE_A = Line("R1", 1001, "45", "45A03", (date(2025, 9, 1), date(2025, 9, 30)), 4, "04", 1250, 5000)
LINE_B = Line("R2", 1002, "45", "45A04", (date(2025, 9, 1), date(2025, 9, 30)), 16, "04", 1500, 24000)
LINE_C = Line("R3", 1003, "40", "40A01", (date(2025, 9, 1), date(2025, 9, 30)), 1200, "83", None, 1200)
LINE_D = Line(
    "R4",
    1004,
    "45",
    "45A03",
    (date(2025, 8, 1), date(2025, 8, 31)),
    2,
    "04",
    1250,
    2500,
    "C",
    previous_reference="R0",
)
BSN_1, BSN_2 = "999900006", "999900018"

BASE = Declaration(
    family="ijw",
    sender="12345678",
    receiver="0384",
    message_id="M0001",
    message_date=date(2025, 10, 6),
    number="DN0001",
    period=(date(2025, 9, 1), date(2025, 9, 30)),
    declaration_date=date(2025, 10, 6),
    clients=(Client(BSN_1, (LINE_A, LINE_B)), Client(BSN_2, (LINE_C, LINE_D))),
)


@cache
def validator() -> Validator:
    return Validator()


def check(
    message: Declaration | Answer, *, declaration: Declaration | None = None, today: date = TODAY
) -> Verdict:
    """Render and validate a built message (optionally a 325 against the 323 it answers)."""
    answered = None
    if declaration is not None:
        checked = validator().check(render(declaration), "decl.xml", today=today)
        assert isinstance(checked.message, DeclarationRecord)
        answered = checked.message
    return validator().validate(render(message), "msg.xml", today=today, declaration=answered)


def codes(verdict: Verdict) -> list[str]:
    return sorted(e.code for e in verdict.errors)
