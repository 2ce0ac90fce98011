"""Stage 3a: read an XSD-valid 3.2 message into immutable records for the business rules.

The schema stage has already fixed the structure, so values are read by position (which child is
which follows from the XSD sequence and the count of optional children). That keeps the extraction
cheap: it creates no tag strings and visits only the elements the rules need.

Paths for findings are built from the record indices with :func:`line_path` and friends, in the
canonical form of the interface contract (local names, 1-based position only where a name repeats).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from lxml import etree

__all__ = [
    "Answer",
    "AnswerBody",
    "Client",
    "Declaration",
    "Header",
    "Line",
    "client_path",
    "line_path",
    "read_answer",
    "read_declaration",
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


def _header(h: list[etree._Element]) -> Header:
    ident = h[5]
    versions = h[6]
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
    """Read a schema-valid 323 (fast path over the element texts, tree walk as the fallback)."""
    fast = _read_declaration_flat([e.text for e in root.iter()])
    return fast if fast is not None else _read_declaration_tree(root)


_dates: dict[str, date] = {}


def _cached_date(text: str) -> date:
    value = _dates.get(text)
    if value is None:
        if len(_dates) > 4096:
            _dates.clear()
        value = _dates[text] = to_date(text)
    return value


def _read_declaration_flat(t: list[str | None]) -> Declaration | None:
    """Decode the texts of every element in document order.

    With blank text removed at parse time, container elements have ``None`` text and leaves never do
    (every leaf of a valid 323 is non-empty), so optional children show up as a shift of the ``None``
    markers. Every container slot is checked; anything unexpected returns ``None`` (the caller then
    reads the tree), so a surprise can cost speed but never correctness.
    """
    n = len(t)
    if n < 40 or any(t[i] is not None for i in (0, 1, 7, 10, 13, 15, 19, 22)):
        return None
    day = _cached_date
    header = Header(
        t[2] or "", t[5] or "", t[6] or "", t[8] or "", day(t[9] or ""), (t[11] or "", t[12] or "")
    )
    clients: list[Client] = []
    i = 23
    ci = -1
    lines: list[Line] = []
    bsn = ""
    while True:
        if i >= n or (t[i] is None and i + 1 < n and t[i + 1] is not None):
            if ci >= 0:
                clients.append(Client(ci, bsn, tuple(lines), ()))
            if i >= n:
                break
            # a new Client: Client(None) Bsn Prestaties(None)
            if i + 3 >= n or t[i + 2] is not None:
                return None
            ci += 1
            bsn = t[i + 1] or ""
            lines = []
            i += 3
            continue
        # a Prestatie: Prestatie(None) ProductReferentie(None) ReferentieNummer [Vorig] ...
        if t[i] is not None or i + 13 >= n or t[i + 1] is not None:
            return None
        has_previous = t[i + 6] is not None
        j = i + 7 if has_previous else i + 6  # ProductPeriode container
        k = j + 5  # IngediendBedrag container, or ProductTarief when present
        has_tariff = t[k] is not None
        m = k + 1 if has_tariff else k
        if t[j] is not None or m + 2 >= n or t[m] is not None:
            return None
        o = i + 4 if has_previous else i + 3  # ToewijzingNummer; ProductCategorie and ProductCode follow
        lines.append(
            Line(
                ci,
                len(lines),
                t[i + 2] or "",
                t[i + 3] if has_previous else None,
                int(t[o] or ""),
                t[o + 1] or "",
                t[o + 2] or "",
                day(t[j + 1] or ""),
                day(t[j + 2] or ""),
                int(t[j + 3] or ""),
                t[j + 4] or "",
                int(t[k] or "") if has_tariff else None,
                int(t[m + 1] or ""),
                t[m + 2] or "",
                (),
            )
        )
        i = m + 3
    if not clients:
        return None
    return Declaration(
        header,
        t[14] or "",
        day(t[16] or ""),
        day(t[17] or ""),
        day(t[18] or ""),
        int(t[20] or ""),
        t[21] or "",
        tuple(clients),
    )


def _read_declaration_tree(root: etree._Element) -> Declaration:
    """Read a schema-valid 323 by walking the tree (robust to any text layout)."""
    header, decl = root[0], root[1]
    d = list(decl)
    period = d[1]
    total, total_dc = _amount(d[3])
    return Declaration(
        header=_header(list(header)),
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
        header=_header(h),
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
