"""Rules on a JW323 / WMO323 as a whole: header, declaration period, totals, keys across lines."""

from __future__ import annotations

from typing import cast

from gateway.model import Declaration, Line, line_path
from gateway.rules.common import EARLIEST_DATE, is_whole_month, signed, years_before
from gateway.rules.registry import Context, Issue, Subject, line_rule, rule

DECL = "/Bericht/Declaratie"
# TR346 is not checked for euro lines (CS339 covers them) nor for minutes, whose amount is the contract's
# hourly rate x minutes / 60 and needs the contract (clarifications item 7).
_NO_TARIFF_CHECK = frozenset({"83", "01"})


def _declaration(s: Subject) -> Declaration:
    return cast("Declaration", s.message)  # rules of kind "declaration" only ever see a 323


@rule("TR135", "8848", "Header", ("declaration", "answer"), "the message Dagtekening is not in the future")
def message_date_not_future(s: Subject, ctx: Context) -> list[Issue]:
    if s.message_date > ctx.today:
        return [("/Bericht/Header/BerichtIdentificatie/Dagtekening", "the message date lies in the future")]
    return []


@rule(
    "CS340", "0001", "Declaratie", ("declaration",), "DeclaratiePeriode is exactly one whole calendar month"
)
def declaration_period_is_month(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    if not is_whole_month(d.period_start, d.period_end):
        return [(f"{DECL}/DeclaratiePeriode", "the declaration period is not exactly one calendar month")]
    return []


@rule("CS100", "0001", "Declaratie", ("declaration",), "DeclaratiePeriode dates are on or after 2021-01-01")
def declaration_period_not_before_2021(s: Subject, _: Context) -> list[Issue]:
    if _declaration(s).period_start < EARLIEST_DATE:
        return [(f"{DECL}/DeclaratiePeriode/Begindatum", "the declaration period starts before 2021-01-01")]
    return []


@rule(
    "TR134",
    "0001",
    "Declaratie",
    ("declaration",),
    "DeclaratiePeriode Begindatum is not after the message Dagtekening",
)
def declaration_start_not_after_message(s: Subject, _: Context) -> list[Issue]:
    if _declaration(s).period_start > s.message_date:
        return [
            (f"{DECL}/DeclaratiePeriode/Begindatum", "the declaration period starts after the message date")
        ]
    return []


@rule(
    "TR137",
    "0001",
    "Declaratie",
    ("declaration",),
    "DeclaratiePeriode Einddatum not before Begindatum, not after the message Dagtekening",
)
def declaration_end_in_order(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    if d.period_end < d.period_start:
        return [(f"{DECL}/DeclaratiePeriode/Einddatum", "the declaration period ends before it starts")]
    if d.period_end > s.message_date:
        return [(f"{DECL}/DeclaratiePeriode/Einddatum", "the declaration period ends after the message date")]
    return []


@rule("CS325", "0001", "Declaratie", ("declaration",), "a TotaalIngediendBedrag of 0 carries DebetCredit D")
def zero_total_is_debit(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    if d.total == 0 and d.total_dc != "D":
        return [(f"{DECL}/TotaalIngediendBedrag/DebetCredit", "an amount of 0 must be marked D")]
    return []


@rule(
    "TR358",
    "0001",
    "Declaratie",
    ("declaration",),
    "TotaalIngediendBedrag = sum of debit lines - sum of credit lines",
)
def total_matches_lines(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    total = 0
    for c in d.clients:
        for line in c.lines:
            total += -line.amount if line.debit_credit == "C" else line.amount
    if total != signed(d.total, d.total_dc):
        return [(f"{DECL}/TotaalIngediendBedrag", "total does not equal the sum of the lines")]
    return []


@line_rule(
    "TR335", "0001", ("declaration",), "ProductPeriode Einddatum at most 5 years before DeclaratieDagtekening"
)
def product_not_older_than_five_years(line: Line, s: Subject) -> Issue | None:
    if line.period_end < years_before(_declaration(s).declaration_date, 5):
        return (
            "ProductPeriode/Einddatum",
            "the product period ended more than 5 years before the declaration date",
        )
    return None


@line_rule(
    "TR319", "9319", ("declaration",), "ProductPeriode lies in the declaration period or an earlier one"
)
def product_not_after_declaration_period(line: Line, s: Subject) -> Issue | None:
    if line.period_end > _declaration(s).period_end:
        return ("ProductPeriode", "the product period lies after the declaration period")
    return None


@rule("TR314", "8021", "Prestatie", ("declaration",), "ReferentieNummer is unique within the message")
def unique_reference(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    seen: set[str] = set()
    issues = []
    for c in d.clients:
        for line in c.lines:
            if line.reference in seen:
                issues.append(
                    (
                        line_path(DECL, d.clients, line, "ProductReferentie/ReferentieNummer"),
                        "the ReferentieNummer was already used in this message",
                    )
                )
            seen.add(line.reference)
    return issues


@rule("TR315", "0001", "Prestatie", ("declaration",), "VorigReferentieNummer is unique within the message")
def unique_previous_reference(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    seen: set[str] = set()
    issues = []
    for c in d.clients:
        for line in c.lines:
            if line.previous_reference is None:
                continue
            if line.previous_reference in seen:
                issues.append(
                    (
                        line_path(DECL, d.clients, line, "ProductReferentie/VorigReferentieNummer"),
                        "the same line is credited more than once in this message",
                    )
                )
            seen.add(line.previous_reference)
    return issues


@rule(
    "TR316", "0001", "Prestatie", ("declaration",), "a line is not credited in the message that declares it"
)
def no_credit_of_same_message(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    references = {line.reference for c in d.clients for line in c.lines}
    return [
        (
            line_path(DECL, d.clients, line, "ProductReferentie/VorigReferentieNummer"),
            "a credit line refers to a line declared in the same message",
        )
        for c in d.clients
        for line in c.lines
        if line.previous_reference is not None and line.previous_reference in references
    ]


@rule(
    "TR416",
    "0001",
    "Prestatie",
    ("declaration",),
    "no two debit lines for the same ProductPeriode, ProductCategorie, ProductCode and ToewijzingNummer",
)
def unique_debit_per_product_period(s: Subject, _: Context) -> list[Issue]:
    # The key is read without the client's Bsn: an allocation belongs to one client (messages.md 7.4;
    # the reference README documents the official JW323 example failing this way).
    d = _declaration(s)
    seen: set[tuple[object, ...]] = set()
    issues = []
    for c in d.clients:
        for line in c.lines:
            if line.debit_credit != "D":
                continue
            key = (line.period_start, line.period_end, line.category, line.code, line.allocation)
            if key in seen:
                issues.append(
                    (
                        line_path(DECL, d.clients, line),
                        "another debit line declares the same product, period and allocation",
                    )
                )
            seen.add(key)
    return issues


@line_rule(
    "TR346",
    "9346",
    ("declaration",),
    "IngediendBedrag = GeleverdVolume x ProductTarief (not for euro or minute units)",
)
def amount_is_volume_times_tariff(line: Line, _: Subject) -> Issue | None:
    if (
        line.tariff is not None
        and line.unit not in _NO_TARIFF_CHECK
        and line.amount != line.volume * line.tariff
    ):
        return ("IngediendBedrag/Bedrag", "the amount does not equal volume times tariff")
    return None
