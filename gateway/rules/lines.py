"""Rules on clients and Prestatie lines, shared by the 323 (declared lines) and the 325 (returned lines)."""

from __future__ import annotations

from gateway.model import client_path, line_path
from gateway.rules.common import EARLIEST_DATE, elfproef
from gateway.rules.registry import Context, Issue, Kind, Subject, rule

BOTH: tuple[Kind, ...] = ("declaration", "answer")


@rule("CS002", "0001", "Client", BOTH, "Bsn passes the eleven-test")
def bsn_elfproef(s: Subject, _: Context) -> list[Issue]:
    return [
        (f"{client_path(s.container, s.clients, c.position)}/Bsn", "BSN does not pass the eleven-test")
        for c in s.clients
        if not elfproef(c.bsn)
    ]


@rule("TR101", "0001", "Client", BOTH, "a client (Bsn) occurs only once in the message")
def unique_client(s: Subject, _: Context) -> list[Issue]:
    seen: set[str] = set()
    issues = []
    for c in s.clients:
        if c.bsn in seen:
            issues.append(
                (
                    f"{client_path(s.container, s.clients, c.position)}/Bsn",
                    "the same client occurs more than once",
                )
            )
        seen.add(c.bsn)
    return issues


@rule("TR101", "0001", "Prestatie", BOTH, "a ReferentieNummer occurs only once under a client")
def unique_line_per_client(s: Subject, _: Context) -> list[Issue]:
    issues = []
    for c in s.clients:
        seen: set[str] = set()
        for line in c.lines:
            if line.reference in seen:
                issues.append(
                    (
                        line_path(s.container, s.clients, line, "ProductReferentie/ReferentieNummer"),
                        "the same line (ReferentieNummer) occurs more than once for this client",
                    )
                )
            seen.add(line.reference)
    return issues


@rule("CD060", "0001", "Prestatie", BOTH, "VorigReferentieNummer present on credit lines and only there")
def previous_reference_iff_credit(s: Subject, _: Context) -> list[Issue]:
    issues = []
    for c in s.clients:
        for line in c.lines:
            credit = line.debit_credit == "C"
            if credit and line.previous_reference is None:
                issues.append(
                    (
                        line_path(s.container, s.clients, line, "ProductReferentie"),
                        "a credit line must carry VorigReferentieNummer",
                    )
                )
            elif not credit and line.previous_reference is not None:
                issues.append(
                    (
                        line_path(s.container, s.clients, line, "ProductReferentie/VorigReferentieNummer"),
                        "only a credit line may carry VorigReferentieNummer",
                    )
                )
    return issues


@rule("CD087", "0001", "Prestatie", BOTH, "ProductTarief present if and only if Eenheid is not 83 (euro)")
def tariff_iff_not_euro(s: Subject, _: Context) -> list[Issue]:
    issues = []
    for c in s.clients:
        for line in c.lines:
            euro = line.unit == "83"
            if euro and line.tariff is not None:
                issues.append(
                    (
                        line_path(s.container, s.clients, line, "ProductTarief"),
                        "ProductTarief must be absent when Eenheid is 83 (euro)",
                    )
                )
            elif not euro and line.tariff is None:
                issues.append(
                    (
                        line_path(s.container, s.clients, line),
                        "ProductTarief is required unless Eenheid is 83 (euro)",
                    )
                )
    return issues


@rule("CS325", "0001", "Prestatie", BOTH, "an amount of 0 carries DebetCredit D")
def zero_line_is_debit(s: Subject, _: Context) -> list[Issue]:
    return [
        (
            line_path(s.container, s.clients, line, "IngediendBedrag/DebetCredit"),
            "an amount of 0 must be marked D",
        )
        for c in s.clients
        for line in c.lines
        if line.amount == 0 and line.debit_credit != "D"
    ]


@rule("CS337", "0001", "Prestatie", BOTH, "ProductPeriode lies within one calendar month")
def product_period_one_month(s: Subject, _: Context) -> list[Issue]:
    return [
        (
            line_path(s.container, s.clients, line, "ProductPeriode/Einddatum"),
            "the product period spans more than one calendar month",
        )
        for c in s.clients
        for line in c.lines
        if line.period_start.month != line.period_end.month or line.period_start.year != line.period_end.year
    ]


@rule("CS339", "0001", "Prestatie", BOTH, "with Eenheid 83 (euro), IngediendBedrag equals GeleverdVolume")
def euro_amount_equals_volume(s: Subject, _: Context) -> list[Issue]:
    return [
        (
            line_path(s.container, s.clients, line, "IngediendBedrag/Bedrag"),
            "with Eenheid 83 (euro) the amount must equal the delivered volume",
        )
        for c in s.clients
        for line in c.lines
        if line.unit == "83" and line.amount != line.volume
    ]


@rule("CS100", "0001", "Prestatie", BOTH, "ProductPeriode dates are on or after 2021-01-01")
def product_period_not_before_2021(s: Subject, _: Context) -> list[Issue]:
    return [
        (
            line_path(s.container, s.clients, line, "ProductPeriode/Begindatum"),
            "the product period starts before 2021-01-01",
        )
        for c in s.clients
        for line in c.lines
        if line.period_start < EARLIEST_DATE
    ]


@rule("TR134", "0001", "Prestatie", BOTH, "ProductPeriode Begindatum is not after the message Dagtekening")
def product_start_not_after_message(s: Subject, _: Context) -> list[Issue]:
    return [
        (
            line_path(s.container, s.clients, line, "ProductPeriode/Begindatum"),
            "the product period starts after the message date",
        )
        for c in s.clients
        for line in c.lines
        if line.period_start > s.message_date
    ]


@rule(
    "TR137",
    "0001",
    "Prestatie",
    BOTH,
    "ProductPeriode Einddatum not before Begindatum, not after the message Dagtekening",
)
def product_end_in_order(s: Subject, _: Context) -> list[Issue]:
    issues = []
    for c in s.clients:
        for line in c.lines:
            if line.period_end < line.period_start:
                issues.append(
                    (
                        line_path(s.container, s.clients, line, "ProductPeriode/Einddatum"),
                        "the product period ends before it starts",
                    )
                )
            elif line.period_end > s.message_date:
                issues.append(
                    (
                        line_path(s.container, s.clients, line, "ProductPeriode/Einddatum"),
                        "the product period ends after the message date",
                    )
                )
    return issues
