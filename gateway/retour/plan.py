"""The answer plan: what an answer (325, 304, 322) says about each class of a checked declaration.

One mechanism for every generation: the plan is decided here from the verdict alone, per message class
(messages.md 3.1-3.2, clarifications item 10), and the format writers only serialise it.

* transport or schema failure: no answer at all (the sender gets the error; no 325 in the national chain);
* an error at Header level rejects the message as a whole with that rule's retourcode (e.g. 0001, or 8848
  for a future message date); no declaration part;
* an error at Declaratie level with retourcode 0001 (e.g. TR358, a wrong total) rejects the message as a
  whole: header 0001 and no declaration part (clarifications item 10); with a level-3/4 code (e.g. 9333)
  the header says 0200 and the declaration carries that code, granting nothing;
* an error at Client level: that client is rejected with its codes and each of its lines is ``0233``
  (not assessed);
* an error at Prestatie level: that line is rejected with its codes; the other lines are granted, and
  they are what billing receives (clarifications item 10: "a 323 with rule errors only on some lines ...
  its 325 grants the other lines"). A rejected line is echoed exactly as sent, so where its own defect
  is one the answer's rules also check (e.g. CD060), the answer shows that defect too: it is the
  provider's line, returned unchanged (TR367).

Granted lines are granted in full: the gateway checks one message and never approves part of a line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.results import Finding, Stage, Verdict

__all__ = [
    "ALL_GRANTED",
    "LEVEL_TWO",
    "NOT_ASSESSED",
    "NO_REMARKS",
    "AnswerPlan",
    "LineOutcome",
    "finding_class",
    "plan_answer",
]

LEVEL_TWO = "0001"  # message rejected for technical reasons
NO_REMARKS = "0200"
NOT_ASSESSED = "0233"
ALL_GRANTED = "8001"

MessageClass = Literal["Header", "Declaratie", "Client", "Prestatie"]

# Paths of XML findings: .../Client[2]/Prestaties/Prestatie[3]/...; fixed-width: /JW321/R04[7]/...
_XML_CLIENT = re.compile(r"/Clienten/Client(?:\[(\d+)\])?")
_XML_LINE = re.compile(r"/Prestaties/Prestatie(?:\[(\d+)\])?")
_EI_RECORD = re.compile(r"\A/JW32[12]/R(\d\d)\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """The answer for one line: granted in full, or rejected with codes."""

    granted: bool
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """What the answer says.

    ``declaration_codes`` is None when the message is rejected as a whole (no declaration part).
    ``clients`` maps a 0-based client position to its codes when the client itself is rejected;
    ``lines`` maps (client, line) positions to rejected line outcomes (absent = granted in full).
    For fixed-width files positions are record line numbers (``record_codes``) instead.
    """

    header_codes: tuple[str, ...]
    declaration_codes: tuple[str, ...] | None
    clients: dict[int, tuple[str, ...]]
    lines: dict[tuple[int, int], LineOutcome]
    record_codes: dict[int, tuple[str, ...]]

    @property
    def rejected_as_a_whole(self) -> bool:
        return self.declaration_codes is None

    def line(self, client: int, line: int) -> LineOutcome:
        """The outcome of a line, including lines of a rejected client (not assessed)."""
        if self.declaration_codes is None:
            return LineOutcome(False, (NOT_ASSESSED,))
        found = self.lines.get((client, line))
        if found is not None:
            return found
        if client in self.clients:
            return LineOutcome(False, (NOT_ASSESSED,))
        if self.declaration_codes and self.declaration_codes[0] not in (NO_REMARKS, ALL_GRANTED):
            return LineOutcome(False, (NOT_ASSESSED,))
        return LineOutcome(True, (NO_REMARKS,))


_EI_CLASS: dict[str, MessageClass] = {"04": "Prestatie", "02": "Client"}


def finding_class(finding: Finding) -> tuple[MessageClass, int | None, int | None]:
    """The message class a finding reports on, with the 0-based client and line positions.

    For a fixed-width record the third value is the record's line number in the file instead.
    """
    path = finding.path or ""
    ei = _EI_RECORD.match(path)
    if ei is not None:
        return _EI_CLASS.get(ei.group(1), "Declaratie"), None, int(ei.group(2))
    client_match = None if "/Header" in path else _XML_CLIENT.search(path)
    if client_match is None:
        return ("Header" if "/Header" in path else "Declaratie"), None, None
    client = int(client_match.group(1) or 1) - 1
    line_match = _XML_LINE.search(path, client_match.end())
    if line_match is None:
        return "Client", client, None
    return "Prestatie", client, int(line_match.group(1) or 1) - 1


def _codes(findings: Sequence[Finding]) -> tuple[str, ...]:
    """Distinct retourcodes in order of appearance (a finding without one counts as 0001)."""
    return tuple(dict.fromkeys(f.retourcode or LEVEL_TWO for f in findings))


def plan_answer(verdict: Verdict) -> AnswerPlan | None:
    """The plan for answering a checked declaration, or None when no answer is given."""
    if verdict.stage in (Stage.TRANSPORT, Stage.SCHEMA):
        return None
    header: list[Finding] = []
    declaration: list[Finding] = []
    clients: dict[int, list[Finding]] = {}
    lines: dict[tuple[int, int], list[Finding]] = {}
    records: dict[int, list[Finding]] = {}
    for finding in verdict.errors:
        cls, client, line = finding_class(finding)
        if client is None and line is not None:  # fixed-width record
            records.setdefault(line, []).append(finding)
            if cls == "Declaratie":
                declaration.append(finding)
        elif cls == "Header":
            header.append(finding)
        elif cls == "Declaratie":
            declaration.append(finding)
        elif cls == "Client" and client is not None:
            clients.setdefault(client, []).append(finding)
        elif client is not None and line is not None:
            lines.setdefault((client, line), []).append(finding)
    record_codes = {n: _codes(fs) for n, fs in records.items()}
    if header:
        return AnswerPlan(_codes(header), None, {}, {}, record_codes)
    if declaration:
        codes = _codes(declaration)
        if LEVEL_TWO in codes:
            return AnswerPlan((LEVEL_TWO,), None, {}, {}, record_codes)
        return AnswerPlan((NO_REMARKS,), codes, {}, {}, record_codes)
    rejected_clients = {c: _codes(fs) for c, fs in clients.items()}
    rejected_lines = {k: LineOutcome(False, _codes(fs)) for k, fs in lines.items()}
    anything_rejected = bool(rejected_clients or rejected_lines or records)
    return AnswerPlan(
        header_codes=(NO_REMARKS,),
        declaration_codes=(NO_REMARKS,) if anything_rejected else (ALL_GRANTED,),
        clients=rejected_clients,
        lines=rejected_lines,
        record_codes=record_codes,
    )
