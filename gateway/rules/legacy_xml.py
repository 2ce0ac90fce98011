"""In-message rules of the reconstructed 2.x XML messages: JW303/WMO303 (kind declaration), JW304/WMO304.

Exactly the set of ``docs/legacy.md`` (the reconstructed rule table of the 2.x generation): 3.2 codes where
the check is the same, ``LG…`` gateway codes for 304-only checks. Everything is registered for release
``2.1`` as message checks that walk the 2.x records of :mod:`gateway.model_2x` (the 3.2 line engine works
on 3.2 lines). Checks on the message as a whole (its header totals and declaration period) carry the
message class ``Header``, because in 2.x those values live in the header.

CS/CD/TR findings carry retourcode ``0001`` (rejection, as in 3.2); LG findings carry none, because a 304
is never answered. Amounts follow the 3.2 sign convention: a total is the absolute value of
Σ debit - Σ credit, marked ``D`` when that is ≥ 0 and ``C`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from gateway.model_2x import RELEASE, Answer2x, Client2x, Declaration2x, Line2x, client_path_2x, line_path_2x
from gateway.rules.common import elfproef, signed
from gateway.rules.registry import Context, Issue, Kind, Subject, rule

__all__ = ["expected_total"]

HEADER = "/Bericht/Header"
BOTH: tuple[Kind, ...] = ("declaration", "answer")
DECLARATION: tuple[Kind, ...] = ("declaration",)
ANSWER: tuple[Kind, ...] = ("answer",)
EURO = "83"  # Eenheid: the volume is an amount in eurocents
_SUBMITTED = "IngediendeBedragPrestatie/DeclaratieFactuurBedrag"
_GRANTED = "ToegekendeBedragPrestatie/ToegekendBedrag"


def expected_total(values: Iterator[tuple[int, str]]) -> tuple[int, str]:
    """The total of (amount, DebetCredit) pairs as the rules expect it: |Σ debit - Σ credit|, D when ≥ 0."""
    balance = sum(signed(amount, dc) for amount, dc in values)
    return (balance, "D") if balance >= 0 else (-balance, "C")


def _message(s: Subject) -> Declaration2x | Answer2x:
    return cast("Declaration2x | Answer2x", s.message)  # 2.1 rules only ever see 2.x records


def _declaration(s: Subject) -> Declaration2x:
    return cast("Declaration2x", s.message)  # rules of kind "declaration" only ever see a 303


def _answer(s: Subject) -> Answer2x:
    return cast("Answer2x", s.message)  # rules of kind "answer" only ever see a 304


def _lines(clients: tuple[Client2x, ...]) -> Iterator[Line2x]:
    for client in clients:
        yield from client.lines


# --------------------------------------------------------------------------------------------------
# Clients and lines (303 and 304)


@rule("CS002", "0001", "Client", BOTH, "Bsn passes the eleven-test", release=RELEASE)
def bsn_elfproef(s: Subject, _: Context) -> list[Issue]:
    clients = _message(s).clients
    return [
        (f"{client_path_2x(clients, c.position)}/Bsn", "BSN does not pass the eleven-test")
        for c in clients
        if not elfproef(c.bsn)
    ]


@rule(
    "CD060",
    "0001",
    "Prestatie",
    BOTH,
    "VorigReferentieNummer present on credit lines and only there",
    release=RELEASE,
)
def previous_reference_iff_credit(s: Subject, _: Context) -> list[Issue]:
    clients = _message(s).clients
    issues: list[Issue] = []
    for line in _lines(clients):
        if line.debit_credit == "C":
            if line.previous_reference is None:
                issues.append(
                    (
                        line_path_2x(clients, line, "ProductReferentie"),
                        "a credit line must carry VorigReferentieNummer",
                    )
                )
        elif line.previous_reference is not None:
            issues.append(
                (
                    line_path_2x(clients, line, "ProductReferentie/VorigReferentieNummer"),
                    "only a credit line may carry VorigReferentieNummer",
                )
            )
    return issues


@rule("CS325", "0001", "Prestatie", BOTH, "a line amount of 0 carries DebetCredit D", release=RELEASE)
def zero_line_is_debit(s: Subject, _: Context) -> list[Issue]:
    clients = _message(s).clients
    issues: list[Issue] = []
    for line in _lines(clients):
        if line.amount == 0 and line.debit_credit != "D":
            issues.append(
                (line_path_2x(clients, line, f"{_SUBMITTED}/DebetCredit"), "an amount of 0 must be marked D")
            )
        if line.granted is not None and line.granted[0] == 0 and line.granted[1] != "D":
            issues.append(
                (line_path_2x(clients, line, f"{_GRANTED}/DebetCredit"), "an amount of 0 must be marked D")
            )
    return issues


@rule("CS325", "0001", "Header", BOTH, "a total of 0 carries DebetCredit D", release=RELEASE)
def zero_total_is_debit(s: Subject, _: Context) -> list[Issue]:
    message = _message(s)
    totals: tuple[tuple[str, tuple[int, str]], ...]
    if isinstance(message, Answer2x):
        totals = (
            ("RetourBedragen/IngediendTotaalBedrag", message.total_submitted),
            ("RetourBedragen/ToegekendTotaalBedrag", message.total_granted),
        )
    else:
        totals = (
            ("DeclaratieFactuurBedragen/DeclaratieFactuurTotaalBedrag", (message.total, message.total_dc)),
        )
    return [
        (f"{HEADER}/{name}/DebetCredit", "an amount of 0 must be marked D")
        for name, (amount, dc) in totals
        if amount == 0 and dc != "D"
    ]


# --------------------------------------------------------------------------------------------------
# 303 only


@rule(
    "TR101", "0001", "Client", DECLARATION, "a client (Bsn) occurs only once in the message", release=RELEASE
)
def unique_client(s: Subject, _: Context) -> list[Issue]:
    # clarifications item 5: a Client whose Bsn repeats within the message is TR101.
    clients = _declaration(s).clients
    seen: set[str] = set()
    issues: list[Issue] = []
    for c in clients:
        if c.bsn in seen:
            issues.append(
                (f"{client_path_2x(clients, c.position)}/Bsn", "the same client occurs more than once")
            )
        seen.add(c.bsn)
    return issues


@rule(
    "TR314",
    "8021",
    "Prestatie",
    DECLARATION,
    "ReferentieNummer is unique within the message",
    release=RELEASE,
)
def unique_reference(s: Subject, _: Context) -> list[Issue]:
    # clarifications item 5 (which outranks legacy-formats.md A.5): a duplicate ReferentieNummer is TR314.
    clients = _declaration(s).clients
    seen: set[str] = set()
    issues: list[Issue] = []
    for line in _lines(clients):
        if line.reference in seen:
            issues.append(
                (
                    line_path_2x(clients, line, "ProductReferentie/ReferentieNummer"),
                    "the ReferentieNummer was already used in this message",
                )
            )
        seen.add(line.reference)
    return issues


@rule(
    "TR315",
    "0001",
    "Prestatie",
    DECLARATION,
    "VorigReferentieNummer is unique within the message",
    release=RELEASE,
)
def unique_previous_reference(s: Subject, _: Context) -> list[Issue]:
    clients = _declaration(s).clients
    seen: set[str] = set()
    issues: list[Issue] = []
    for line in _lines(clients):
        if line.previous_reference is None:
            continue
        if line.previous_reference in seen:
            issues.append(
                (
                    line_path_2x(clients, line, "ProductReferentie/VorigReferentieNummer"),
                    "the same line is credited more than once in this message",
                )
            )
        seen.add(line.previous_reference)
    return issues


@rule(
    "TR316",
    "0001",
    "Prestatie",
    DECLARATION,
    "VorigReferentieNummer differs from every ReferentieNummer of the message",
    release=RELEASE,
)
def no_credit_of_same_message(s: Subject, _: Context) -> list[Issue]:
    clients = _declaration(s).clients
    references = {line.reference for line in _lines(clients)}
    return [
        (
            line_path_2x(clients, line, "ProductReferentie/VorigReferentieNummer"),
            "a credit line refers to a line declared in the same message",
        )
        for line in _lines(clients)
        if line.previous_reference is not None and line.previous_reference in references
    ]


@rule(
    "TR134",
    "0001",
    "Header",
    DECLARATION,
    "DeclaratiePeriode Begindatum is not after FactuurDagtekening",
    release=RELEASE,
)
def declaration_start_not_after_invoice_date(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    if d.period_start > d.declaration_date:
        return [
            (f"{HEADER}/DeclaratiePeriode/Begindatum", "the declaration period starts after the invoice date")
        ]
    return []


@rule(
    "TR137",
    "0001",
    "Header",
    DECLARATION,
    "DeclaratiePeriode Einddatum not before Begindatum, not after FactuurDagtekening",
    release=RELEASE,
)
def declaration_end_in_order(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    where = f"{HEADER}/DeclaratiePeriode/Einddatum"
    if d.period_end < d.period_start:
        return [(where, "the declaration period ends before it starts")]
    if d.period_end > d.declaration_date:
        return [(where, "the declaration period ends after the invoice date")]
    return []


@rule(
    "TR134",
    "0001",
    "Prestatie",
    DECLARATION,
    "ProductPeriode Begindatum is not after FactuurDagtekening",
    release=RELEASE,
)
def product_start_not_after_invoice_date(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    return [
        (
            line_path_2x(d.clients, line, "ProductPeriode/Begindatum"),
            "the product period starts after the invoice date",
        )
        for line in _lines(d.clients)
        if line.period_start > d.declaration_date
    ]


@rule(
    "TR137",
    "0001",
    "Prestatie",
    DECLARATION,
    "ProductPeriode Einddatum not before Begindatum, not after FactuurDagtekening",
    release=RELEASE,
)
def product_end_in_order(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    issues: list[Issue] = []
    for line in _lines(d.clients):
        where = line_path_2x(d.clients, line, "ProductPeriode/Einddatum")
        if line.period_end < line.period_start:
            issues.append((where, "the product period ends before it starts"))
        elif line.period_end > d.declaration_date:
            issues.append((where, "the product period ends after the invoice date"))
    return issues


@rule(
    "CS339",
    "0001",
    "Prestatie",
    DECLARATION,
    "with Eenheid 83 (euro), DeclaratieFactuurBedrag equals GeleverdVolume",
    release=RELEASE,
)
def euro_amount_equals_volume(s: Subject, _: Context) -> list[Issue]:
    clients = _declaration(s).clients
    return [
        (
            line_path_2x(clients, line, f"{_SUBMITTED}/Bedrag"),
            "with Eenheid 83 (euro) the amount must equal the delivered volume",
        )
        for line in _lines(clients)
        if line.unit == EURO and line.amount != line.volume
    ]


@rule(
    "TR358",
    "0001",
    "Header",
    DECLARATION,
    "DeclaratieFactuurTotaalBedrag = sum of debit lines - sum of credit lines (D when >= 0)",
    release=RELEASE,
)
def total_matches_lines(s: Subject, _: Context) -> list[Issue]:
    d = _declaration(s)
    if (d.total, d.total_dc) != expected_total(
        (line.amount, line.debit_credit) for line in _lines(d.clients)
    ):
        return [
            (
                f"{HEADER}/DeclaratieFactuurBedragen/DeclaratieFactuurTotaalBedrag",
                "total does not equal the sum of the lines",
            )
        ]
    return []


# --------------------------------------------------------------------------------------------------
# 304 only


@rule(
    "LG001",
    None,
    "Header",
    ANSWER,
    "IngediendTotaalBedrag = sum of debit lines - sum of credit lines (D when >= 0)",
    release=RELEASE,
)
def submitted_total_matches_lines(s: Subject, _: Context) -> list[Issue]:
    a = _answer(s)
    if a.total_submitted != expected_total((line.amount, line.debit_credit) for line in _lines(a.clients)):
        return [
            (
                f"{HEADER}/RetourBedragen/IngediendTotaalBedrag",
                "the submitted total does not equal the sum of the lines",
            )
        ]
    return []


@rule(
    "LG002",
    None,
    "Header",
    ANSWER,
    "ToegekendTotaalBedrag = sum of debit - sum of credit ToegekendBedrag (D when >= 0)",
    release=RELEASE,
)
def granted_total_matches_lines(s: Subject, _: Context) -> list[Issue]:
    a = _answer(s)
    granted = (line.granted for line in _lines(a.clients) if line.granted is not None)
    if a.total_granted != expected_total(granted):
        return [
            (
                f"{HEADER}/RetourBedragen/ToegekendTotaalBedrag",
                "the granted total does not equal the sum of the granted line amounts",
            )
        ]
    return []


@rule(
    "LG003",
    None,
    "Prestatie",
    ANSWER,
    "ToegekendBedrag at most DeclaratieFactuurBedrag and, when not 0, with the same DebetCredit",
    release=RELEASE,
)
def granted_within_submitted(s: Subject, _: Context) -> list[Issue]:
    clients = _answer(s).clients
    issues: list[Issue] = []
    for line in _lines(clients):
        if line.granted is None:  # pragma: no cover - every 304 line has a granted amount
            continue
        amount, dc = line.granted
        if amount > line.amount:
            issues.append(
                (
                    line_path_2x(clients, line, f"{_GRANTED}/Bedrag"),
                    "more is granted than was claimed for the line",
                )
            )
        elif amount != 0 and dc != line.debit_credit:
            issues.append(
                (
                    line_path_2x(clients, line, f"{_GRANTED}/DebetCredit"),
                    "the granted amount has another sign than the claimed amount",
                )
            )
    return issues


@rule(
    "LG004",
    None,
    "Prestatie",
    ANSWER,
    "on a retour on an invoice (303F), ToegekendBedrag is 0 or the whole DeclaratieFactuurBedrag",
    release=RELEASE,
)
def invoice_line_granted_whole(s: Subject, _: Context) -> list[Issue]:
    a = _answer(s)
    if not a.invoice:
        return []
    return [
        (
            line_path_2x(a.clients, line, f"{_GRANTED}/Bedrag"),
            "an invoice line is granted either in full or not at all",
        )
        for line in _lines(a.clients)
        if line.granted is not None and line.granted[0] not in (0, line.amount)
    ]
