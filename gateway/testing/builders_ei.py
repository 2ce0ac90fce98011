"""Builders for fixed-width JW321 declarations and JW322 retours (legacy-formats.md B).

Used by tests, benchmarks and the minimisation work. A file is described with small frozen dataclasses and
rendered to bytes with the shipped layouts (:func:`render_ei`); counts, totals and record numbering are
computed unless a test overrides them to break exactly one thing. :func:`random_ei_declaration` generates
files that pass every check (elfproef BSNs, credits, comments, every productgroep class, judicial
zorgtypes, DSM-IV codes consistent with triplet 2 or blank); :func:`answer_for_ei` builds the matching
JW322. :func:`b7_declaration` is the worked example of B.7, and :func:`replace_field` edits one field of a
rendered file in place (for targeted broken files).

Amounts are integers in eurocents, signs ``"D"``/``"C"`` separately.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from filters.codetables import CodeTables, Prestatiecode, load_tables
from gateway.fixedwidth.layout import Layout, RecordLayout, load_layout
from gateway.fixedwidth.writer import Value, write_records
from gateway.testing.builders import random_bsn

__all__ = [
    "ACCEPTED",
    "DSM_SAMPLES",
    "EiAnswer",
    "EiClient",
    "EiDeclaration",
    "EiLine",
    "answer_for_ei",
    "b7_declaration",
    "layout_of",
    "line_numbers",
    "random_ei_declaration",
    "render_ei",
    "replace_field",
]

#: Retourcode written on every record of a generated JW322 unless given otherwise.
ACCEPTED = "0200"

#: DSM-IV codes the generator picks from (their groups come from the code tables, not from here).
DSM_SAMPLES = (
    "296.32",
    "296.23",
    "300.02",
    "300.3",
    "309.81",
    "309.0",
    "309.21",
    "314.01",
    "312.81",
    "299.00",
    "307.1",
    "300.81",
    "295.30",
    "296.40",
    "301.83",
    "303.90",
    "305.20",
    "311",
    "317",
    "V61.20",
    "799.9",
)


@dataclass(frozen=True, slots=True)
class EiLine:
    """One 04 record. ``amount`` None = the tariff (EI107); ``bsn`` None = the client's (EI101)."""

    reference: str
    trajectory: str
    dbc_period: tuple[date, date]
    prestatiecode: str
    declaratiecode: str
    tariff: int
    debit_credit: str = "D"
    previous_reference: str | None = None
    dsm4: str | None = None
    type_verwijzer: str = "01"
    afsluitreden: str = "01"
    amount: int | None = None
    comments: tuple[str, ...] = ()
    bsn: str | None = None

    @property
    def declared(self) -> int:
        return self.tariff if self.amount is None else self.amount


@dataclass(frozen=True, slots=True)
class EiClient:
    """One 02 record with its lines."""

    bsn: str
    birth_date: date
    gender: str
    lines: tuple[EiLine, ...]


@dataclass(frozen=True, slots=True)
class EiDeclaration:
    """A JW321. ``counts`` (02, 04, 98, all) and ``total`` override the computed sluitrecord values."""

    sender_agb: str
    municipality: str
    message_id: str
    message_date: date
    invoice_number: str
    period: tuple[date, date]
    clients: tuple[EiClient, ...]
    test: bool = False
    software_code: str = "000000"
    software_version: str | None = None
    practice_code: str = "00000000"
    counts: tuple[int, int, int, int] | None = None
    total: tuple[int, str] | None = None

    @property
    def lines(self) -> tuple[EiLine, ...]:
        return tuple(line for client in self.clients for line in client.lines)


@dataclass(frozen=True, slots=True)
class EiAnswer:
    """A JW322 on ``declaration``. ``granted`` per REFERENTIENUMMER (default: the declared amount);
    ``retourcodes`` per record line number (default: :data:`ACCEPTED`); ``total_granted`` overrides the
    computed total."""

    declaration: EiDeclaration
    retour_id: str
    retour_date: date
    granted: Mapping[str, int] = field(default_factory=dict)
    retourcodes: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    total_granted: tuple[int, str] | None = None


def layout_of(message: str) -> Layout:
    """The shipped layout (builders never use an operator's override)."""
    return load_layout(message, ())


def _fixed(record: RecordLayout, name: str) -> str:
    """The single value of a field with a one-value domain (BERICHTVERSIE, VALUTACODE, ...)."""
    domain = record.field(name).domain
    if domain is None or len(domain) != 1:
        raise ValueError(f"record {record.type}, field {name}: no single fixed value")
    return domain[0]


def _balance(pairs: Sequence[tuple[int, str]]) -> tuple[int, str]:
    total = sum(-amount if dc == "C" else amount for amount, dc in pairs)
    return abs(total), "D" if total >= 0 else "C"


def _records(d: EiDeclaration, layout: Layout) -> Iterator[tuple[str, dict[str, Value]]]:
    """The JW321 part of every record, in file order (JW322 fields are added by the caller)."""
    header, client_r, line_r, comment_r, trailer_r = (
        layout.role(r) for r in ("header", "client", "line", "comment", "trailer")
    )
    yield (
        header.type,
        {
            "BERICHTCODE": layout.bericht_code,
            "BERICHTVERSIE": _fixed(header, "BERICHTVERSIE"),
            "BERICHTSUBVERSIE": _fixed(header, "BERICHTSUBVERSIE"),
            "SOORT_BERICHT": "T" if d.test else "P",
            "CODE_INFORMATIESYSTEEM": d.software_code,
            "VERSIE_INFORMATIESYSTEEM": d.software_version,
            "AGB_ZORGAANBIEDER": d.sender_agb,
            "PRAKTIJKCODE": d.practice_code,
            "GEMEENTECODE": d.municipality,
            "IDENTIFICATIE_BERICHT": d.message_id,
            "DAGTEKENING": d.message_date,
            "FACTUURNUMMER": d.invoice_number,
            "BEGINDATUM_DECLARATIEPERIODE": d.period[0],
            "EINDDATUM_DECLARATIEPERIODE": d.period[1],
            "VALUTACODE": _fixed(header, "VALUTACODE"),
        },
    )
    detail = 0
    n_comments = 0
    for client in d.clients:
        detail += 1
        yield (
            client_r.type,
            {
                "IDENTIFICATIE_DETAILRECORD": detail,
                "BSN": client.bsn,
                "GEBOORTEDATUM": client.birth_date,
                "GESLACHT": client.gender,
            },
        )
        for line in client.lines:
            detail += 1
            yield (
                line_r.type,
                {
                    "IDENTIFICATIE_DETAILRECORD": detail,
                    "BSN": line.bsn if line.bsn is not None else client.bsn,
                    "REFERENTIENUMMER": line.reference,
                    "VORIG_REFERENTIENUMMER": line.previous_reference,
                    "DBC_TRAJECTNUMMER": line.trajectory,
                    "BEGINDATUM_DBC": line.dbc_period[0],
                    "EINDDATUM_DBC": line.dbc_period[1],
                    "DBC_PRESTATIECODE": line.prestatiecode,
                    "DECLARATIECODE": line.declaratiecode,
                    "DIAGNOSECODE_DSM4": line.dsm4,
                    "TYPE_VERWIJZER": line.type_verwijzer,
                    "AFSLUITREDEN": line.afsluitreden,
                    "TARIEF": line.tariff,
                    "DECLARATIEBEDRAG": line.declared,
                    "INDICATIE_DEBET_CREDIT": line.debit_credit,
                },
            )
            for number, text in enumerate(line.comments, 1):
                detail += 1
                n_comments += 1
                yield (
                    comment_r.type,
                    {"IDENTIFICATIE_DETAILRECORD": detail, layout.comment_field: number, "VRIJE_TEKST": text},
                )
    n_clients, n_lines = len(d.clients), len(d.lines)
    counts = d.counts if d.counts is not None else (n_clients, n_lines, n_comments, detail)
    total = d.total if d.total is not None else _balance([(ln.declared, ln.debit_credit) for ln in d.lines])
    yield (
        trailer_r.type,
        {
            "AANTAL_CLIENTRECORDS": counts[0],
            "AANTAL_PRESTATIERECORDS": counts[1],
            "AANTAL_COMMENTAARRECORDS": counts[2],
            "TOTAAL_AANTAL_DETAILRECORDS": counts[3],
            "TOTAAL_DECLARATIEBEDRAG": total[0],
            "INDICATIE_DEBET_CREDIT": total[1],
        },
    )


def _answer_records(a: EiAnswer, layout: Layout) -> Iterator[tuple[str, dict[str, Value]]]:
    roles = {r.type: r.role for r in layout.records.values()}
    lines = iter(a.declaration.lines)
    granted_pairs: list[tuple[int, str]] = []
    for number, (rtype, values) in enumerate(_records(a.declaration, layout), 1):
        codes = a.retourcodes.get(number, (ACCEPTED,))
        for i, code in enumerate(codes, 1):
            values[f"RETOURCODE_{i:02d}"] = code
        role = roles[rtype]
        if role == "header":
            values["IDENTIFICATIE_RETOUR"] = a.retour_id
            values["DAGTEKENING_RETOUR"] = a.retour_date
        elif role == "line":
            line = next(lines)
            granted = a.granted.get(line.reference, line.declared)
            dc = "D" if granted == 0 else line.debit_credit
            granted_pairs.append((granted, dc))
            values["TOEGEKEND_BEDRAG"] = granted
            values["INDICATIE_DEBET_CREDIT_TOEGEKEND"] = dc
        elif role == "trailer":
            total = a.total_granted if a.total_granted is not None else _balance(granted_pairs)
            values["TOTAAL_TOEGEKEND_BEDRAG"] = total[0]
            values["INDICATIE_DEBET_CREDIT_TOEGEKEND"] = total[1]
        yield rtype, values


def render_ei(message: EiDeclaration | EiAnswer, *, final_crlf: bool = True) -> bytes:
    """The file's bytes: 310-character records, each followed by CR LF."""
    if isinstance(message, EiAnswer):
        layout = layout_of("JW322")
        return write_records(layout, _answer_records(message, layout), final_crlf=final_crlf)
    layout = layout_of("JW321")
    return write_records(layout, _records(message, layout), final_crlf=final_crlf)


def line_numbers(d: EiDeclaration) -> dict[str, int]:
    """File line of every record by a readable key: ``header``, ``trailer``, ``client:<i>``, the
    REFERENTIENUMMER of each line, and ``<reference>#<n>`` for its n-th comment (i and n 1-based)."""
    numbers = {"header": 1}
    line = 1
    for ci, client in enumerate(d.clients, 1):
        line += 1
        numbers[f"client:{ci}"] = line
        for ln in client.lines:
            line += 1
            numbers[ln.reference] = line
            for n in range(1, len(ln.comments) + 1):
                line += 1
                numbers[f"{ln.reference}#{n}"] = line
    numbers["trailer"] = line + 1
    return numbers


def replace_field(data: bytes, line: int, name: str, value: str, *, message: str = "JW321") -> bytes:
    """``data`` with field ``name`` of the record on ``line`` (1-based) set to ``value`` exactly as given,
    padded with spaces to the field length (so any byte can be planted, e.g. to break a format)."""
    layout = layout_of(message)
    records = data.split(b"\r\n")
    record = records[line - 1]
    kind = layout.type_field
    rtype = record[kind.offset : kind.offset + kind.length].decode("ascii")
    f = layout.records[rtype].field(name)
    raw = value.encode("latin-1").ljust(f.length)
    if len(raw) != f.length:
        raise ValueError(f"value too long for {name}")
    records[line - 1] = record[: f.offset] + raw + record[f.offset + f.length :]
    return b"\r\n".join(records)


# --------------------------------------------------------------------------------------------------
# The B.7 example


def b7_declaration() -> EiDeclaration:
    """The complete JW321 of legacy-formats.md B.7 (two clients, four lines, one credit, one comment)."""
    return EiDeclaration(
        sender_agb="94060117",
        municipality="0014",
        message_id="VB2017000123",
        message_date=date(2017, 2, 10),
        invoice_number="2017F004711",
        period=(date(2017, 1, 1), date(2017, 1, 31)),
        software_code="004711",
        software_version="GGZDECL2.3",
        clients=(
            EiClient(
                "999900006",
                date(2008, 3, 14),
                "2",
                (
                    EiLine(
                        "VB0001",
                        "T2016000815",
                        (date(2016, 3, 3), date(2017, 1, 20)),
                        "110008003144",
                        "25J144",
                        412350,
                        dsm4="296.32",
                        comments=("RECIDIEF, ZIE BEHANDELPLAN",),
                    ),
                    EiLine(
                        "VB0002",
                        "T2016001207",
                        (date(2016, 11, 7), date(2017, 1, 12)),
                        "101000000110",
                        "25J110",
                        98700,
                        dsm4="300.02",
                        type_verwijzer="08",
                    ),
                ),
            ),
            EiClient(
                "999900018",
                date(2010, 11, 2),
                "1",
                (
                    EiLine(
                        "VB0003",
                        "T2016000977",
                        (date(2016, 9, 12), date(2017, 1, 27)),
                        "000000000902",
                        "180002",
                        81500,
                    ),
                    EiLine(
                        "VB0004",
                        "T2016000012",
                        (date(2016, 1, 4), date(2016, 12, 30)),
                        "101001002142",
                        "25J142",
                        256000,
                        debit_credit="C",
                        previous_reference="VA0917",
                        dsm4="314.01",
                        afsluitreden="05",
                    ),
                ),
            ),
        ),
    )


# --------------------------------------------------------------------------------------------------
# Random valid files

_TEXT_WORDS = ("GESPREK", "OUDERS", "SCHOOL", "VERVOLG", "BEHANDELPLAN", "ZIE", "DOSSIER", "AFSPRAAK", "2E")
_ALNUM = string.ascii_uppercase + string.digits


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def _prestatiecode(rng: random.Random, tables: CodeTables, dsm4: str | None) -> str:
    zorgtype = rng.choice(tables.codes("zorgtypes"))
    if dsm4 is not None and rng.random() < 0.7:
        diagnose = tables.group_triplet(tables.dsm4_group(dsm4))
    elif dsm4 is not None:
        diagnose = tables.neutral.diagnoseclassificatie
    else:
        diagnose = rng.choice(tables.codes("diagnoseclassificatie"))
    zvz = rng.choice(tables.codes("zorgvraagzwaarte"))
    productgroep = rng.choice(tables.codes("productgroepen"))
    return str(Prestatiecode(zorgtype, diagnose, zvz, productgroep))


def _random_line(
    rng: random.Random, tables: CodeTables, reference: str, period: tuple[date, date], message_date: date
) -> EiLine:
    dsm4 = rng.choice(DSM_SAMPLES) if rng.random() < 0.7 else None
    start = period[0] - timedelta(days=rng.randint(0, 500))
    end = start + timedelta(days=rng.randint(0, (message_date - start).days))
    credit = rng.random() < 0.2
    comments = tuple(
        " ".join(rng.choice(_TEXT_WORDS) for _ in range(rng.randint(1, 8)))
        for _ in range(rng.choice((0, 0, 1, 2)))
    )
    return EiLine(
        reference=reference,
        trajectory=f"T{_token(rng, rng.randint(4, 14))}",
        dbc_period=(start, end),
        prestatiecode=_prestatiecode(rng, tables, dsm4),
        declaratiecode=_token(rng, 6),
        tariff=rng.randint(1, 2_500_000),
        debit_credit="C" if credit else "D",
        previous_reference=f"OLD{_token(rng, rng.randint(1, 17))}" if credit else None,
        dsm4=dsm4,
        type_verwijzer=rng.choice(tables.codes("type_verwijzer")),
        afsluitreden=rng.choice(tables.codes("afsluitreden")),
        comments=comments,
    )


def random_ei_declaration(
    rng: random.Random,
    *,
    clients: int | None = None,
    lines_per_client: int | None = None,
    first_year: int = 2015,
    last_year: int = 2018,
) -> EiDeclaration:
    """A JW321 that passes every check. Sizes default to 1-4 clients with 1-4 lines each."""
    tables = load_tables(())
    year = rng.randint(first_year, last_year)
    start = date(year, rng.randint(1, 12), rng.randint(1, 28))
    period = (start, start + timedelta(days=rng.randint(0, 90)))
    message_date = period[1] + timedelta(days=rng.randint(0, 40))
    bsns: list[str] = []
    while len(bsns) < (clients if clients is not None else rng.randint(1, 4)):
        bsn = random_bsn(rng)
        if bsn not in bsns:
            bsns.append(bsn)
    built = []
    for ci, bsn in enumerate(bsns, 1):
        count = lines_per_client if lines_per_client is not None else rng.randint(1, 4)
        lines = tuple(
            _random_line(rng, tables, f"R{ci}X{li}{_token(rng, rng.randint(0, 10))}", period, message_date)
            for li in range(1, count + 1)
        )
        birth = date(year - rng.randint(0, 17), rng.randint(1, 12), rng.randint(1, 28))
        built.append(EiClient(bsn, birth, rng.choice(("0", "1", "2", "9")), lines))
    return EiDeclaration(
        sender_agb=f"{rng.randint(1, 99_999_999):08d}",
        municipality=f"{rng.randint(1, 1999):04d}",
        message_id=_token(rng, rng.randint(1, 12)),
        message_date=message_date,
        invoice_number=_token(rng, rng.randint(1, 12)),
        period=period,
        clients=tuple(built),
        test=rng.random() < 0.2,
        software_code=f"{rng.randint(0, 999_999):06d}",
        software_version=rng.choice((None, "V1", "GGZ 2.3.1")),
        practice_code=f"{rng.choice((0, rng.randint(1, 99_999_999))):08d}",
    )


def answer_for_ei(
    declaration: EiDeclaration,
    rng: random.Random | None = None,
    *,
    retour_id: str = "RET0001",
    retour_date: date | None = None,
) -> EiAnswer:
    """A JW322 that passes every check. With ``rng``, lines are granted in full, in part or not at all
    and records get one to three retourcodes; without it everything is granted with :data:`ACCEPTED`."""
    granted: dict[str, int] = {}
    codes: dict[int, tuple[str, ...]] = {}
    if rng is not None:
        for line in declaration.lines:
            granted[line.reference] = rng.choice((line.declared, 0, rng.randint(0, line.declared)))
        records = 2 + len(declaration.clients) + sum(1 + len(ln.comments) for ln in declaration.lines)
        for number in range(1, records + 1):
            codes[number] = tuple(_token(rng, 4) for _ in range(rng.randint(1, 3)))
    when = retour_date if retour_date is not None else declaration.message_date + timedelta(days=14)
    return EiAnswer(declaration, retour_id, when, granted, codes)
