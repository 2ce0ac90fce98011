"""Pure builders for the reconstructed 2.x XML messages: JW303/WMO303 (D and F) and JW304/WMO304.

The 2.x counterpart of :mod:`gateway.testing.builders`, for tests and benchmarks; standard-library only.
A message is described with small frozen dataclasses and rendered to bytes (:func:`render_303`,
:func:`render_304`). :func:`random_303` generates declarations and invoices that are XSD-valid *and* pass
every 2.x rule; :func:`answer_304_for` builds the consistent 304 on a 303 (the whole 303 echoed, a granted
amount and retourcodes per line), so a test can break exactly one thing at a time.

Amounts are integers in eurocents; signs are carried separately as ``"D"`` (debit) or ``"C"`` (credit).
The structure is that of ``docs/legacy.md`` (reconstructed, not the official Vektis definition).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from xml.sax.saxutils import escape

from gateway.testing.builders import PRODUCT_CATEGORIES, bsn_is_valid, random_bsn, signed, unsigned

__all__ = [
    "BERICHT_CODES",
    "GENDERS",
    "PRODUCT_CATEGORIES",
    "UNITS",
    "Answer",
    "Client",
    "Declaration",
    "Family",
    "Line",
    "answer_304_for",
    "basis_namespace",
    "bsn_is_valid",
    "declaration_total",
    "granted_total",
    "message_namespace",
    "random_303",
    "random_grants",
    "render_303",
    "render_304",
    "retour_code",
]

Family = Literal["ijw", "iwmo"]

#: BerichtCode of a 303 per (family, invoice): declaration D or invoice F (COD002-VEKT).
BERICHT_CODES: Mapping[tuple[Family, bool], str] = {
    ("ijw", False): "432",
    ("ijw", True): "450",
    ("iwmo", False): "416",
    ("iwmo", True): "448",
}

#: Eenheid of the 2.x releases: the 3.2 list without 84, plus 21 (week) and 81 (time-independent).
UNITS: tuple[str, ...] = ("01", "04", "14", "16", "21", "81", "82", "83")

#: Geslacht: male, female, not specified.
GENDERS: tuple[str, ...] = ("1", "2", "9")

#: Default retourcodes of a 304 line: granted in full, granted in part, not granted.
FULL_GRANT_CODES: tuple[str, ...] = ("0200",)
PARTIAL_GRANT_CODES: tuple[str, ...] = ("0611",)
NO_GRANT_CODES: tuple[str, ...] = ("9338",)

_EARLIEST = date(2017, 6, 1)  # XML 2.1 came into use in June 2017
_LATEST = date(2020, 12, 31)  # the 303 was replaced by the 323 for care from 2021
_MUNICIPALITIES = ("0014", "0034", "0193", "0344", "0363", "0384", "0518", "0599", "0772", "0935")
_CODE_LETTERS = "ABCDEFGH"
_TOKEN_ALPHABET = string.ascii_uppercase + string.digits


def message_namespace(family: Family, message: Literal["303", "304"]) -> str:
    """e.g. ``http://www.istandaarden.nl/ijw/2_1/jw303/schema/2_1``."""
    prefix = "jw" if family == "ijw" else "wmo"
    return f"http://www.istandaarden.nl/{family}/2_1/{prefix}{message}/schema/2_1"


def basis_namespace(family: Family) -> str:
    """The family's 2.x basisschema namespace."""
    return f"http://www.istandaarden.nl/{family}/2_1/basisschema/schema/2_1"


def retour_code(code: str) -> str:
    """The BerichtCode of the retour on a message with BerichtCode ``code`` (one more)."""
    return f"{int(code) + 1:03d}"


@dataclass(frozen=True, slots=True)
class Line:
    """One Prestatie. ``granted`` and ``retourcodes`` are rendered only in a 304."""

    reference: str  # ReferentieNummer
    category: str  # ProductCategorie
    period: tuple[date, date]  # ProductPeriode
    volume: int  # GeleverdVolume
    unit: str  # Eenheid
    amount: int  # DeclaratieFactuurBedrag/Bedrag (eurocents, >= 0)
    debit_credit: str = "D"
    previous_reference: str | None = None  # VorigReferentieNummer
    allocation: int | None = None  # ToewijzingNummer (omitted when None)
    code: str | None = None  # ProductCode (omitted when None)
    tariff: int | None = None  # ProductTarief (omitted when None)
    granted: tuple[int, str] | None = None  # 304: ToegekendBedrag (Bedrag, DebetCredit)
    retourcodes: tuple[str, ...] = ()  # 304


@dataclass(frozen=True, slots=True)
class Client:
    """A client with birth date, gender and lines. ``retourcodes`` are rendered only in a 304."""

    bsn: str
    birth_date: date
    gender: str
    lines: tuple[Line, ...]
    birth_date_use: str | None = None  # DatumGebruik (omitted when None)
    retourcodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Declaration:
    """A JW303 / WMO303: a declaration (``invoice=False``, 303D) or an invoice (``invoice=True``, 303F)."""

    family: Family
    invoice: bool
    sender: str  # Afzender, AGB
    receiver: str  # Ontvanger, gemeente
    number: str  # DeclarantFactuurNummer
    invoice_date: date  # FactuurDagtekening
    period: tuple[date, date]  # DeclaratiePeriode
    clients: tuple[Client, ...]
    total: tuple[int, str] | None = None  # None: computed (TR358)
    xsd_version: tuple[str, str] = ("2.1.0", "2.1.0")
    bericht_code: str | None = None  # None: from family and invoice


@dataclass(frozen=True, slots=True)
class Answer:
    """A JW304 / WMO304: ``declaration`` is the echoed 303 whose lines carry ``granted`` and retourcodes."""

    declaration: Declaration
    retour_id: str  # IdentificatieRetour
    retour_date: date  # DagtekeningRetour
    retourcodes: tuple[str, ...] = ("0200",)  # RetourHeader/RetourCodes
    total_submitted: tuple[int, str] | None = None  # None: computed (LG001)
    total_granted: tuple[int, str] | None = None  # None: computed (LG002)
    retour_xsd_version: tuple[str, str] = ("2.1.0", "2.1.0")
    bericht_code: str | None = None  # None: the 303's code plus one


def _balance(values: Iterable[tuple[int, str]]) -> tuple[int, str]:
    return unsigned(sum(signed(amount, dc) for amount, dc in values))


def declaration_total(d: Declaration) -> tuple[int, str]:
    """DeclaratieFactuurTotaalBedrag as it must be: Σ debit - Σ credit, as amount and D/C (0 is D)."""
    return _balance((line.amount, line.debit_credit) for c in d.clients for line in c.lines)


def granted_total(d: Declaration) -> tuple[int, str]:
    """ToegekendTotaalBedrag as it must be, from the lines' granted amounts (absent counts as 0)."""
    return _balance(line.granted for c in d.clients for line in c.lines if line.granted is not None)


def _code_of(d: Declaration) -> str:
    return d.bericht_code if d.bericht_code is not None else BERICHT_CODES[d.family, d.invoice]


# --------------------------------------------------------------------------------------------------
# Rendering


class _Writer:
    """Accumulates XML text: ``m`` is the message prefix (with colon, or empty), ``b`` the basisschema one."""

    __slots__ = ("_depth", "_indent", "_nl", "_parts", "b", "m")

    def __init__(self, m: str, b: str, *, newline: str, indent: bool) -> None:
        self.m, self.b = m, b
        self._nl = newline if indent else ""
        self._indent = indent
        self._depth = 1
        self._parts: list[str] = []

    def _pad(self) -> str:
        return "\t" * self._depth if self._indent else ""

    def raw(self, text: str) -> None:
        self._parts.append(text)

    def open(self, name: str, *, basis: bool = False) -> None:
        p = self.b if basis else self.m
        self._parts.append(f"{self._pad()}<{p}{name}>{self._nl}")
        self._depth += 1

    def close(self, name: str, *, basis: bool = False) -> None:
        p = self.b if basis else self.m
        self._depth -= 1
        self._parts.append(f"{self._pad()}</{p}{name}>{self._nl}")

    def leaf(self, name: str, text: str, *, basis: bool = False) -> None:
        p = self.b if basis else self.m
        self._parts.append(f"{self._pad()}<{p}{name}>{escape(text)}</{p}{name}>{self._nl}")

    def text(self) -> str:
        return "".join(self._parts)


def _pair(w: _Writer, name: str, children: tuple[str, str], values: tuple[str, str]) -> None:
    """A message-namespace element with two basisschema leaves."""
    w.open(name)
    w.leaf(children[0], values[0], basis=True)
    w.leaf(children[1], values[1], basis=True)
    w.close(name)


def _amount(w: _Writer, inner: str, leaf: str, value: tuple[int, str]) -> None:
    """A basisschema amount element (``inner``) with its ``leaf`` and DebetCredit."""
    w.open(inner, basis=True)
    w.leaf(leaf, str(value[0]), basis=True)
    w.leaf("DebetCredit", value[1], basis=True)
    w.close(inner, basis=True)


def _period(w: _Writer, name: str, period: tuple[date, date]) -> None:
    _pair(w, name, ("Begindatum", "Einddatum"), (period[0].isoformat(), period[1].isoformat()))


def _versions(w: _Writer, name: str, versions: tuple[str, str]) -> None:
    _pair(w, name, ("BasisschemaXsdVersie", "BerichtXsdVersie"), versions)


def _retourcodes(w: _Writer, codes: Sequence[str]) -> None:
    w.open("RetourCodes")
    for code in codes:
        w.leaf("RetourCode", code)
    w.close("RetourCodes")


def _header_start(w: _Writer, d: Declaration, code: str) -> None:
    w.open("Header")
    w.leaf("BerichtCode", code)
    w.leaf("BerichtVersie", "2")
    w.leaf("BerichtSubversie", "1")
    w.leaf("Afzender", d.sender)
    w.leaf("Ontvanger", d.receiver)
    _pair(
        w,
        "DeclaratieFactuurIdentificatie",
        ("DeclarantFactuurNummer", "FactuurDagtekening"),
        (d.number, d.invoice_date.isoformat()),
    )
    _period(w, "DeclaratiePeriode", d.period)


def _line(w: _Writer, line: Line, *, answer: bool) -> None:
    w.open("Prestatie")
    w.open("ProductReferentie")
    w.leaf("ReferentieNummer", line.reference, basis=True)
    if line.previous_reference is not None:
        w.leaf("VorigReferentieNummer", line.previous_reference, basis=True)
    w.close("ProductReferentie")
    if line.allocation is not None:
        w.leaf("ToewijzingNummer", str(line.allocation))
    w.leaf("ProductCategorie", line.category)
    if line.code is not None:
        w.leaf("ProductCode", line.code)
    _period(w, "ProductPeriode", line.period)
    w.leaf("GeleverdVolume", str(line.volume))
    w.leaf("Eenheid", line.unit)
    if line.tariff is not None:
        w.leaf("ProductTarief", str(line.tariff))
    w.open("IngediendeBedragPrestatie")
    _amount(w, "DeclaratieFactuurBedrag", "Bedrag", (line.amount, line.debit_credit))
    w.close("IngediendeBedragPrestatie")
    if answer:
        if line.granted is None:
            raise ValueError(f"line {line.reference!r} of a 304 needs a granted amount")
        w.open("ToegekendeBedragPrestatie")
        _amount(w, "ToegekendBedrag", "Bedrag", line.granted)
        w.close("ToegekendeBedragPrestatie")
        _retourcodes(w, line.retourcodes)
    w.close("Prestatie")


def _clients(w: _Writer, clients: Sequence[Client], *, answer: bool) -> None:
    w.open("Clienten")
    for client in clients:
        w.open("Client")
        w.leaf("Bsn", client.bsn)
        w.open("Geboortedatum")
        w.leaf("Datum", client.birth_date.isoformat(), basis=True)
        if client.birth_date_use is not None:
            w.leaf("DatumGebruik", client.birth_date_use, basis=True)
        w.close("Geboortedatum")
        w.leaf("Geslacht", client.gender)
        w.open("Prestaties")
        for line in client.lines:
            _line(w, line, answer=answer)
        w.close("Prestaties")
        if answer:
            _retourcodes(w, client.retourcodes)
        w.close("Client")
    w.close("Clienten")


def _document(
    family: Family, message: Literal["303", "304"], *, prefixed: bool, crlf: bool, indent: bool
) -> tuple[_Writer, str, str]:
    mprefix = f"{'jw' if family == 'ijw' else 'wmo'}{message}"
    bprefix = family
    newline = "\r\n" if crlf else "\n"
    w = _Writer(f"{mprefix}:" if prefixed else "", f"{bprefix}:", newline=newline, indent=indent)
    w.raw(f'<?xml version="1.0" encoding="UTF-8"?>{newline}')
    mns = message_namespace(family, message)
    m_decl = f'xmlns:{mprefix}="{mns}"' if prefixed else f'xmlns="{mns}"'
    root = f"{mprefix}:Bericht" if prefixed else "Bericht"
    w.raw(f'<{root} {m_decl} xmlns:{bprefix}="{basis_namespace(family)}">{newline if indent else ""}')
    return w, root, newline


def render_303(d: Declaration, *, prefixed: bool = True, crlf: bool = True, indent: bool = True) -> bytes:
    """Serialise a 303 to UTF-8 bytes (XML declaration, no BOM); options as in ``builders.render``."""
    w, root, newline = _document(d.family, "303", prefixed=prefixed, crlf=crlf, indent=indent)
    _header_start(w, d, _code_of(d))
    w.open("DeclaratieFactuurBedragen")
    total = d.total if d.total is not None else declaration_total(d)
    _amount(w, "DeclaratieFactuurTotaalBedrag", "TotaalBedrag", total)
    w.close("DeclaratieFactuurBedragen")
    _versions(w, "XsdVersie", d.xsd_version)
    w.close("Header")
    _clients(w, d.clients, answer=False)
    w.raw(f"</{root}>{newline}")
    return w.text().encode("utf-8")


def render_304(a: Answer, *, prefixed: bool = True, crlf: bool = True, indent: bool = True) -> bytes:
    """Serialise a 304 to UTF-8 bytes: the echoed 303 with RetourBedragen, RetourHeader and line results."""
    d = a.declaration
    w, root, newline = _document(d.family, "304", prefixed=prefixed, crlf=crlf, indent=indent)
    _header_start(w, d, a.bericht_code if a.bericht_code is not None else retour_code(_code_of(d)))
    w.open("RetourBedragen")
    submitted = a.total_submitted if a.total_submitted is not None else declaration_total(d)
    granted = a.total_granted if a.total_granted is not None else granted_total(d)
    _amount(w, "IngediendTotaalBedrag", "TotaalBedrag", submitted)
    _amount(w, "ToegekendTotaalBedrag", "TotaalBedrag", granted)
    w.close("RetourBedragen")
    _versions(w, "XsdVersie", d.xsd_version)
    w.close("Header")
    w.open("RetourHeader")
    w.leaf("IdentificatieRetour", a.retour_id)
    w.leaf("DagtekeningRetour", a.retour_date.isoformat())
    _versions(w, "XsdVersieRetour", a.retour_xsd_version)
    _retourcodes(w, a.retourcodes)
    w.close("RetourHeader")
    _clients(w, d.clients, answer=True)
    w.raw(f"</{root}>{newline}")
    return w.text().encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Generation


def _token(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(length))


def _days(rng: random.Random, start: date, end: date) -> date:
    """A random day in start..end (inclusive)."""
    return start + timedelta(days=rng.randint(0, (end - start).days))


def _product_period(rng: random.Random, period: tuple[date, date]) -> tuple[date, date]:
    """The declaration period itself, a part of it, or (one line in five) a stretch before it."""
    start, end = period
    roll = rng.random()
    if roll < 0.4:
        return start, end
    if roll < 0.8:
        begin = _days(rng, start, end)
        return begin, _days(rng, begin, end)
    before = start - timedelta(days=rng.randint(1, 90))
    return before, _days(rng, before, end)


def _quantities(rng: random.Random, unit: str) -> tuple[int, int | None, int]:
    """(volume, tariff, amount) that fit the unit; the euro unit has no tariff and amount = volume."""
    if unit == "83":
        volume = rng.randint(100, 50_000)
        return volume, None, volume
    if unit == "81":
        volume, tariff = 1, rng.randint(500, 250_000)
    elif unit == "01":
        volume, tariff = rng.randint(15, 600), rng.randint(50, 200)
    else:
        volume, tariff = rng.randint(1, 40), rng.randint(100, 20_000)
    amount = volume * tariff
    return volume, (tariff if rng.random() < 0.9 else None), amount


def random_303(
    rng: random.Random,
    *,
    family: Family = "ijw",
    invoice: bool = False,
    clients: int | None = None,
    lines_per_client: int | None = None,
) -> Declaration:
    """A random 303 (D or F) that is XSD-valid and passes every 2.x rule (deterministic per rng state).

    The declaration period is free (1 to 120 days, often spanning months) between June 2017 and 2020;
    the FactuurDagtekening falls 0 to 60 days after it. Lines use every 2.x unit (including 21 and 81),
    sometimes lack ToewijzingNummer, ProductCode or ProductTarief, and about 15% are credits that reverse
    a line of an earlier message (VorigReferentieNummer).
    """
    if family not in PRODUCT_CATEGORIES:
        raise ValueError(f"unknown family {family!r}")
    n_clients = rng.randint(1, 3) if clients is None else clients
    if n_clients < 1 or (lines_per_client is not None and lines_per_client < 1):
        raise ValueError("a 303 needs at least one client and one line per client")
    start = _days(rng, _EARLIEST + timedelta(days=90), _LATEST - timedelta(days=180))
    period = (start, start + timedelta(days=rng.randint(0, 119)))
    invoice_date = period[1] + timedelta(days=rng.randint(0, 60))
    ref_token = _token(rng)
    prev_token = _token(rng)
    while prev_token == ref_token:  # distinct tokens keep credited references apart from current ones
        prev_token = _token(rng)
    categories = PRODUCT_CATEGORIES[family]
    adult = family == "iwmo"
    seq = 0
    used: set[str] = set()
    client_list: list[Client] = []
    for _ in range(n_clients):
        bsn = random_bsn(rng)
        while bsn in used:
            bsn = random_bsn(rng)
        used.add(bsn)
        age_days = rng.randint(18 * 365, 95 * 365) if adult else rng.randint(30, 17 * 365)
        lines: list[Line] = []
        for _ in range(rng.randint(1, 4) if lines_per_client is None else lines_per_client):
            seq += 1
            category = rng.choice(categories)
            unit = rng.choice(UNITS)
            volume, tariff, amount = _quantities(rng, unit)
            credit = rng.random() < 0.15
            lines.append(
                Line(
                    reference=f"{ref_token}-{seq:04d}",
                    category=category,
                    period=_product_period(rng, period),
                    volume=volume,
                    unit=unit,
                    amount=amount,
                    debit_credit="C" if credit else "D",
                    previous_reference=f"{prev_token}-{seq:04d}" if credit else None,
                    allocation=rng.randint(1, 999_999_999) if rng.random() < 0.7 else None,
                    code=(
                        f"{category}{rng.choice(_CODE_LETTERS)}{rng.randint(1, 99):02d}"
                        if rng.random() < 0.7
                        else None
                    ),
                    tariff=tariff,
                )
            )
        client_list.append(
            Client(
                bsn=bsn,
                birth_date=start - timedelta(days=age_days),
                gender=rng.choice(GENDERS),
                lines=tuple(lines),
                birth_date_use=rng.choice((None, None, "1", "2", "3")),
            )
        )
    return Declaration(
        family=family,
        invoice=invoice,
        sender=f"{rng.randint(1_000_000, 99_999_999):08d}",
        receiver=rng.choice(_MUNICIPALITIES),
        number=f"{'F' if invoice else 'D'}{rng.randint(0, 10**10 - 1):010d}",
        invoice_date=invoice_date,
        period=period,
        clients=tuple(client_list),
    )


def random_grants(rng: random.Random, d: Declaration) -> dict[str, int]:
    """Random granted amounts per ReferentieNummer: full, nothing, or (declarations only) a part."""
    grants: dict[str, int] = {}
    for client in d.clients:
        for line in client.lines:
            roll = rng.random()
            if roll < 0.6:
                grants[line.reference] = line.amount
            elif roll < 0.8 or d.invoice:
                grants[line.reference] = 0
            else:
                grants[line.reference] = rng.randint(0, line.amount)
    return grants


def answer_304_for(
    d: Declaration,
    *,
    granted: Mapping[str, int] | None = None,
    retourcodes: Mapping[str, Sequence[str]] | None = None,
    header_retourcodes: tuple[str, ...] = ("0200",),
    retour_id: str = "R0000000001",
    retour_date: date | None = None,
) -> Answer:
    """The 304 on ``d``: every client and line echoed, each line with its granted amount (LG001-LG004).

    ``granted`` maps ReferentieNummer to the granted amount (eurocents, without sign; the line's sign is
    kept, 0 is ``D``); lines not named are granted in full. On an invoice (303F) a line is granted in full
    or not at all. ``retourcodes`` maps ReferentieNummer to the line's codes; by default a line carries
    ``0200`` when granted in full, ``0611`` when in part and ``9338`` when not at all.
    """
    granted = granted or {}
    retourcodes = retourcodes or {}
    clients: list[Client] = []
    for client in d.clients:
        lines: list[Line] = []
        for line in client.lines:
            amount = granted.get(line.reference, line.amount)
            if not 0 <= amount <= line.amount:
                raise ValueError(f"grant for {line.reference!r} must lie between 0 and the claimed amount")
            if d.invoice and amount not in (0, line.amount):
                raise ValueError(f"an invoice line ({line.reference!r}) is granted in full or not at all")
            if amount == line.amount:
                default = FULL_GRANT_CODES
            else:
                default = PARTIAL_GRANT_CODES if amount else NO_GRANT_CODES
            lines.append(
                Line(
                    reference=line.reference,
                    category=line.category,
                    period=line.period,
                    volume=line.volume,
                    unit=line.unit,
                    amount=line.amount,
                    debit_credit=line.debit_credit,
                    previous_reference=line.previous_reference,
                    allocation=line.allocation,
                    code=line.code,
                    tariff=line.tariff,
                    granted=(amount, line.debit_credit if amount else "D"),
                    retourcodes=tuple(retourcodes.get(line.reference, default)),
                )
            )
        clients.append(
            Client(
                bsn=client.bsn,
                birth_date=client.birth_date,
                gender=client.gender,
                lines=tuple(lines),
                birth_date_use=client.birth_date_use,
                retourcodes=("0200",),
            )
        )
    echo = Declaration(
        family=d.family,
        invoice=d.invoice,
        sender=d.sender,
        receiver=d.receiver,
        number=d.number,
        invoice_date=d.invoice_date,
        period=d.period,
        clients=tuple(clients),
        total=d.total,
        xsd_version=d.xsd_version,
        bericht_code=d.bericht_code,
    )
    return Answer(
        declaration=echo,
        retour_id=retour_id,
        retour_date=retour_date if retour_date is not None else d.invoice_date + timedelta(days=14),
        retourcodes=header_retourcodes,
        total_submitted=d.total if d.total is not None else declaration_total(d),
    )
