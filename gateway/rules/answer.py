"""Rules on a JW325 / WMO325 on its own (without the answered 323)."""

from __future__ import annotations

import re
from typing import cast

from gateway.model import Answer, AnswerBody, line_path
from gateway.rules.common import signed
from gateway.rules.registry import Context, Issue, Subject, rule

BODY = "/Bericht/DeclaratieAntwoord"
NOT_REJECTED = frozenset({"0200", "8001"})  # "no remarks" and "fully granted"
_ALNUM = re.compile(r"[a-zA-Z0-9]+\Z")


def _body(s: Subject) -> AnswerBody | None:
    return cast("Answer", s.message).body  # rules of kind "answer" only ever see a 325


@rule("CS319", "0001", "Declaratie", ("answer",), "DeclaratieNummer holds only letters and digits")
def number_alphanumeric(s: Subject, _: Context) -> list[Issue]:
    body = _body(s)
    if body is not None and _ALNUM.match(body.number) is None:
        return [(f"{BODY}/DeclaratieNummer", "the declaration number may hold only letters and digits")]
    return []


@rule("CS325", "0001", "Declaratie", ("answer",), "a total of 0 carries DebetCredit D")
def zero_totals_are_debit(s: Subject, _: Context) -> list[Issue]:
    body = _body(s)
    if body is None:
        return []
    issues = []
    for name, (amount, dc) in (
        ("TotaalIngediendBedrag", body.total_submitted),
        ("TotaalToegekendBedrag", body.total_granted),
    ):
        if amount == 0 and dc != "D":
            issues.append((f"{BODY}/{name}/DebetCredit", "an amount of 0 must be marked D"))
    return issues


@rule(
    "TR342",
    "0001",
    "Declaratie",
    ("answer",),
    "only rejected lines returned; returned = submitted - granted total; a rejected declaration grants 0",
)
def answer_totals(s: Subject, _: Context) -> list[Issue]:
    body = _body(s)
    if body is None:
        return []
    issues: list[Issue] = []
    returned = 0
    for c in body.clients:
        for line in c.lines:
            returned += signed(line.amount, line.debit_credit)
            if set(line.retourcodes) <= NOT_REJECTED:
                issues.append(
                    (
                        line_path(BODY, body.clients, line, "RetourCodes"),
                        "a returned line carries no rejection code",
                    )
                )
    if not set(body.retourcodes) <= NOT_REJECTED:
        # The Declaratie class itself is rejected: nothing is granted and its lines are not assessed
        # (messages.md 3.2), so only the zero grant is checked.
        if body.total_granted[0] != 0:
            issues.append((f"{BODY}/TotaalToegekendBedrag", "a rejected declaration must grant 0"))
    elif returned != signed(*body.total_submitted) - signed(*body.total_granted):
        issues.append(
            (f"{BODY}/TotaalToegekendBedrag", "returned lines do not add up to submitted minus granted total")
        )
    return issues
