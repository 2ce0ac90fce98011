"""Business rules of JW321/JW322 (release ei-2.0): every rule code of B.6 on a targeted broken file, with
its exact path (/JW321/R<type>[<line>]/<FIELD>, line = the record's line in the file)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from gateway.results import Stage, Verdict
from gateway.rules import all_rules
from gateway.testing.builders_ei import (
    EiAnswer,
    EiDeclaration,
    EiLine,
    answer_for_ei,
    b7_declaration,
    render_ei,
    replace_field,
)
from tests.fixedwidth.base import check, findings

B7D = b7_declaration()
CLIENT_1, CLIENT_2 = B7D.clients
VB0001, VB0002 = CLIENT_1.lines
VB0003, VB0004 = CLIENT_2.lines
# File lines of the B.7 records: 1 header, 2 client 1, 3 VB0001, 4 its comment, 5 VB0002, 6 client 2,
# 7 VB0003, 8 VB0004, 9 trailer.


def with_line(decl: EiDeclaration, old: EiLine, new: EiLine) -> EiDeclaration:
    clients = tuple(replace(c, lines=tuple(new if ln == old else ln for ln in c.lines)) for c in decl.clients)
    return replace(decl, clients=clients)


def assert_rules(verdict: Verdict, expected: list[tuple[str, str]], kind: str = "JW321") -> None:
    assert (verdict.message_type, verdict.valid, verdict.stage) == (kind, False, Stage.RULES)
    assert findings(verdict) == expected
    assert all(e.retourcode is None and e.message for e in verdict.errors)


def test_rules_are_registered_for_release_ei_2_0() -> None:
    """CS002, EI101-EI112 on JW321 and JW322; EI121-EI123 on JW322 only; no retourcodes."""
    ei = {(r.code, tuple(sorted(r.kinds))) for r in all_rules() if r.release == "ei-2.0"}
    both = ("answer", "declaration")
    expected: set[tuple[str, tuple[str, ...]]] = {("CS002", both)} | {
        (f"EI{n}", both) for n in range(101, 113)
    }
    expected |= {(f"EI{n}", ("answer",)) for n in (121, 122, 123)}
    assert ei == expected
    assert all(r.retourcode is None for r in all_rules() if r.release == "ei-2.0")


# --------------------------------------------------------------------------------------------------
# JW321


BAD_BSN = "999900007"  # fails the eleven-test


@pytest.mark.parametrize(
    ("case", "decl", "expected"),
    [
        (
            "CS002-client",
            replace(B7D, clients=(replace(CLIENT_1, bsn=BAD_BSN), CLIENT_2)),
            [("CS002", "/JW321/R02[2]/BSN"), ("CS002", "/JW321/R04[3]/BSN"), ("CS002", "/JW321/R04[5]/BSN")],
        ),
        (
            "CS002-line",
            with_line(B7D, VB0003, replace(VB0003, bsn=BAD_BSN)),
            [("CS002", "/JW321/R04[7]/BSN"), ("EI101", "/JW321/R04[7]/BSN")],
        ),
        (
            "EI101",
            with_line(B7D, VB0001, replace(VB0001, bsn=CLIENT_2.bsn)),
            [("EI101", "/JW321/R04[3]/BSN")],
        ),
        (
            "EI102",
            replace(B7D, clients=(CLIENT_1, replace(CLIENT_2, bsn=CLIENT_1.bsn))),
            [("EI102", "/JW321/R02[6]/BSN")],
        ),
        (
            "EI103",
            with_line(B7D, VB0003, replace(VB0003, reference="VB0001")),
            [("EI103", "/JW321/R04[7]/REFERENTIENUMMER")],
        ),
        (
            "EI104-credit-without-previous",
            with_line(B7D, VB0004, replace(VB0004, previous_reference=None)),
            [("EI104", "/JW321/R04[8]/VORIG_REFERENTIENUMMER")],
        ),
        (
            "EI104-debit-with-previous",
            with_line(B7D, VB0002, replace(VB0002, previous_reference="VA0001")),
            [("EI104", "/JW321/R04[5]/VORIG_REFERENTIENUMMER")],
        ),
        (
            "EI105",
            with_line(B7D, VB0004, replace(VB0004, previous_reference="VB0001")),
            [("EI105", "/JW321/R04[8]/VORIG_REFERENTIENUMMER")],
        ),
        (
            "EI106-period-reversed",
            replace(B7D, period=(date(2017, 1, 31), date(2017, 1, 1))),
            [("EI106", "/JW321/R01[1]/EINDDATUM_DECLARATIEPERIODE")],
        ),
        (
            "EI106-period-after-dagtekening",
            replace(B7D, period=(date(2017, 1, 1), date(2017, 2, 11))),
            [("EI106", "/JW321/R01[1]/EINDDATUM_DECLARATIEPERIODE")],
        ),
        (
            "EI106-dbc-reversed",
            with_line(B7D, VB0002, replace(VB0002, dbc_period=(date(2017, 1, 12), date(2016, 11, 7)))),
            [("EI106", "/JW321/R04[5]/EINDDATUM_DBC")],
        ),
        (
            "EI106-dbc-after-dagtekening",
            with_line(B7D, VB0003, replace(VB0003, dbc_period=(date(2016, 9, 12), date(2017, 2, 11)))),
            [("EI106", "/JW321/R04[7]/EINDDATUM_DBC")],
        ),
        (
            "EI107",
            with_line(B7D, VB0001, replace(VB0001, amount=412351)),
            [("EI107", "/JW321/R04[3]/DECLARATIEBEDRAG")],
        ),
        (
            "EI108",
            with_line(B7D, VB0004, replace(VB0004, tariff=0)),
            [("EI108", "/JW321/R04[8]/INDICATIE_DEBET_CREDIT")],
        ),
        *(
            (
                f"EI109-{which}",
                with_line(B7D, VB0001, replace(VB0001, prestatiecode=code, dsm4=None)),
                [("EI109", "/JW321/R04[3]/DBC_PRESTATIECODE")],
            )
            for which, code in (
                ("zorgtype", "100008003144"),
                ("diagnoseclassificatie", "110017003144"),
                ("zorgvraagzwaarte", "110008008144"),
                ("productgroep", "110008003148"),
            )
        ),
        (
            "EI110",
            with_line(B7D, VB0001, replace(VB0001, prestatiecode="110009003144")),
            [("EI110", "/JW321/R04[3]/DBC_PRESTATIECODE")],
        ),
        (
            "EI110-no-diagnosis-code",
            with_line(B7D, VB0002, replace(VB0002, dsm4="799.9", prestatiecode="101010000110")),
            [("EI110", "/JW321/R04[5]/DBC_PRESTATIECODE")],
        ),
        *(
            (
                f"EI111-{field}",
                replace(B7D, counts=counts),
                [("EI111", f"/JW321/R99[9]/{field}")],
            )
            for field, counts in (
                ("AANTAL_CLIENTRECORDS", (3, 4, 1, 7)),
                ("AANTAL_PRESTATIERECORDS", (2, 5, 1, 7)),
                ("AANTAL_COMMENTAARRECORDS", (2, 4, 0, 7)),
                ("TOTAAL_AANTAL_DETAILRECORDS", (2, 4, 1, 6)),
            )
        ),
        (
            "EI112-total",
            replace(B7D, total=(336551, "D")),
            [("EI112", "/JW321/R99[9]/TOTAAL_DECLARATIEBEDRAG")],
        ),
        (
            "EI112-indicator",
            replace(B7D, total=(336550, "C")),
            [("EI112", "/JW321/R99[9]/INDICATIE_DEBET_CREDIT")],
        ),
    ],
)
def test_jw321_rule(case: str, decl: EiDeclaration, expected: list[tuple[str, str]]) -> None:
    """Each rule fires on exactly the record and field it names, and nothing else does."""
    assert_rules(check(render_ei(decl)), expected)


def test_rules_hold_on_the_examples_and_their_edges() -> None:
    """Allowed edge cases pass: triplet 2 000 with a DSM code, an adjustment code with 015, a credit
    balance marked C, a zero debit line, equal begin and end dates."""
    edges = with_line(B7D, VB0001, replace(VB0001, prestatiecode="110000003144"))
    edges = with_line(edges, VB0002, replace(VB0002, dsm4="309.0", prestatiecode="101015000110"))
    edges = with_line(
        edges, VB0003, replace(VB0003, tariff=0, dbc_period=(date(2017, 2, 10), date(2017, 2, 10)))
    )
    edges = with_line(edges, VB0004, replace(VB0004, tariff=1_000_000))
    edges = replace(edges, period=(date(2017, 2, 10), date(2017, 2, 10)))
    assert check(render_ei(edges)).valid
    total_line = render_ei(edges).split(b"\r\n")[8]
    assert total_line[27:39] == b"00000488950C"  # |412350 + 98700 + 0 - 1000000|, credit


def test_all_failing_rules_are_reported_together() -> None:
    """Several broken rules in one file: every finding, message rules in registration order."""
    decl = replace(B7D, clients=(replace(CLIENT_1, bsn=BAD_BSN), CLIENT_2), total=(1, "D"))
    codes = [code for code, _path in findings(check(render_ei(decl)))]
    assert codes == ["CS002", "CS002", "CS002", "EI112"]


# --------------------------------------------------------------------------------------------------
# JW322


def answer(**changes: object) -> EiAnswer:
    base = EiAnswer(B7D, "RT2017000045", date(2017, 2, 24))
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "data", "expected"),
    [
        (
            "EI121-more-than-declared",
            render_ei(answer(granted={"VB0002": 98701})),
            [("EI121", "/JW322/R04[5]/TOEGEKEND_BEDRAG")],
        ),
        (
            "EI121-indicator-of-credit",
            replace_field(render_ei(answer()), 8, "INDICATIE_DEBET_CREDIT_TOEGEKEND", "D", message="JW322"),
            [
                ("EI121", "/JW322/R04[8]/INDICATIE_DEBET_CREDIT_TOEGEKEND"),
                ("EI122", "/JW322/R99[9]/TOTAAL_TOEGEKEND_BEDRAG"),
            ],
        ),
        (
            "EI121-zero-granted-is-D",
            replace_field(
                render_ei(answer(granted={"VB0004": 0}, total_granted=(592550, "D"))),
                8,
                "INDICATIE_DEBET_CREDIT_TOEGEKEND",
                "C",
                message="JW322",
            ),
            [("EI121", "/JW322/R04[8]/INDICATIE_DEBET_CREDIT_TOEGEKEND")],
        ),
        (
            "EI122-total",
            render_ei(answer(total_granted=(1, "D"))),
            [("EI122", "/JW322/R99[9]/TOTAAL_TOEGEKEND_BEDRAG")],
        ),
        (
            "EI122-indicator",
            render_ei(answer(total_granted=(336550, "C"))),
            [("EI122", "/JW322/R99[9]/INDICATIE_DEBET_CREDIT_TOEGEKEND")],
        ),
        (
            "EI123",
            render_ei(answer(retour_date=date(2017, 2, 9))),
            [("EI123", "/JW322/R01[1]/DAGTEKENING_RETOUR")],
        ),
        (
            "JW321-rules-apply-to-the-echo",
            render_ei(answer(declaration=replace(B7D, counts=(2, 4, 0, 7)))),
            [("EI111", "/JW322/R99[9]/AANTAL_COMMENTAARRECORDS")],
        ),
    ],
)
def test_jw322_rule(case: str, data: bytes, expected: list[tuple[str, str]]) -> None:
    """JW322: granted amounts, their totals and the retour date; the echoed records keep the JW321 rules."""
    assert_rules(check(data), expected, "JW322")


def test_jw322_partial_and_refused_lines_are_valid() -> None:
    """A granted amount below the declared one, 0 (with D), and the same-day retour are valid."""
    data = render_ei(answer(granted={"VB0001": 1, "VB0004": 0}, retour_date=B7D.message_date))
    assert check(data).valid
    assert check(render_ei(answer_for_ei(B7D))).valid
