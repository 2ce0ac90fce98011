"""Pure builders for iJw/iWmo 3.2 declaration messages (JW323/WMO323) and answers (JW325/WMO325).

Used by tests and benchmarks. The module is standard-library only: it describes a message with small
frozen dataclasses, renders it to bytes (:func:`render`) and can generate random declarations that are
XSD-valid *and* pass every in-message business rule (:func:`random_declaration`), so a test can break
exactly one thing at a time.

Amounts are integers in eurocents; signs are carried separately as ``"D"`` (debit) or ``"C"`` (credit).
"""

from __future__ import annotations

import calendar
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from xml.sax.saxutils import escape

__all__ = [
    "BERICHT_CODES",
    "EARLIEST_DATE",
    "PRODUCT_CATEGORIES",
    "RETOURCODES",
    "UNITS",
    "Answer",
    "AnswerBody",
    "Client",
    "Declaration",
    "Family",
    "Line",
    "MessageKind",
    "answer_for",
    "basis_namespace",
    "bsn_is_valid",
    "declaration_total",
    "message_namespace",
    "random_bsn",
    "random_declaration",
    "render",
    "signed",
    "unsigned",
]

Family = Literal["ijw", "iwmo"]
MessageKind = Literal["323", "325"]

#: BerichtCode per (family, kind) (COD002-VEKT).
BERICHT_CODES: Mapping[tuple[Family, MessageKind], str] = {
    ("ijw", "323"): "490",
    ("ijw", "325"): "491",
    ("iwmo", "323"): "484",
    ("iwmo", "325"): "485",
}

#: ProductCategorie enumeration per family (Jw JZ020, Wmo WMO020).
PRODUCT_CATEGORIES: Mapping[Family, tuple[str, ...]] = {
    "ijw": (*(str(n) for n in range(31, 39)), *(str(n) for n in range(40, 56))),
    "iwmo": tuple(f"{n:02d}" for n in range(1, 19)),
}

#: Eenheid enumeration (WJ756), identical for both families.
UNITS: tuple[str, ...] = ("01", "04", "14", "16", "82", "83", "84")

#: The 59 retourcodes of the WJ001 enumeration, identical for both families.
RETOURCODES: tuple[str, ...] = (
    "0001", "0200", "0233", "0611", "8001", "8017", "8021", "8187", "8214", "8848",
    "9019", "9056", "9063", "9069", "9071", "9074", "9307", "9308", "9319", "9321",
    "9322", "9326", "9332", "9333", "9338", "9339", "9340", "9341", "9346", "9347",
    "9349", "9350", "9351", "9355", "9357", "9359", "9360", "9361", "9365", "9366",
    "9367", "9369", "9373", "9374", "9375", "9379", "9384", "9385", "9387", "9388",
    "9389", "9390", "9411", "9412", "9413", "9414", "9415", "S300", "S329",
)  # fmt: skip

#: No declaration or product period may start before this date (CS100).
EARLIEST_DATE = date(2021, 1, 1)

_MESSAGE_PREFIX: Mapping[tuple[Family, MessageKind], str] = {
    ("ijw", "323"): "jw323",
    ("ijw", "325"): "jw325",
    ("iwmo", "323"): "wmo323",
    ("iwmo", "325"): "wmo325",
}

# A few real CBS municipality codes, so generated messages look plausible.
_MUNICIPALITIES = ("0014", "0034", "0193", "0344", "0363", "0384", "0518", "0599", "0772", "0935")
_CODE_LETTERS = "ABCDEFGH"
_TOKEN_ALPHABET = string.ascii_uppercase + string.digits


def message_namespace(family: Family, kind: MessageKind) -> str:
    """Target namespace of the message schema, e.g. ``http://www.istandaarden.nl/ijw/3_2/jw323/schema``."""
    return f"http://www.istandaarden.nl/{family}/3_2/{_MESSAGE_PREFIX[family, kind]}/schema"


def basis_namespace(family: Family) -> str:
    """Target namespace of the family's basisschema."""
    return f"http://www.istandaarden.nl/{family}/3_2/basisschema/schema"


@dataclass(frozen=True, slots=True)
class Line:
    """One Prestatie (declaration line)."""

    reference: str  # ReferentieNummer
    allocation: int  # ToewijzingNummer
    category: str  # ProductCategorie
    code: str  # ProductCode
    period: tuple[date, date]  # ProductPeriode
    volume: int  # GeleverdVolume
    unit: str  # Eenheid
    tariff: int | None  # ProductTarief (omitted from XML when None)
    amount: int  # IngediendBedrag/Bedrag (eurocents, >= 0)
    debit_credit: str = "D"  # IngediendBedrag/DebetCredit
    previous_reference: str | None = None  # VorigReferentieNummer
    retourcodes: tuple[str, ...] = ()  # 325 only (rendered only in a 325)


@dataclass(frozen=True, slots=True)
class Client:
    """A client (Bsn) with its lines."""

    bsn: str
    lines: tuple[Line, ...]
    retourcodes: tuple[str, ...] = ()  # 325 only


@dataclass(frozen=True, slots=True)
class Declaration:
    """A JW323 / WMO323 declaration message."""

    family: Family
    sender: str  # Afzender, AGB 8 digits
    receiver: str  # Ontvanger, gemeente 4 digits
    message_id: str  # BerichtIdentificatie/Identificatie
    message_date: date  # BerichtIdentificatie/Dagtekening
    number: str  # DeclaratieNummer
    period: tuple[date, date]  # DeclaratiePeriode
    declaration_date: date  # DeclaratieDagtekening
    clients: tuple[Client, ...]
    # (TotaalBedrag, DebetCredit); None = computed as sum(debit) - sum(credit), sign into D/C, 0 -> D
    total: tuple[int, str] | None = None
    xsd_version: tuple[str, str] = ("1.0.0", "1.0.0")  # (BasisschemaXsdVersie, BerichtXsdVersie)


@dataclass(frozen=True, slots=True)
class AnswerBody:
    """The DeclaratieAntwoord part of a 325."""

    number: str
    total_submitted: tuple[int, str]
    total_granted: tuple[int, str]
    clients: tuple[Client, ...]  # empty tuple -> no Clienten element
    retourcodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """A JW325 / WMO325 declaration answer."""

    family: Family
    sender: str  # gemeente
    receiver: str  # AGB
    message_id: str
    message_date: date
    declaration_id: tuple[str, date]  # DeclaratieIdentificatie (Identificatie, Dagtekening)
    declaration_xsd_version: tuple[str, str]
    header_retourcodes: tuple[str, ...]
    body: AnswerBody | None
    xsd_version: tuple[str, str] = ("1.0.0", "1.0.0")
    xslt_version: str | None = None


# --------------------------------------------------------------------------------------------------
# Amounts


def signed(amount: int, debit_credit: str) -> int:
    """Signed value of an (amount, D/C) pair: credits count negative."""
    return -amount if debit_credit == "C" else amount


def unsigned(value: int) -> tuple[int, str]:
    """(amount, D/C) for a signed value; zero carries ``D`` (CS325)."""
    return (-value, "C") if value < 0 else (value, "D")


def declaration_total(d: Declaration) -> tuple[int, str]:
    """TotaalIngediendBedrag as it must be (TR358): sum of debit lines minus sum of credit lines."""
    return unsigned(sum(signed(line.amount, line.debit_credit) for c in d.clients for line in c.lines))


# --------------------------------------------------------------------------------------------------
# Rendering


class _Writer:
    """Accumulates XML text; tags are given without prefix, ``basis`` selects the basisschema prefix."""

    __slots__ = ("_depth", "_indent", "_m", "_nl", "_parts")

    def __init__(self, message_prefix: str, *, newline: str, indent: bool, depth: int) -> None:
        self._m = message_prefix
        self._nl = newline if indent else ""
        self._indent = indent
        self._depth = depth
        self._parts: list[str] = []

    def _pad(self) -> str:
        return "\t" * self._depth if self._indent else ""

    def raw(self, text: str) -> None:
        self._parts.append(text)

    def open(self, name: str) -> None:
        self._parts.append(f"{self._pad()}<{self._m}{name}>{self._nl}")
        self._depth += 1

    def close(self, name: str) -> None:
        self._depth -= 1
        self._parts.append(f"{self._pad()}</{self._m}{name}>{self._nl}")

    def leaf(self, name: str, text: str) -> None:
        m = self._m
        self._parts.append(f"{self._pad()}<{m}{name}>{escape(text)}</{m}{name}>{self._nl}")

    def basis(self, prefix: str, name: str, text: str) -> None:
        self._parts.append(f"{self._pad()}<{prefix}{name}>{escape(text)}</{prefix}{name}>{self._nl}")

    def text(self) -> str:
        return "".join(self._parts)


def _render_period(w: _Writer, b: str, name: str, period: tuple[date, date]) -> None:
    w.open(name)
    w.basis(b, "Begindatum", period[0].isoformat())
    w.basis(b, "Einddatum", period[1].isoformat())
    w.close(name)


def _render_amount(w: _Writer, b: str, name: str, inner: str, value: tuple[int, str]) -> None:
    w.open(name)
    w.basis(b, inner, str(value[0]))
    w.basis(b, "DebetCredit", value[1])
    w.close(name)


def _render_id(w: _Writer, b: str, name: str, ident: tuple[str, date]) -> None:
    w.open(name)
    w.basis(b, "Identificatie", ident[0])
    w.basis(b, "Dagtekening", ident[1].isoformat())
    w.close(name)


def _render_versions(w: _Writer, b: str, name: str, versions: tuple[str, str]) -> None:
    w.open(name)
    w.basis(b, "BasisschemaXsdVersie", versions[0])
    w.basis(b, "BerichtXsdVersie", versions[1])
    w.close(name)


def _render_retourcodes(w: _Writer, codes: Sequence[str]) -> None:
    w.open("RetourCodes")
    for code in codes:
        w.leaf("RetourCode", code)
    w.close("RetourCodes")


def _render_clients(w: _Writer, b: str, clients: Sequence[Client], *, answer: bool) -> None:
    w.open("Clienten")
    for client in clients:
        w.open("Client")
        w.leaf("Bsn", client.bsn)
        w.open("Prestaties")
        for line in client.lines:
            w.open("Prestatie")
            w.open("ProductReferentie")
            w.basis(b, "ReferentieNummer", line.reference)
            if line.previous_reference is not None:
                w.basis(b, "VorigReferentieNummer", line.previous_reference)
            w.close("ProductReferentie")
            w.leaf("ToewijzingNummer", str(line.allocation))
            w.leaf("ProductCategorie", line.category)
            w.leaf("ProductCode", line.code)
            _render_period(w, b, "ProductPeriode", line.period)
            w.leaf("GeleverdVolume", str(line.volume))
            w.leaf("Eenheid", line.unit)
            if line.tariff is not None:
                w.leaf("ProductTarief", str(line.tariff))
            _render_amount(w, b, "IngediendBedrag", "Bedrag", (line.amount, line.debit_credit))
            if answer:
                _render_retourcodes(w, line.retourcodes)
            w.close("Prestatie")
        w.close("Prestaties")
        if answer:
            _render_retourcodes(w, client.retourcodes)
        w.close("Client")
    w.close("Clienten")


def _render_header_start(w: _Writer, b: str, message: Declaration | Answer, kind: MessageKind) -> None:
    w.open("Header")
    w.leaf("BerichtCode", BERICHT_CODES[message.family, kind])
    w.leaf("BerichtVersie", "3")
    w.leaf("BerichtSubversie", "2")
    w.leaf("Afzender", message.sender)
    w.leaf("Ontvanger", message.receiver)
    _render_id(w, b, "BerichtIdentificatie", (message.message_id, message.message_date))
    _render_versions(w, b, "XsdVersie", message.xsd_version)


def render(
    message: Declaration | Answer, *, prefixed: bool = True, crlf: bool = True, indent: bool = True
) -> bytes:
    """Serialise a message to UTF-8 bytes (XML declaration, no BOM).

    ``prefixed`` uses ``jw323:``/``ijw:`` style prefixes as the official examples do; otherwise the message
    namespace is the default namespace and only basisschema elements carry a prefix. ``crlf`` selects CR/LF
    line ends (OP192), ``indent`` tab indentation (without it the body is one line).
    """
    kind: MessageKind = "323" if isinstance(message, Declaration) else "325"
    family = message.family
    mprefix = _MESSAGE_PREFIX[family, kind]
    bprefix = "ijw" if family == "ijw" else "iwmo"
    b = f"{bprefix}:"
    mns = message_namespace(family, kind)
    bns = basis_namespace(family)
    newline = "\r\n" if crlf else "\n"
    w = _Writer(f"{mprefix}:" if prefixed else "", newline=newline, indent=indent, depth=1)
    w.raw(f'<?xml version="1.0" encoding="UTF-8"?>{newline}')
    m_decl = f'xmlns:{mprefix}="{mns}"' if prefixed else f'xmlns="{mns}"'
    root = f"{mprefix}:Bericht" if prefixed else "Bericht"
    w.raw(f'<{root} {m_decl} xmlns:{bprefix}="{bns}">{newline if indent else ""}')

    if isinstance(message, Declaration):
        _render_header_start(w, b, message, kind)
        w.close("Header")
        w.open("Declaratie")
        w.leaf("DeclaratieNummer", message.number)
        _render_period(w, b, "DeclaratiePeriode", message.period)
        w.leaf("DeclaratieDagtekening", message.declaration_date.isoformat())
        total = message.total if message.total is not None else declaration_total(message)
        _render_amount(w, b, "TotaalIngediendBedrag", "TotaalBedrag", total)
        _render_clients(w, b, message.clients, answer=False)
        w.close("Declaratie")
    else:
        _render_header_start(w, b, message, kind)
        _render_id(w, b, "DeclaratieIdentificatie", message.declaration_id)
        if message.xslt_version is not None:
            w.leaf("XsltVersie", message.xslt_version)
        _render_versions(w, b, "XsdVersieDeclaratie", message.declaration_xsd_version)
        _render_retourcodes(w, message.header_retourcodes)
        w.close("Header")
        body = message.body
        if body is not None:
            w.open("DeclaratieAntwoord")
            w.leaf("DeclaratieNummer", body.number)
            _render_amount(w, b, "TotaalIngediendBedrag", "TotaalBedrag", body.total_submitted)
            _render_amount(w, b, "TotaalToegekendBedrag", "TotaalBedrag", body.total_granted)
            if body.clients:
                _render_clients(w, b, body.clients, answer=True)
            _render_retourcodes(w, body.retourcodes)
            w.close("DeclaratieAntwoord")
    w.raw(f"</{root}>{newline}")
    return w.text().encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Generation


def bsn_is_valid(bsn: str) -> bool:
    """Eleven-test (CS002): nine digits with (9d1+8d2+...+2d8-d9) % 11 == 0."""
    if len(bsn) != 9 or not bsn.isascii() or not bsn.isdigit():
        return False
    digits = [int(c) for c in bsn]
    return (sum(w * d for w, d in zip(range(9, 1, -1), digits[:8], strict=True)) - digits[8]) % 11 == 0


def random_bsn(rng: random.Random) -> str:
    """A BSN that passes the eleven-test and does not start with 0."""
    while True:
        digits = [rng.randint(1, 9), *(rng.randint(0, 9) for _ in range(7))]
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
        if check < 10:  # d9 must equal the weighted sum modulo 11
            return "".join(map(str, digits)) + str(check)


def _month_start(d: date, months_back: int) -> date:
    index = d.year * 12 + (d.month - 1) - months_back
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _token(rng: random.Random, length: int = 6) -> str:
    return "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(length))


def _product_period(rng: random.Random, declaration_start: date) -> tuple[date, date]:
    """Mostly the declaration month itself, sometimes one to three months earlier (never before 2021)."""
    first = declaration_start
    if rng.random() < 0.2:
        earlier = _month_start(declaration_start, rng.randint(1, 3))
        if earlier >= EARLIEST_DATE:
            first = earlier
    last_day = calendar.monthrange(first.year, first.month)[1]
    begin = 1 if rng.random() < 0.8 else rng.randint(1, last_day)
    end = last_day if rng.random() < 0.8 else rng.randint(begin, last_day)
    return first.replace(day=begin), first.replace(day=end)


def random_declaration(
    rng: random.Random,
    *,
    family: Family = "ijw",
    clients: int | None = None,
    lines_per_client: int | None = None,
    today: date = date(2026, 1, 15),
) -> Declaration:
    """A random 323 that is XSD-valid and passes every in-message rule (deterministic per rng state).

    The declaration period is a whole calendar month 1-6 months before ``today`` (never before 2021);
    both dagtekeningen fall after the period and not after ``today``. Lines use all units; about 15%
    are credits that refer to a reference of an earlier message. For unit 83 the volume is an amount in
    eurocents (100..50000), otherwise 1..40 with a tariff of 100..20000 cents.
    """
    if family not in PRODUCT_CATEGORIES:
        raise ValueError(f"unknown family {family!r}")
    n_clients = rng.randint(1, 3) if clients is None else clients
    if n_clients < 1 or (lines_per_client is not None and lines_per_client < 1):
        raise ValueError("a declaration needs at least one client and one line per client")
    this_month = today.replace(day=1)
    max_back = min(6, (this_month.year - EARLIEST_DATE.year) * 12 + this_month.month - EARLIEST_DATE.month)
    if max_back < 1:
        raise ValueError("today must be at least one whole month after 2021-01-01")
    start = _month_start(this_month, rng.randint(1, max_back))
    end = _month_end(start)
    declaration_date = end + timedelta(days=rng.randint(1, (today - end).days))
    message_date = declaration_date + timedelta(days=rng.randint(0, (today - declaration_date).days))

    categories = PRODUCT_CATEGORIES[family]
    ref_token = _token(rng)
    prev_token = _token(rng)
    while prev_token == ref_token:  # distinct tokens keep previous references apart from current ones
        prev_token = _token(rng)
    allocation = rng.randint(10_000, 900_000_000)
    seq = 0
    used_bsns: set[str] = set()
    client_list: list[Client] = []
    for _ in range(n_clients):
        bsn = random_bsn(rng)
        while bsn in used_bsns:
            bsn = random_bsn(rng)
        used_bsns.add(bsn)
        lines: list[Line] = []
        for _ in range(rng.randint(1, 4) if lines_per_client is None else lines_per_client):
            seq += 1
            allocation += rng.randint(1, 50)  # strictly increasing: unique per line (TR416)
            category = rng.choice(categories)
            unit = rng.choice(UNITS)
            tariff: int | None
            if unit == "83":
                volume = rng.randint(100, 50_000)
                tariff = None
                amount = volume
            else:
                volume = rng.randint(1, 40)
                tariff = rng.randint(100, 20_000)
                amount = volume * tariff
            credit = rng.random() < 0.15
            lines.append(
                Line(
                    reference=f"{ref_token}-{seq:04d}",
                    allocation=allocation,
                    category=category,
                    code=f"{category}{rng.choice(_CODE_LETTERS)}{rng.randint(1, 99):02d}",
                    period=_product_period(rng, start),
                    volume=volume,
                    unit=unit,
                    tariff=tariff,
                    amount=amount,
                    debit_credit="C" if credit else "D",
                    previous_reference=f"{prev_token}-{seq:04d}" if credit else None,
                )
            )
        client_list.append(Client(bsn=bsn, lines=tuple(lines)))

    return Declaration(
        family=family,
        sender=f"{rng.randint(1_000_000, 99_999_999):08d}",
        receiver=rng.choice(_MUNICIPALITIES),
        message_id=str(rng.randint(10**8, 10**12 - 1)),
        message_date=message_date,
        number=f"D{rng.randint(0, 10**10 - 1):010d}",
        period=(start, end),
        declaration_date=declaration_date,
        clients=tuple(client_list),
    )


def answer_for(
    declaration: Declaration,
    *,
    message_id: str = "A000000001",
    message_date: date | None = None,
    rejected: Mapping[str, Sequence[str]] | None = None,
    header_retourcodes: tuple[str, ...] = ("0200",),
    body: bool = True,
    body_retourcodes: tuple[str, ...] | None = None,
    granted: tuple[int, str] | None = None,
    xslt_version: str | None = None,
) -> Answer:
    """A 325 answering ``declaration`` consistently (TR337, TR342, TR367, TR371, TR376).

    ``rejected`` maps ReferentieNummer to the retourcodes of that rejected line; the returned clients carry
    ``0200`` and the granted total is the submitted total minus the rejected lines. ``body=False`` gives a
    header-only answer (whole message rejected, e.g. ``header_retourcodes=("0001",)``).
    """
    rejected = rejected or {}
    submitted = declaration.total if declaration.total is not None else declaration_total(declaration)
    answer_body: AnswerBody | None = None
    if body:
        returned: list[Client] = []
        rejected_sum = 0
        for client in declaration.clients:
            lines = tuple(
                Line(
                    reference=line.reference,
                    allocation=line.allocation,
                    category=line.category,
                    code=line.code,
                    period=line.period,
                    volume=line.volume,
                    unit=line.unit,
                    tariff=line.tariff,
                    amount=line.amount,
                    debit_credit=line.debit_credit,
                    previous_reference=line.previous_reference,
                    retourcodes=tuple(rejected[line.reference]),
                )
                for line in client.lines
                if line.reference in rejected
            )
            if lines:
                rejected_sum += sum(signed(line.amount, line.debit_credit) for line in lines)
                returned.append(Client(bsn=client.bsn, lines=lines, retourcodes=("0200",)))
        if granted is None:
            granted = unsigned(signed(*submitted) - rejected_sum)
        if body_retourcodes is None:
            body_retourcodes = ("0200",) if returned else ("8001",)
        answer_body = AnswerBody(
            number=declaration.number,
            total_submitted=submitted,
            total_granted=granted,
            clients=tuple(returned),
            retourcodes=body_retourcodes,
        )
    return Answer(
        family=declaration.family,
        sender=declaration.receiver,
        receiver=declaration.sender,
        message_id=message_id,
        message_date=message_date if message_date is not None else declaration.message_date,
        declaration_id=(declaration.message_id, declaration.message_date),
        declaration_xsd_version=declaration.xsd_version,
        header_retourcodes=header_retourcodes,
        body=answer_body,
        xslt_version=xslt_version,
    )
