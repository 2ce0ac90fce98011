"""Answers to declarations: one plan per checked message, one writer per format.

``build_answer(checked, ...)`` returns the answer bytes (a JW325/WMO325 for a 3.2 declaration, a
JW304/WMO304 for a 2.x declaration or invoice, a JW322 for a JW321) or None
when no answer is due (transport or schema failure, or a message that is itself an answer).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from lxml import etree

from gateway.fixedwidth.records import EiMessage
from gateway.fixedwidth.stage import load_definitions
from gateway.model import Declaration
from gateway.model_2x import Declaration2x
from gateway.registry import MessageSpec, SchemaRegistry
from gateway.retour.ei import write_322
from gateway.retour.plan import AnswerPlan, LineOutcome, plan_answer
from gateway.retour.xml2x import write_304
from gateway.retour.xml32 import write_325
from gateway.validation import Checked

__all__ = ["AnswerPlan", "LineOutcome", "build_answer", "plan_answer"]


def _write_322_for(
    root: etree._Element,
    message: EiMessage,
    plan: AnswerPlan,
    answer: MessageSpec,
    *,
    message_id: str,
    today: date,
) -> bytes:
    layout = next(layout for layout in load_definitions().layouts if layout.message == answer.name)
    return write_322(root, message, plan, layout, message_id=message_id, today=today)


# The answer writer of each declaration record type: one plan, one writer per format.
_WRITERS: dict[type, Callable[..., bytes]] = {
    Declaration: write_325,
    Declaration2x: write_304,
    EiMessage: _write_322_for,
}


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
    answer = registry.spec_named(spec.answer)
    writer = _WRITERS.get(type(checked.message))
    if plan is None or answer is None or writer is None:
        return None
    return writer(checked.root, checked.message, plan, answer, message_id=message_id, today=today)
