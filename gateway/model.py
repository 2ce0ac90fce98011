"""Stage 3a: read an XSD-valid 3.2 message into immutable records for the business rules.

The schema stage has already fixed the structure, so values are read by position (which child is
which follows from the XSD sequence and the count of optional children). That keeps the extraction
cheap: it creates no tag strings and visits only the elements the rules need.

Paths for findings are built from the record indices with :func:`line_path` and friends, in the
canonical form of the interface contract (local names, 1-based position only where a name repeats).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import NamedTuple, cast

from lxml import etree

__all__ = [
    "Answer",
    "AnswerBody",
    "Client",
    "Context",
    "Declaration",
    "Header",
    "Line",
    "Subject",
    "answer_subject",
    "client_path",
    "declaration_subject",
    "line_path",
    "read_answer",
    "read_declaration",
    "read_header",
    "to_date",
]


class Header(NamedTuple):
    bericht_code: str
    sender: str
    receiver: str
    message_id: str
    message_date: date
    xsd_version: tuple[str, str]


class Line(NamedTuple):
    """One Prestatie. ``client`` and ``position`` are 0-based positions, used only to build paths."""

    client: int
    position: int
    reference: str
    previous_reference: str | None
    allocation: int
    category: str
    code: str
    period_start: date
    period_end: date
    volume: int
    unit: str
    tariff: int | None
    amount: int
    debit_credit: str
    retourcodes: tuple[str, ...]


class Client(NamedTuple):
    position: int
    bsn: str
    lines: tuple[Line, ...]
    retourcodes: tuple[str, ...]


class Declaration(NamedTuple):
    """A JW323 / WMO323."""

    header: Header
    number: str
    period_start: date
    period_end: date
    declaration_date: date
    total: int
    total_dc: str
    clients: tuple[Client, ...]

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(line for client in self.clients for line in client.lines)

    def dedup_key(self) -> tuple[str, str, str]:
        """(Afzender, BerichtCode, Identificatie): a redelivered message has the same key (TR056)."""
        return (self.header.sender, self.header.bericht_code, self.header.message_id)


class AnswerBody(NamedTuple):
    number: str
    total_submitted: tuple[int, str]
    total_granted: tuple[int, str]
    clients: tuple[Client, ...]
    retourcodes: tuple[str, ...]


class Answer(NamedTuple):
    """A JW325 / WMO325."""

    header: Header
    declaration_id: tuple[str, date]
    xslt_version: str | None
    declaration_xsd_version: tuple[str, str]
    header_retourcodes: tuple[str, ...]
    body: AnswerBody | None

    def dedup_key(self) -> tuple[str, str, str]:
        """(Afzender, BerichtCode, Identificatie) of the answer."""
        return (self.header.sender, self.header.bericht_code, self.header.message_id)


class Subject(NamedTuple):
    """What a rule looks at: the message read into records, plus where its lines live.

    ``message`` is the record of the whole message (a :class:`Declaration`, an :class:`Answer`, or the
    record type of another release); ``clients`` are its clients with their lines (empty for a message
    without lines); ``container`` is the path of the element that holds ``Clienten``.
    """

    message: object
    container: str
    clients: tuple[Client, ...]
    message_date: date


class Context(NamedTuple):
    """What a rule may need from outside the message: the clock, and for echo rules the answered 323."""

    today: date
    declaration: Declaration | None = None


def to_date(text: str | None) -> date:
    """An xs:date without time zone (already schema-checked) as a ``date``.

    Years outside 1..9999 are legal in XSD but not representable; they map to ``date.min``/``date.max``
    so that the date rules reject them instead of crashing.
    """
    value = (text or "").strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        return date.min if value.startswith("-") else date.max


def _text(el: etree._Element) -> str:
    return el.text or ""


def read_header(h: list[etree._Element], versions_at: int = 6) -> Header:
    """The Header record from the header's children (XsdVersie is child 6 in 3.2, child 8 in 2.x)."""
    ident = h[5]
    versions = h[versions_at]
    return Header(
        bericht_code=_text(h[0]),
        sender=_text(h[3]),
        receiver=_text(h[4]),
        message_id=_text(ident[0]),
        message_date=to_date(ident[1].text),
        xsd_version=(_text(versions[0]), _text(versions[1])),
    )


def _codes(el: etree._Element) -> tuple[str, ...]:
    return tuple(_text(c) for c in el)


def _line(p: etree._Element, client: int, index: int, answer: bool) -> Line:
    c = list(p)
    ref = c[0]
    has_previous = len(ref) > 1
    has_tariff = len(c) == (10 if answer else 9)
    period = c[4]
    amount = c[8] if has_tariff else c[7]
    return Line(
        client=client,
        position=index,
        reference=_text(ref[0]),
        previous_reference=_text(ref[1]) if has_previous else None,
        allocation=int(_text(c[1])),
        category=_text(c[2]),
        code=_text(c[3]),
        period_start=to_date(period[0].text),
        period_end=to_date(period[1].text),
        volume=int(_text(c[5])),
        unit=_text(c[6]),
        tariff=int(_text(c[7])) if has_tariff else None,
        amount=int(_text(amount[0])),
        debit_credit=_text(amount[1]),
        retourcodes=_codes(c[-1]) if answer else (),
    )


def _clients(clienten: etree._Element, answer: bool) -> tuple[Client, ...]:
    out = []
    for ci, client in enumerate(clienten):
        parts = list(client)
        prestaties = parts[1]
        lines = tuple(_line(p, ci, pi, answer) for pi, p in enumerate(prestaties))
        out.append(Client(ci, _text(parts[0]), lines, _codes(parts[2]) if answer else ()))
    return tuple(out)


def _amount(el: etree._Element) -> tuple[int, str]:
    return int(_text(el[0])), _text(el[1])


def read_declaration(root: etree._Element) -> Declaration:
    """Read a schema-valid 323 (fast path over the leaf texts, tree walk as the fallback)."""
    try:
        fast = _read_declaration_leaves(_leaf_texts(root), [len(client[1]) for client in root[1][4]])
    except (IndexError, ValueError):
        fast = None
    return fast if fast is not None else _read_declaration_tree(root)


_local = threading.local()
_dates: dict[str, date] = {}
_DEBIT_CREDIT = frozenset({"C", "D"})
_MAX_PRODUCT_CODE = 5  # LDT_ProductCode maxLength; an xs:date is at least 10 characters


def _leaf_texts(root: etree._Element) -> list[str]:
    """Every text node in document order, as plain strings (one XPath call, no element proxies).

    The parser drops blank text between elements and merges CDATA, character references and the text
    around dropped comments, so a schema-valid message has exactly one text node per leaf element.
    """
    xpath: etree.XPath | None = getattr(_local, "texts", None)
    if xpath is None:
        xpath = _local.texts = etree.XPath("descendant::text()", smart_strings=False)
    return cast("list[str]", xpath(root))


def _cached_date(text: str) -> date:
    value = _dates.get(text)
    if value is None:
        if len(_dates) > 4096:
            _dates.clear()
        value = _dates[text] = to_date(text)
    return value


def _read_declaration_leaves(t: list[str], counts: list[int]) -> Declaration | None:
    """Decode the leaf texts of a 323, given the number of Prestaties of each client.

    The 15 header and declaration leaves are fixed. In a Prestatie, VorigReferentieNummer is present when
    the fifth leaf is a ProductCode (at most 5 characters) rather than a date, and ProductTarief is absent
    when the leaf two after Eenheid is already a DebetCredit. Returns None if the texts are not used up
    exactly, so any surprise falls back to the tree walk.
    """
    day = _cached_date
    debit_credit = _DEBIT_CREDIT
    i = 15
    clients: list[Client] = []
    for ci, count in enumerate(counts):
        bsn = t[i]
        i += 1
        lines: list[Line] = []
        for pi in range(count):
            if len(t[i + 4]) > _MAX_PRODUCT_CODE:
                previous, o = None, i + 1
            else:
                previous, o = t[i + 1], i + 2
            unit = o + 6
            if t[unit + 2] in debit_credit:
                tariff, a = None, unit + 1
            else:
                tariff, a = int(t[unit + 1]), unit + 2
            lines.append(
                Line(
                    ci,
                    pi,
                    t[i],
                    previous,
                    int(t[o]),
                    t[o + 1],
                    t[o + 2],
                    day(t[o + 3]),
                    day(t[o + 4]),
                    int(t[o + 5]),
                    t[unit],
                    tariff,
                    int(t[a]),
                    t[a + 1],
                    (),
                )
            )
            i = a + 2
        clients.append(Client(ci, bsn, tuple(lines), ()))
    if i != len(t) or not clients:
        return None
    header = Header(t[0], t[3], t[4], t[5], day(t[6]), (t[7], t[8]))
    return Declaration(header, t[9], day(t[10]), day(t[11]), day(t[12]), int(t[13]), t[14], tuple(clients))


def _read_declaration_tree(root: etree._Element) -> Declaration:
    """Read a schema-valid 323 by walking the tree (robust to any text layout)."""
    header, decl = root[0], root[1]
    d = list(decl)
    period = d[1]
    total, total_dc = _amount(d[3])
    return Declaration(
        header=read_header(list(header)),
        number=_text(d[0]),
        period_start=to_date(period[0].text),
        period_end=to_date(period[1].text),
        declaration_date=to_date(d[2].text),
        total=total,
        total_dc=total_dc,
        clients=_clients(d[4], answer=False),
    )


def read_answer(root: etree._Element) -> Answer:
    """Read a schema-valid 325."""
    h = list(root[0])
    # Header: 7 common children, DeclaratieIdentificatie, [XsltVersie], XsdVersieDeclaratie, RetourCodes
    has_xslt = len(h) == 11
    decl_id = h[7]
    decl_xsd = h[9] if has_xslt else h[8]
    body: AnswerBody | None = None
    if len(root) > 1:
        b = list(root[1])
        has_clients = len(b) == 5
        body = AnswerBody(
            number=_text(b[0]),
            total_submitted=_amount(b[1]),
            total_granted=_amount(b[2]),
            clients=_clients(b[3], answer=True) if has_clients else (),
            retourcodes=_codes(b[-1]),
        )
    return Answer(
        header=read_header(h),
        declaration_id=(_text(decl_id[0]), to_date(decl_id[1].text)),
        xslt_version=_text(h[8]) if has_xslt else None,
        declaration_xsd_version=(_text(decl_xsd[0]), _text(decl_xsd[1])),
        header_retourcodes=_codes(h[-1]),
        body=body,
    )


def _nth(name: str, index: int, count: int) -> str:
    return f"{name}[{index + 1}]" if count > 1 else name


def client_path(container: str, clients: tuple[Client, ...], client: int) -> str:
    """Path of a Client; ``container`` is ``/Bericht/Declaratie`` or ``/Bericht/DeclaratieAntwoord``."""
    return f"{container}/Clienten/{_nth('Client', client, len(clients))}"


def line_path(container: str, clients: tuple[Client, ...], line: Line, leaf: str = "") -> str:
    """Path of a Prestatie (or of ``leaf`` below it, e.g. ``IngediendBedrag/Bedrag``)."""
    count = len(clients[line.client].lines)
    prestatie = _nth("Prestatie", line.position, count)
    base = f"{client_path(container, clients, line.client)}/Prestaties/{prestatie}"
    return f"{base}/{leaf}" if leaf else base


def declaration_subject(root: etree._Element) -> Subject:
    """The rule subject of a schema-valid 3.2 declaration (323)."""
    d = read_declaration(root)
    return Subject(d, "/Bericht/Declaratie", d.clients, d.header.message_date)


def answer_subject(root: etree._Element) -> Subject:
    """The rule subject of a schema-valid 3.2 answer (325)."""
    a = read_answer(root)
    clients = a.body.clients if a.body is not None else ()
    return Subject(a, "/Bericht/DeclaratieAntwoord", clients, a.header.message_date)
