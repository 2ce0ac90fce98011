"""Business rules of the fixed-width JW321 declaration and its JW322 retour (legacy-formats.md B.6).

Release ``ei-2.0``; kind ``declaration`` is the JW321, ``answer`` the JW322 (which echoes every JW321
record, so the JW321 rules apply to it too). No retourcode: the EI codes are the project's own
(clarifications item 3). Paths follow B.6: ``/JW321/R04[5]/FIELD`` with the record's line number.
Messages say what is wrong, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import cast

from filters.codetables import CodeTables, Prestatiecode, load_tables
from gateway.fixedwidth.records import EiMessage
from gateway.rules.common import elfproef, signed
from gateway.rules.registry import Context, Issue, Kind, Subject, rule

RELEASE = "ei-2.0"
BOTH: tuple[Kind, ...] = ("declaration", "answer")

#: The code tables the rules check against. The stage sets the ones it validated the file with (so an
#: operator's override reaches EI109/EI110 too); unset, the environment's tables are used.
CODE_TABLES: ContextVar[CodeTables | None] = ContextVar("jw321_code_tables", default=None)


def _tables() -> CodeTables:
    tables = CODE_TABLES.get()
    return tables if tables is not None else load_tables()


def _file(s: Subject) -> EiMessage:
    return cast("EiMessage", s.message)  # rules of release ei-2.0 only ever see an EI file


def _balance(amounts: Iterable[tuple[int, str]]) -> tuple[int, str]:
    """|sum of D - sum of C| and its indicator: D when the difference is >= 0, else C."""
    total = sum(signed(amount, dc) for amount, dc in amounts)
    return abs(total), "D" if total >= 0 else "C"


@rule("CS002", None, "Client", BOTH, "every BSN (02 and 04 records) passes the eleven-test", release=RELEASE)
def bsn_elfproef(s: Subject, _: Context) -> list[Issue]:
    issues: list[Issue] = []
    for client in _file(s).clients:
        if not elfproef(client.bsn):
            issues.append((f"{client.path}/BSN", "BSN does not pass the eleven-test"))
        issues.extend(
            (f"{line.path}/BSN", "BSN does not pass the eleven-test")
            for line in client.lines
            if not elfproef(line.bsn)
        )
    return issues


@rule(
    "EI101", None, "Prestatie", BOTH, "the BSN of a 04 record equals that of its 02 record", release=RELEASE
)
def line_bsn_is_client_bsn(s: Subject, _: Context) -> list[Issue]:
    return [
        (f"{line.path}/BSN", "BSN differs from the BSN of the client record the line belongs to")
        for client in _file(s).clients
        for line in client.lines
        if line.bsn != client.bsn
    ]


@rule("EI102", None, "Client", BOTH, "a BSN has only one 02 record in the file", release=RELEASE)
def client_once(s: Subject, _: Context) -> list[Issue]:
    seen: set[str] = set()
    issues: list[Issue] = []
    for client in _file(s).clients:
        if client.bsn in seen:
            issues.append((f"{client.path}/BSN", "the client already has a client record in this file"))
        seen.add(client.bsn)
    return issues


@rule("EI103", None, "Prestatie", BOTH, "REFERENTIENUMMER is unique within the file", release=RELEASE)
def reference_unique(s: Subject, _: Context) -> list[Issue]:
    seen: set[str] = set()
    issues: list[Issue] = []
    for line in _file(s).lines:
        if line.referentienummer in seen:
            issues.append(
                (f"{line.path}/REFERENTIENUMMER", "REFERENTIENUMMER occurs more than once in the file")
            )
        seen.add(line.referentienummer)
    return issues


@rule(
    "EI104",
    None,
    "Prestatie",
    BOTH,
    "VORIG_REFERENTIENUMMER is filled on a credit (C) line and blank on a debit (D) line",
    release=RELEASE,
)
def previous_reference_iff_credit(s: Subject, _: Context) -> list[Issue]:
    issues: list[Issue] = []
    for line in _file(s).lines:
        credit = line.indicatie_debet_credit == "C"
        if credit and line.vorig_referentienummer is None:
            issues.append(
                (f"{line.path}/VORIG_REFERENTIENUMMER", "a credit line must name the line it cancels")
            )
        elif not credit and line.vorig_referentienummer is not None:
            issues.append((f"{line.path}/VORIG_REFERENTIENUMMER", "a debit line must leave this field blank"))
    return issues


@rule(
    "EI105",
    None,
    "Prestatie",
    BOTH,
    "VORIG_REFERENTIENUMMER is not a REFERENTIENUMMER of the same file",
    release=RELEASE,
)
def previous_reference_not_in_file(s: Subject, _: Context) -> list[Issue]:
    lines = _file(s).lines
    references = {line.referentienummer for line in lines}
    return [
        (f"{line.path}/VORIG_REFERENTIENUMMER", "the credited line is declared in the same file")
        for line in lines
        if line.vorig_referentienummer is not None and line.vorig_referentienummer in references
    ]


@rule(
    "EI106",
    None,
    "Header",
    BOTH,
    "period and DBC dates: begin <= end <= DAGTEKENING",
    release=RELEASE,
)
def dates_in_order(s: Subject, _: Context) -> list[Issue]:
    f = _file(s)
    h = f.header
    issues: list[Issue] = []
    if h.einddatum_declaratieperiode < h.begindatum_declaratieperiode:
        issues.append(
            (f"{h.path}/EINDDATUM_DECLARATIEPERIODE", "the declaration period ends before it starts")
        )
    elif h.einddatum_declaratieperiode > h.dagtekening:
        issues.append(
            (f"{h.path}/EINDDATUM_DECLARATIEPERIODE", "the declaration period ends after the file date")
        )
    for line in f.lines:
        if line.einddatum_dbc < line.begindatum_dbc:
            issues.append((f"{line.path}/EINDDATUM_DBC", "the DBC closes before it opens"))
        elif line.einddatum_dbc > h.dagtekening:
            issues.append((f"{line.path}/EINDDATUM_DBC", "the DBC closes after the file date (DAGTEKENING)"))
    return issues


@rule("EI107", None, "Prestatie", BOTH, "DECLARATIEBEDRAG equals TARIEF (a DBC is one unit)", release=RELEASE)
def amount_is_tariff(s: Subject, _: Context) -> list[Issue]:
    return [
        (f"{line.path}/DECLARATIEBEDRAG", "DECLARATIEBEDRAG differs from TARIEF")
        for line in _file(s).lines
        if line.declaratiebedrag != line.tarief
    ]


@rule("EI108", None, "Prestatie", BOTH, "an amount of 0 is not marked C", release=RELEASE)
def zero_not_credit(s: Subject, _: Context) -> list[Issue]:
    return [
        (f"{line.path}/INDICATIE_DEBET_CREDIT", "an amount of 0 must be marked D")
        for line in _file(s).lines
        if line.declaratiebedrag == 0 and line.indicatie_debet_credit == "C"
    ]


@rule(
    "EI109",
    None,
    "Prestatie",
    BOTH,
    "each DBC_PRESTATIECODE triplet is in its code table (zorgtype, diagnoseclassificatie, "
    "zorgvraagzwaarte, productgroep)",
    release=RELEASE,
)
def triplets_in_tables(s: Subject, _: Context) -> list[Issue]:
    tables = _tables()
    issues: list[Issue] = []
    for line in _file(s).lines:
        bad = tables.invalid_triplets(line.dbc_prestatiecode)
        if bad:
            issues.append(
                (
                    f"{line.path}/DBC_PRESTATIECODE",
                    f"triplet(s) not in their code table: {', '.join(bad)}",
                )
            )
    return issues


@rule(
    "EI110",
    None,
    "Prestatie",
    BOTH,
    "with a DIAGNOSECODE_DSM4, triplet 2 is 000 or the diagnoseclassificatie of that code",
    release=RELEASE,
)
def dsm_matches_classification(s: Subject, _: Context) -> list[Issue]:
    tables = _tables()
    neutral = tables.neutral.diagnoseclassificatie
    issues: list[Issue] = []
    for line in _file(s).lines:
        code = line.diagnosecode_dsm4
        parts = Prestatiecode.parse(line.dbc_prestatiecode)
        if code is None or parts is None or not tables.is_dsm4_code(code):
            continue
        triplet = parts.diagnoseclassificatie
        if triplet != neutral and triplet != tables.group_triplet(tables.dsm4_group(code)):
            issues.append(
                (
                    f"{line.path}/DBC_PRESTATIECODE",
                    "the diagnoseclassificatie triplet does not match the group of DIAGNOSECODE_DSM4",
                )
            )
    return issues


@rule(
    "EI111",
    None,
    "Declaratie",
    BOTH,
    "the counts of the 99 record (02, 04, 98 and all detail records) match the file",
    release=RELEASE,
)
def trailer_counts(s: Subject, _: Context) -> list[Issue]:
    f = _file(s)
    t = f.trailer
    clients, lines, comments = len(f.clients), len(f.lines), len(f.comments)
    issues: list[Issue] = []
    for field, stated, actual in (
        ("AANTAL_CLIENTRECORDS", t.aantal_clientrecords, clients),
        ("AANTAL_PRESTATIERECORDS", t.aantal_prestatierecords, lines),
        ("AANTAL_COMMENTAARRECORDS", t.aantal_commentaarrecords, comments),
        ("TOTAAL_AANTAL_DETAILRECORDS", t.totaal_aantal_detailrecords, clients + lines + comments),
    ):
        if stated != actual:
            issues.append((f"{t.path}/{field}", f"{field} does not match the records in the file"))
    return issues


@rule(
    "EI112",
    None,
    "Declaratie",
    BOTH,
    "TOTAAL_DECLARATIEBEDRAG and its indicator match the lines (sum of D minus sum of C)",
    release=RELEASE,
)
def trailer_total(s: Subject, _: Context) -> list[Issue]:
    f = _file(s)
    t = f.trailer
    total, dc = _balance((line.declaratiebedrag, line.indicatie_debet_credit) for line in f.lines)
    issues: list[Issue] = []
    if t.totaal_declaratiebedrag != total:
        issues.append((f"{t.path}/TOTAAL_DECLARATIEBEDRAG", "total does not equal the sum of the lines"))
    if t.indicatie_debet_credit != dc:
        issues.append(
            (f"{t.path}/INDICATIE_DEBET_CREDIT", "the indicator of the total does not match its sign")
        )
    return issues


@rule(
    "EI121",
    None,
    "Prestatie",
    ("answer",),
    "TOEGEKEND_BEDRAG <= DECLARATIEBEDRAG; its indicator is the line's (D when 0)",
    release=RELEASE,
)
def granted_amount(s: Subject, _: Context) -> list[Issue]:
    issues: list[Issue] = []
    for line in _file(s).lines:
        granted = line.toegekend_bedrag or 0
        if granted > line.declaratiebedrag:
            issues.append((f"{line.path}/TOEGEKEND_BEDRAG", "the granted amount exceeds the declared amount"))
        wanted = "D" if granted == 0 else line.indicatie_debet_credit
        if line.indicatie_debet_credit_toegekend != wanted:
            issues.append(
                (
                    f"{line.path}/INDICATIE_DEBET_CREDIT_TOEGEKEND",
                    "the indicator must equal the line's indicator, or D when the granted amount is 0",
                )
            )
    return issues


@rule(
    "EI122",
    None,
    "Declaratie",
    ("answer",),
    "TOTAAL_TOEGEKEND_BEDRAG and its indicator match the granted amounts of the lines",
    release=RELEASE,
)
def granted_total(s: Subject, _: Context) -> list[Issue]:
    f = _file(s)
    t = f.trailer
    total, dc = _balance(
        (line.toegekend_bedrag or 0, line.indicatie_debet_credit_toegekend or "D") for line in f.lines
    )
    issues: list[Issue] = []
    if t.totaal_toegekend_bedrag != total:
        issues.append((f"{t.path}/TOTAAL_TOEGEKEND_BEDRAG", "total does not equal the granted amounts"))
    if t.indicatie_debet_credit_toegekend != dc:
        issues.append(
            (
                f"{t.path}/INDICATIE_DEBET_CREDIT_TOEGEKEND",
                "the indicator of the total does not match its sign",
            )
        )
    return issues


@rule("EI123", None, "Header", ("answer",), "DAGTEKENING_RETOUR is not before DAGTEKENING", release=RELEASE)
def retour_date_not_before(s: Subject, _: Context) -> list[Issue]:
    h = _file(s).header
    if h.dagtekening_retour is not None and h.dagtekening_retour < h.dagtekening:
        return [(f"{h.path}/DAGTEKENING_RETOUR", "the retour is dated before the declaration")]
    return []
