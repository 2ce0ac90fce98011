"""Write a JW322 (fixed-width retour) from an answer plan and the parsed JW321 it answers.

A JW322 echoes every record of the JW321 unchanged in positions 1-270 (with BERICHTCODE 435) and fills the
retour fields (legacy-formats.md B.5): one to three retourcodes per record, the granted amount of every
line and the granted total. The plan is the same one the 325 and the 304 use: a message rejected as a
whole (a finding on the 01 or 99 record, or on the file) grants nothing, its failing records carry the
rule's code and the others 0233 (not assessed); otherwise a failing 04 line is not granted, the lines of a
failing 02 client are not assessed, and every other line is granted in full.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from gateway.fixedwidth.layout import Layout
from gateway.fixedwidth.records import EiMessage
from gateway.fixedwidth.writer import Value, write_records
from gateway.retour.plan import NO_REMARKS, NOT_ASSESSED, AnswerPlan

__all__ = ["write_322"]

_ANSWER_CODE = "435"


def _codes(values: dict[str, Value], codes: tuple[str, ...]) -> None:
    for i, code in enumerate(codes[:3], start=1):
        values[f"RETOURCODE_{i:02d}"] = code


def write_322(
    root: etree._Element,
    message: EiMessage,
    plan: AnswerPlan,
    layout: Layout,
    *,
    message_id: str,
    today: date,
) -> bytes:
    """The JW322 bytes answering the canonical tree ``root`` of a JW321 that reached the rule stage."""
    lines = {line.line: line for line in message.lines}
    whole = plan.rejected_as_a_whole
    granted_total = 0
    client_rejected = False  # the 02 record of the lines that follow had a finding
    records: list[tuple[str, dict[str, Value]]] = []
    for element in root:
        tag = str(element.tag).rpartition("}")[2]
        rtype = tag[1:]
        number = int(element.get("line") or 0)
        record = layout.records[rtype]
        values: dict[str, Value] = {
            name: child.text or ""
            for child in element
            if (name := str(child.tag).rpartition("}")[2]) in record.by_name
        }
        found = plan.record_codes.get(number)
        if rtype == "01":
            values["BERICHTCODE"] = _ANSWER_CODE
            values["IDENTIFICATIE_RETOUR"] = message_id
            values["DAGTEKENING_RETOUR"] = today
            _codes(values, plan.header_codes)
        elif rtype == "04":
            line = lines[number]
            granted = not whole and not found and not client_rejected
            amount = line.declaratiebedrag if granted else 0
            values["TOEGEKEND_BEDRAG"] = amount
            values["INDICATIE_DEBET_CREDIT_TOEGEKEND"] = line.indicatie_debet_credit if amount else "D"
            granted_total += -amount if line.indicatie_debet_credit == "C" else amount
            _codes(values, found or ((NO_REMARKS,) if granted else (NOT_ASSESSED,)))
        elif rtype == "99":
            _codes(values, found or plan.declaration_codes or plan.header_codes)
        else:  # 02 client, 98 comment
            if rtype == "02":
                client_rejected = bool(found)
            _codes(values, found or ((NOT_ASSESSED,) if whole else (NO_REMARKS,)))
        records.append((rtype, values))
    for rtype, values in records:
        if rtype == "99":
            values["TOTAAL_TOEGEKEND_BEDRAG"] = abs(granted_total)
            values["INDICATIE_DEBET_CREDIT_TOEGEKEND"] = "C" if granted_total < 0 else "D"
    return write_records(layout, records)
