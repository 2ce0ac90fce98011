"""Read an XSD-valid 2.x message (JW303/WMO303, JW304/WMO304) into immutable records for the rules.

The 2.x messages are reconstructed (``docs/legacy.md``): the header carries the declaration number,
period and total, and the clients hang directly under ``Bericht``. As with the 3.2 reader, the schema
stage has already fixed the structure, so values are read by position. A 2.x Prestatie has three
optional children (ToewijzingNummer, ProductCode, ProductTarief); two of them are leaves holding digits
next to another leaf holding digits, so the reader compares the element name where one is optional
instead of guessing from the count.

Field names follow :mod:`gateway.model` wherever a value means the same (``reference``, ``amount``,
``debit_credit``, ``period_start`` ...), so code that handles 3.2 lines reads 2.x lines the same way. The
3.2 :class:`~gateway.model.Header` is reused: in 2.x the message id is the DeclarantFactuurNummer and the
message date the FactuurDagtekening.

Which BerichtCodes mean an invoice (303F) is read from the catalogue, not written here; the code of a
retour is the code of the message it answers plus one.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import NamedTuple

from lxml import etree

from gateway.model import Header, Subject, read_header, to_date
from gateway.registry import default_registry

__all__ = [
    "CONTAINER",
    "RELEASE",
    "Answer2x",
    "Client2x",
    "Declaration2x",
    "Line2x",
    "answer_subject_2x",
    "client_path_2x",
    "declaration_subject_2x",
    "invoice_codes",
    "line_path_2x",
    "read_answer_2x",
    "read_declaration_2x",
]

RELEASE = "2.1"
CONTAINER = "/Bericht"  # the element that holds Clienten in both 2.x messages


class Line2x(NamedTuple):
    """One Prestatie of a 303 or 304. ``client`` and ``position`` are 0-based, used only for paths.

    The first fifteen fields match :class:`gateway.model.Line` by name and order; ``allocation`` and
    ``code`` may be absent in 2.x. ``retourcodes`` and ``granted`` (ToegekendBedrag as amount and
    DebetCredit) are filled for a 304 line only.
    """

    client: int
    position: int
    reference: str
    previous_reference: str | None
    allocation: int | None
    category: str
    code: str | None
    period_start: date
    period_end: date
    volume: int
    unit: str
    tariff: int | None
    amount: int
    debit_credit: str
    retourcodes: tuple[str, ...]
    granted: tuple[int, str] | None


class Client2x(NamedTuple):
    """A Client: the first four fields match :class:`gateway.model.Client`; 2.x adds birth date and gender."""

    position: int
    bsn: str
    lines: tuple[Line2x, ...]
    retourcodes: tuple[str, ...]  # 304 only
    birth_date: date
    birth_date_use: str | None  # DatumGebruik, when given
    gender: str


class Declaration2x(NamedTuple):
    """A JW303 / WMO303 (declaration D or invoice F). Field names as in :class:`gateway.model.Declaration`.

    ``number`` and ``declaration_date`` are DeclarantFactuurNummer and FactuurDagtekening (also in the
    header as ``message_id`` / ``message_date``: in 2.x the declaration number identifies the message).
    """

    header: Header
    number: str
    period_start: date
    period_end: date
    declaration_date: date
    total: int
    total_dc: str
    clients: tuple[Client2x, ...]
    invoice: bool  # True for a 303F (BerichtCode of an invoice)

    def dedup_key(self) -> tuple[str, str, str]:
        """(Afzender, BerichtCode, DeclarantFactuurNummer): legacy-formats.md A.7."""
        return (self.header.sender, self.header.bericht_code, self.header.message_id)

    @property
    def lines(self) -> tuple[Line2x, ...]:
        return tuple(line for client in self.clients for line in client.lines)


class Answer2x(NamedTuple):
    """A JW304 / WMO304: the echoed 303 plus the retour data.

    ``header`` is the echoed 303 header (Afzender = provider, Ontvanger = municipality, message id and
    date = the answered declaration's number and date) with the 304's own BerichtCode. ``total_submitted``
    and ``total_granted`` are RetourBedragen/IngediendTotaalBedrag and ToegekendTotaalBedrag;
    ``retour_id``, ``retour_date``, ``retour_xsd_version`` and ``retourcodes`` come from RetourHeader.
    """

    header: Header
    number: str
    period_start: date
    period_end: date
    declaration_date: date
    total_submitted: tuple[int, str]
    total_granted: tuple[int, str]
    retour_id: str
    retour_date: date
    retour_xsd_version: tuple[str, str]
    retourcodes: tuple[str, ...]
    clients: tuple[Client2x, ...]
    invoice: bool  # True for a retour on an invoice (303F)

    @property
    def lines(self) -> tuple[Line2x, ...]:
        return tuple(line for client in self.clients for line in client.lines)

    def dedup_key(self) -> tuple[str, str, str]:
        """(Afzender, BerichtCode, IdentificatieRetour) of the retour."""
        return (self.header.sender, self.header.bericht_code, self.retour_id)


@cache
def invoice_codes() -> frozenset[str]:
    """BerichtCodes of 2.x invoices (the ``…303F`` types of the catalogue) and of the retours on them."""
    invoices = {
        code
        for spec in default_registry().specs
        if spec.release == RELEASE and spec.kind == "declaration" and spec.name.endswith("F")
        for code in spec.bericht_codes
    }
    retours = {f"{int(code) + 1:03d}" for code in invoices if code.isdigit()}
    return frozenset(invoices | retours)


def _text(el: etree._Element) -> str:
    return el.text or ""


def _codes(el: etree._Element) -> tuple[str, ...]:
    return tuple(_text(c) for c in el)


def _amount(el: etree._Element) -> tuple[int, str]:
    """A CDT_BedragMetDC / CDT_TotaalBedragMetDC as (amount, DebetCredit)."""
    return int(_text(el[0])), _text(el[1])


class _Tags(NamedTuple):
    """Qualified names of the optional Prestatie children in the message's namespace."""

    allocation: str
    code: str
    tariff: str


def _tags(root: etree._Element) -> _Tags:
    tag = root.tag
    prefix = tag[: tag.index("}") + 1] if isinstance(tag, str) and tag.startswith("{") else ""
    return _Tags(f"{prefix}ToewijzingNummer", f"{prefix}ProductCode", f"{prefix}ProductTarief")


def _line(p: etree._Element, client: int, index: int, tags: _Tags, answer: bool) -> Line2x:
    c = list(p)
    ref = c[0]
    i = 1
    allocation = None
    if c[i].tag == tags.allocation:
        allocation = int(_text(c[i]))
        i += 1
    category = _text(c[i])
    i += 1
    code = None
    if c[i].tag == tags.code:
        code = _text(c[i])
        i += 1
    period, volume, unit = c[i], c[i + 1], c[i + 2]
    i += 3
    tariff = None
    if c[i].tag == tags.tariff:
        tariff = int(_text(c[i]))
        i += 1
    amount, debit_credit = _amount(c[i][0])  # IngediendeBedragPrestatie/DeclaratieFactuurBedrag
    return Line2x(
        client=client,
        position=index,
        reference=_text(ref[0]),
        previous_reference=_text(ref[1]) if len(ref) > 1 else None,
        allocation=allocation,
        category=category,
        code=code,
        period_start=to_date(period[0].text),
        period_end=to_date(period[1].text),
        volume=int(_text(volume)),
        unit=_text(unit),
        tariff=tariff,
        amount=amount,
        debit_credit=debit_credit,
        retourcodes=_codes(c[i + 2]) if answer else (),
        granted=_amount(c[i + 1][0]) if answer else None,  # ToegekendeBedragPrestatie/ToegekendBedrag
    )


def _clients(clienten: etree._Element, tags: _Tags, answer: bool) -> tuple[Client2x, ...]:
    out = []
    for ci, client in enumerate(clienten):
        parts = list(client)
        birth = parts[1]
        lines = tuple(_line(p, ci, pi, tags, answer) for pi, p in enumerate(parts[3]))
        out.append(
            Client2x(
                position=ci,
                bsn=_text(parts[0]),
                lines=lines,
                retourcodes=_codes(parts[4]) if answer else (),
                birth_date=to_date(birth[0].text),
                birth_date_use=_text(birth[1]) if len(birth) > 1 else None,
                gender=_text(parts[2]),
            )
        )
    return tuple(out)


def read_declaration_2x(root: etree._Element) -> Declaration2x:
    """Read a schema-valid JW303 / WMO303."""
    h = list(root[0])
    header = read_header(h, versions_at=8)
    period = h[6]
    total, total_dc = _amount(h[7][0])  # DeclaratieFactuurBedragen/DeclaratieFactuurTotaalBedrag
    return Declaration2x(
        header=header,
        number=header.message_id,
        period_start=to_date(period[0].text),
        period_end=to_date(period[1].text),
        declaration_date=header.message_date,
        total=total,
        total_dc=total_dc,
        clients=_clients(root[1], _tags(root), answer=False),
        invoice=header.bericht_code in invoice_codes(),
    )


def read_answer_2x(root: etree._Element) -> Answer2x:
    """Read a schema-valid JW304 / WMO304."""
    h = list(root[0])
    header = read_header(h, versions_at=8)
    period = h[6]
    amounts = h[7]  # RetourBedragen
    retour = list(root[1])
    versions = retour[2]
    return Answer2x(
        header=header,
        number=header.message_id,
        period_start=to_date(period[0].text),
        period_end=to_date(period[1].text),
        declaration_date=header.message_date,
        total_submitted=_amount(amounts[0]),
        total_granted=_amount(amounts[1]),
        retour_id=_text(retour[0]),
        retour_date=to_date(retour[1].text),
        retour_xsd_version=(_text(versions[0]), _text(versions[1])),
        retourcodes=_codes(retour[3]),
        clients=_clients(root[2], _tags(root), answer=True),
        invoice=header.bericht_code in invoice_codes(),
    )


def _nth(name: str, index: int, count: int) -> str:
    return f"{name}[{index + 1}]" if count > 1 else name


def client_path_2x(clients: tuple[Client2x, ...], client: int) -> str:
    """Path of a Client: ``/Bericht/Clienten/Client[2]`` (no position when there is one client)."""
    return f"{CONTAINER}/Clienten/{_nth('Client', client, len(clients))}"


def line_path_2x(clients: tuple[Client2x, ...], line: Line2x, leaf: str = "") -> str:
    """Path of a Prestatie, or of ``leaf`` below it (e.g. ``ProductPeriode/Einddatum``)."""
    prestatie = _nth("Prestatie", line.position, len(clients[line.client].lines))
    base = f"{client_path_2x(clients, line.client)}/Prestaties/{prestatie}"
    return f"{base}/{leaf}" if leaf else base


def declaration_subject_2x(root: etree._Element) -> Subject:
    """The rule subject of a schema-valid 2.x declaration or invoice (303).

    ``clients`` stays empty: the 3.2 line rules do not apply, and the 2.x rules walk the record itself.
    """
    d = read_declaration_2x(root)
    return Subject(d, CONTAINER, (), d.declaration_date)


def answer_subject_2x(root: etree._Element) -> Subject:
    """The rule subject of a schema-valid 2.x retour (304); its date is DagtekeningRetour."""
    a = read_answer_2x(root)
    return Subject(a, CONTAINER, (), a.retour_date)
