"""Rules on clients and Prestatie lines, shared by the 323 (declared lines) and the 325 (returned lines)."""

from __future__ import annotations

from gateway.model import Line, client_path, line_path
from gateway.rules.common import EARLIEST_DATE, elfproef
from gateway.rules.registry import Context, Issue, Kind, Subject, line_rule, rule

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
    if len(s.clients) < 2:
        return []
    seen: set[str] = set()
    issues = []
    for c in s.clients:
        if c.bsn in seen:
            path = f"{client_path(s.container, s.clients, c.position)}/Bsn"
            issues.append((path, "the same client occurs more than once"))
        seen.add(c.bsn)
    return issues


@rule("TR101", "0001", "Prestatie", BOTH, "a ReferentieNummer occurs only once under a client")
def unique_line_per_client(s: Subject, _: Context) -> list[Issue]:
    issues = []
    for c in s.clients:
        if len(c.lines) < 2:
            continue
        seen: set[str] = set()
        for line in c.lines:
            if line.reference in seen:
                path = line_path(s.container, s.clients, line, "ProductReferentie/ReferentieNummer")
                issues.append(
                    (path, "the same line (ReferentieNummer) occurs more than once for this client")
                )
            seen.add(line.reference)
    return issues


@line_rule("CD060", "0001", BOTH, "VorigReferentieNummer present on credit lines and only there")
def previous_reference_iff_credit(line: Line, _: Subject) -> Issue | None:
    if line.debit_credit == "C":
        if line.previous_reference is None:
            return ("ProductReferentie", "a credit line must carry VorigReferentieNummer")
    elif line.previous_reference is not None:
        return (
            "ProductReferentie/VorigReferentieNummer",
            "only a credit line may carry VorigReferentieNummer",
        )
    return None


@line_rule("CD087", "0001", BOTH, "ProductTarief present if and only if Eenheid is not 83 (euro)")
def tariff_iff_not_euro(line: Line, _: Subject) -> Issue | None:
    if line.unit == "83":
        if line.tariff is not None:
            return ("ProductTarief", "ProductTarief must be absent when Eenheid is 83 (euro)")
    elif line.tariff is None:
        return ("", "ProductTarief is required unless Eenheid is 83 (euro)")
    return None


@line_rule("CS325", "0001", BOTH, "an amount of 0 carries DebetCredit D")
def zero_line_is_debit(line: Line, _: Subject) -> Issue | None:
    if line.amount == 0 and line.debit_credit != "D":
        return ("IngediendBedrag/DebetCredit", "an amount of 0 must be marked D")
    return None


@line_rule("CS337", "0001", BOTH, "ProductPeriode lies within one calendar month")
def product_period_one_month(line: Line, _: Subject) -> Issue | None:
    start, end = line.period_start, line.period_end
    if start.month != end.month or start.year != end.year:
        return ("ProductPeriode/Einddatum", "the product period spans more than one calendar month")
    return None


@line_rule("CS339", "0001", BOTH, "with Eenheid 83 (euro), IngediendBedrag equals GeleverdVolume")
def euro_amount_equals_volume(line: Line, _: Subject) -> Issue | None:
    if line.unit == "83" and line.amount != line.volume:
        return ("IngediendBedrag/Bedrag", "with Eenheid 83 (euro) the amount must equal the delivered volume")
    return None


@line_rule("CS100", "0001", BOTH, "ProductPeriode dates are on or after 2021-01-01")
def product_period_not_before_2021(line: Line, _: Subject) -> Issue | None:
    if line.period_start < EARLIEST_DATE:
        return ("ProductPeriode/Begindatum", "the product period starts before 2021-01-01")
    return None


@line_rule("TR134", "0001", BOTH, "ProductPeriode Begindatum is not after the message Dagtekening")
def product_start_not_after_message(line: Line, s: Subject) -> Issue | None:
    if line.period_start > s.message_date:
        return ("ProductPeriode/Begindatum", "the product period starts after the message date")
    return None


@line_rule(
    "TR137", "0001", BOTH, "ProductPeriode Einddatum not before Begindatum, not after the message Dagtekening"
)
def product_end_in_order(line: Line, s: Subject) -> Issue | None:
    if line.period_end < line.period_start:
        return ("ProductPeriode/Einddatum", "the product period ends before it starts")
    if line.period_end > s.message_date:
        return ("ProductPeriode/Einddatum", "the product period ends after the message date")
    return None
