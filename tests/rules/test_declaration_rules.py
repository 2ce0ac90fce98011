"""Business rules of the 323: one mutation of a rule-valid base declaration per rule."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.results import Stage
from gateway.testing.builders import Client, Declaration, Line, declaration_total, random_declaration
from tests.helpers import BASE, BSN_1, LINE_A, LINE_B, LINE_C, LINE_D, check, codes

P = "/Bericht/Declaratie/Clienten"


def lines(a: Line = LINE_A, b: Line = LINE_B, c: Line = LINE_C, d: Line = LINE_D) -> Declaration:
    """BASE with some lines replaced (client 1 holds a, b; client 2 holds c, d)."""
    return replace(
        BASE, clients=(replace(BASE.clients[0], lines=(a, b)), replace(BASE.clients[1], lines=(c, d)))
    )


def all_periods(start: date, end: date) -> Declaration:
    """BASE with the declaration period and every product period set to start..end."""

    def move(line: Line) -> Line:
        return replace(line, period=(start, end))

    return replace(
        lines(move(LINE_A), move(LINE_B), move(LINE_C), move(LINE_D)),
        period=(start, end),
    )


class TestBase:
    def test_base_declaration_is_valid(self) -> None:
        """The hand-built base declaration passes every check (so each case below isolates one rule)."""
        verdict = check(BASE)
        assert verdict.valid, verdict.errors
        assert verdict.stage is None
        assert verdict.message_type == "JW323"

    def test_wmo_family_base_is_valid(self) -> None:
        """The same content as a WMO323 (with Wmo categories) is valid too."""
        wmo = replace(
            lines(
                replace(LINE_A, category="02", code="02A03"),
                replace(LINE_B, category="02", code="02A04"),
                replace(LINE_C, category="01", code="01A01"),
                replace(LINE_D, category="02", code="02A03"),
            ),
            family="iwmo",
        )
        verdict = check(wmo)
        assert verdict.valid, verdict.errors
        assert verdict.message_type == "WMO323"


# (case id, message, expected [(code, retourcode, path)]) -- the expected list is exact.
CASES: list[tuple[str, Declaration, list[tuple[str, str | None, str]]]] = [
    (
        "CS002-elfproef",
        replace(BASE, clients=(Client("999900007", (LINE_A, LINE_B)), BASE.clients[1])),
        [("CS002", "0001", f"{P}/Client[1]/Bsn")],
    ),
    (
        "TR101-client-twice",
        replace(BASE, clients=(BASE.clients[0], Client(BSN_1, (LINE_C, LINE_D)))),
        [("TR101", "0001", f"{P}/Client[2]/Bsn")],
    ),
    (
        "TR101+TR314-reference-twice-under-client",
        lines(b=replace(LINE_B, reference="R1")),
        [
            ("TR101", "0001", f"{P}/Client[1]/Prestaties/Prestatie[2]/ProductReferentie/ReferentieNummer"),
            ("TR314", "8021", f"{P}/Client[1]/Prestaties/Prestatie[2]/ProductReferentie/ReferentieNummer"),
        ],
    ),
    (
        "TR314-reference-twice-across-clients",
        lines(c=replace(LINE_C, reference="R1")),
        [("TR314", "8021", f"{P}/Client[2]/Prestaties/Prestatie[1]/ProductReferentie/ReferentieNummer")],
    ),
    (
        "CD060-credit-without-previous",
        lines(d=replace(LINE_D, previous_reference=None)),
        [("CD060", "0001", f"{P}/Client[2]/Prestaties/Prestatie[2]/ProductReferentie")],
    ),
    (
        "CD060-debit-with-previous",
        lines(a=replace(LINE_A, previous_reference="R9")),
        [("CD060", "0001", f"{P}/Client[1]/Prestaties/Prestatie[1]/ProductReferentie/VorigReferentieNummer")],
    ),
    (
        "CD087-euro-with-tariff",
        lines(c=replace(LINE_C, tariff=1)),
        [("CD087", "0001", f"{P}/Client[2]/Prestaties/Prestatie[1]/ProductTarief")],
    ),
    (
        "CD087-hours-without-tariff",
        lines(a=replace(LINE_A, tariff=None)),
        [("CD087", "0001", f"{P}/Client[1]/Prestaties/Prestatie[1]")],
    ),
    (
        "CS325-zero-credit-line",
        lines(a=replace(LINE_A, volume=0, amount=0, debit_credit="C", previous_reference="R8")),
        [("CS325", "0001", f"{P}/Client[1]/Prestaties/Prestatie[1]/IngediendBedrag/DebetCredit")],
    ),
    (
        "CS325-zero-total-credit",
        replace(BASE, total=(0, "C")),
        [
            ("CS325", "0001", "/Bericht/Declaratie/TotaalIngediendBedrag/DebetCredit"),
            ("TR358", "0001", "/Bericht/Declaratie/TotaalIngediendBedrag"),
        ],
    ),
    (
        "CS337-product-period-two-months",
        lines(a=replace(LINE_A, period=(date(2025, 8, 15), date(2025, 9, 10)))),
        [("CS337", "0001", f"{P}/Client[1]/Prestaties/Prestatie[1]/ProductPeriode/Einddatum")],
    ),
    (
        "CS339-euro-amount-not-volume",
        lines(c=replace(LINE_C, amount=1300)),
        [("CS339", "0001", f"{P}/Client[2]/Prestaties/Prestatie[1]/IngediendBedrag/Bedrag")],
    ),
    (
        "CS340-period-not-whole-month",
        replace(BASE, period=(date(2025, 9, 2), date(2025, 9, 30))),
        [("CS340", "0001", "/Bericht/Declaratie/DeclaratiePeriode")],
    ),
    (
        "CS100-product-period-before-2021",
        lines(d=replace(LINE_D, period=(date(2020, 12, 1), date(2020, 12, 31)))),
        [("CS100", "0001", f"{P}/Client[2]/Prestaties/Prestatie[2]/ProductPeriode/Begindatum")],
    ),
    (
        "TR135-message-date-in-future",
        replace(BASE, message_date=date(2026, 2, 1)),
        [("TR135", "8848", "/Bericht/Header/BerichtIdentificatie/Dagtekening")],
    ),
    (
        "TR137-line-ends-before-start",
        lines(d=replace(LINE_D, period=(date(2025, 8, 31), date(2025, 8, 1)))),
        [("TR137", "0001", f"{P}/Client[2]/Prestaties/Prestatie[2]/ProductPeriode/Einddatum")],
    ),
    (
        "TR319-product-period-after-declaration-period",
        lines(a=replace(LINE_A, period=(date(2025, 10, 1), date(2025, 10, 5)))),
        [("TR319", "9319", f"{P}/Client[1]/Prestaties/Prestatie[1]/ProductPeriode")],
    ),
    (
        "TR315-same-line-credited-twice",
        lines(c=replace(LINE_C, debit_credit="C", previous_reference="R0")),
        [("TR315", "0001", f"{P}/Client[2]/Prestaties/Prestatie[2]/ProductReferentie/VorigReferentieNummer")],
    ),
    (
        "TR316-credit-of-line-in-same-message",
        lines(d=replace(LINE_D, previous_reference="R1")),
        [("TR316", "0001", f"{P}/Client[2]/Prestaties/Prestatie[2]/ProductReferentie/VorigReferentieNummer")],
    ),
    (
        "TR416-two-debits-same-product-period-allocation",
        lines(b=replace(LINE_A, reference="R2")),
        [("TR416", "0001", f"{P}/Client[1]/Prestaties/Prestatie[2]")],
    ),
    (
        "TR346-amount-not-volume-times-tariff",
        lines(b=replace(LINE_B, amount=24001)),
        [("TR346", "9346", f"{P}/Client[1]/Prestaties/Prestatie[2]/IngediendBedrag/Bedrag")],
    ),
    (
        "TR358-total-not-sum",
        replace(BASE, total=(1, "D")),
        [("TR358", "0001", "/Bericht/Declaratie/TotaalIngediendBedrag")],
    ),
]


@pytest.mark.parametrize(("message", "expected"), [(m, e) for _, m, e in CASES], ids=[c[0] for c in CASES])
def test_rule_reports_exactly_its_finding(
    message: Declaration, expected: list[tuple[str, str | None, str]]
) -> None:
    """Each mutation is reported with the rule's code, retourcode and path, and nothing else."""
    verdict = check(message)
    assert not verdict.valid
    assert verdict.stage is Stage.RULES
    found = sorted((e.code, e.retourcode, e.path) for e in verdict.errors)
    assert found == sorted(expected)
    assert all(e.message for e in verdict.errors)


class TestMultiRuleCases:
    def test_declaration_before_2021_reports_every_period(self) -> None:
        """A December 2020 declaration fails CS100 on the declaration period and on every line."""
        verdict = check(all_periods(date(2020, 12, 1), date(2020, 12, 31)))
        assert codes(verdict) == ["CS100"] * 5

    def test_message_date_inside_period_fails_tr137_for_periods_ending_later(self) -> None:
        """Sent before the month is over: TR137 on the declaration period and on lines ending later."""
        verdict = check(replace(BASE, message_date=date(2025, 9, 20)))
        assert codes(verdict) == ["TR137"] * 4
        assert {e.path for e in verdict.errors} >= {"/Bericht/Declaratie/DeclaratiePeriode/Einddatum"}

    def test_message_date_before_period_fails_tr134(self) -> None:
        """A message dated before the declaration period starts fails TR134 (and TR137) on every period."""
        verdict = check(replace(BASE, message_date=date(2025, 7, 1)))
        assert set(codes(verdict)) == {"TR134", "TR137"}
        assert codes(verdict).count("TR134") == 5

    def test_product_period_more_than_five_years_old(self) -> None:
        """TR335: a product period ending more than 5 years before the declaration date."""
        old = lines(d=replace(LINE_D, period=(date(2021, 3, 1), date(2021, 3, 31))))
        late = replace(
            old,
            period=(date(2026, 5, 1), date(2026, 5, 31)),
            message_date=date(2026, 6, 2),
            declaration_date=date(2026, 6, 2),
            clients=tuple(
                replace(
                    c,
                    lines=tuple(
                        replace(ln, period=(date(2026, 5, 1), date(2026, 5, 31)))
                        if ln.reference != "R4"
                        else ln
                        for ln in c.lines
                    ),
                )
                for c in old.clients
            ),
        )
        verdict = check(late, today=date(2026, 7, 1))
        assert codes(verdict) == ["TR335"]

    def test_minute_lines_are_exempt_from_tr346(self) -> None:
        """TR346 needs the contract's hourly rate for minutes (clarifications 7): not checked in-message."""
        minute = replace(LINE_B, unit="01", volume=50, tariff=25, amount=1251)
        verdict = check(lines(b=minute))
        assert verdict.valid, verdict.errors

    def test_credit_only_declaration_total_is_credit(self) -> None:
        """A declaration of only credit lines has a credit total; the sum is signed correctly."""
        credit = replace(BASE, clients=(Client(BSN_1, (LINE_D,)),))
        verdict = check(credit)
        assert verdict.valid, verdict.errors


class TestGenerated:
    @settings(max_examples=150, deadline=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1), family=st.sampled_from(["ijw", "iwmo"]))
    def test_generated_declarations_are_valid(self, seed: int, family: str) -> None:
        """Every declaration from the generator passes every rule (the rules reject nothing legitimate)."""
        decl = random_declaration(random.Random(seed), family=family)  # type: ignore[arg-type]
        verdict = check(decl)
        assert verdict.valid, [(e.code, e.path) for e in verdict.errors]

    @settings(max_examples=100, deadline=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1), data=st.data())
    def test_broken_check_digit_is_found_at_its_client(self, seed: int, data: st.DataObject) -> None:
        """Changing the last digit of any client's BSN yields CS002 at exactly that client."""
        decl = random_declaration(random.Random(seed))
        index = data.draw(st.integers(0, len(decl.clients) - 1))
        client = decl.clients[index]
        last = int(client.bsn[-1])
        broken = client.bsn[:-1] + str((last + data.draw(st.integers(1, 9))) % 10)
        clients = list(decl.clients)
        clients[index] = replace(client, bsn=broken)
        verdict = check(replace(decl, clients=tuple(clients)))
        suffix = f"Client[{index + 1}]/Bsn" if len(clients) > 1 else "Client/Bsn"
        assert [(e.code, e.path.endswith(suffix) if e.path else False) for e in verdict.errors] == [
            ("CS002", True)
        ]

    @settings(max_examples=100, deadline=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1), delta=st.integers(1, 10**6))
    def test_wrong_total_is_tr358(self, seed: int, delta: int) -> None:
        """Any change of the declared total (same sign) is TR358 and nothing else."""
        decl = random_declaration(random.Random(seed))
        total = replace(decl, total=None)
        amount, dc = declaration_total(total)
        verdict = check(replace(decl, total=(amount + delta, dc)))
        assert codes(verdict) == ["TR358"]
