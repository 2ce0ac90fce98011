"""Answers to declarations: one plan per checked message, one writer per format.

``build_answer(checked, ...)`` returns the answer bytes (a JW325/WMO325 for a 3.2 declaration, a
JW304/WMO304 for a 2.x declaration or invoice) or None
when no answer is due (transport or schema failure, or a message that is itself an answer).
"""

from __future__ import annotations

from datetime import date

from gateway.model import Declaration
from gateway.model_2x import Declaration2x
from gateway.registry import SchemaRegistry
from gateway.retour.plan import AnswerPlan, LineOutcome, plan_answer
from gateway.retour.xml2x import write_304
from gateway.retour.xml32 import write_325
from gateway.validation import Checked

__all__ = ["AnswerPlan", "LineOutcome", "build_answer", "plan_answer"]


def build_answer(
    checked: Checked,
    registry: SchemaRegistry,
    *,
    message_id: str,
    today: date,
    plan: AnswerPlan | None = None,
) -> bytes | None:
    """The answer to a checked declaration, or None when none is due (``plan`` if already made)."""
    spec = checked.spec
    if spec is None or spec.kind != "declaration" or spec.answer is None or checked.root is None:
        return None
    plan = plan if plan is not None else plan_answer(checked.verdict)
    if plan is None:
        return None
    answer = registry.spec_named(spec.answer)
    if answer is None:  # pragma: no cover - the catalogue names an answer type for every declaration
        return None
    if isinstance(checked.message, Declaration):
        return write_325(checked.root, checked.message, plan, answer, message_id=message_id, today=today)
    if isinstance(checked.message, Declaration2x):
        return write_304(checked.root, checked.message, plan, answer, message_id=message_id, today=today)
    return None
