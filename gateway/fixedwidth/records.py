"""Immutable records of a schema-valid EI file (JW321 / JW322), read from its canonical tree.

The business rules (:mod:`gateway.rules.jw321`) and the minimisation engine work on these. Field names
follow the layout (lower case: ``AGB_ZORGAANBIEDER`` -> ``agb_zorgaanbieder``); N fields that are amounts
or counts are ints, D fields are dates, blank optional AN fields are None. Every record knows its B.6 path
(``/JW321/R04[5]``) for findings. The retour fields of a JW322 are None in a JW321.

Privacy: these records hold BSNs, birth dates, DSM-IV codes and comment text. Never log or print them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import NamedTuple

from lxml import etree

from gateway.fixedwidth.layout import Layout
from gateway.model import Subject, to_date

__all__ = [
    "ClientRecord",
    "CommentRecord",
    "EiMessage",
    "HeaderRecord",
    "LineRecord",
    "TrailerRecord",
    "read_message",
    "subject_of",
]

_RETOURCODES = ("RETOURCODE_01", "RETOURCODE_02", "RETOURCODE_03")


class HeaderRecord(NamedTuple):
    """The 01 record (voorlooprecord)."""

    path: str
    line: int
    berichtcode: str
    soort_bericht: str
    agb_zorgaanbieder: str
    praktijkcode: str
    gemeentecode: str
    identificatie_bericht: str
    dagtekening: date
    factuurnummer: str
    begindatum_declaratieperiode: date
    einddatum_declaratieperiode: date
    identificatie_retour: str | None  # JW322
    dagtekening_retour: date | None  # JW322
    retourcodes: tuple[str, ...]  # JW322


class CommentRecord(NamedTuple):
    """A 98 record; ``vrije_tekst`` may hold anything, including a diagnosis."""

    path: str
    line: int
    identificatie_detailrecord: int
    regelnummer: int
    vrije_tekst: str
    retourcodes: tuple[str, ...]


class LineRecord(NamedTuple):
    """A 04 record (one DBC declaration line) with the comments that follow it."""

    path: str
    line: int
    identificatie_detailrecord: int
    bsn: str
    referentienummer: str
    vorig_referentienummer: str | None
    dbc_trajectnummer: str
    begindatum_dbc: date
    einddatum_dbc: date
    dbc_prestatiecode: str
    declaratiecode: str
    diagnosecode_dsm4: str | None
    type_verwijzer: str
    afsluitreden: str
    tarief: int
    declaratiebedrag: int
    indicatie_debet_credit: str
    comments: tuple[CommentRecord, ...]
    toegekend_bedrag: int | None  # JW322
    indicatie_debet_credit_toegekend: str | None  # JW322
    retourcodes: tuple[str, ...]  # JW322


class ClientRecord(NamedTuple):
    """A 02 record with its lines."""

    path: str
    line: int
    identificatie_detailrecord: int
    bsn: str
    geboortedatum: date
    geslacht: str
    lines: tuple[LineRecord, ...]
    retourcodes: tuple[str, ...]


class TrailerRecord(NamedTuple):
    """The 99 record (sluitrecord)."""

    path: str
    line: int
    aantal_clientrecords: int
    aantal_prestatierecords: int
    aantal_commentaarrecords: int
    totaal_aantal_detailrecords: int
    totaal_declaratiebedrag: int
    indicatie_debet_credit: str
    totaal_toegekend_bedrag: int | None  # JW322
    indicatie_debet_credit_toegekend: str | None  # JW322
    retourcodes: tuple[str, ...]


class EiMessage(NamedTuple):
    """A whole JW321 or JW322 file."""

    message_type: str
    header: HeaderRecord
    clients: tuple[ClientRecord, ...]
    trailer: TrailerRecord

    @property
    def lines(self) -> tuple[LineRecord, ...]:
        return tuple(line for client in self.clients for line in client.lines)

    @property
    def comments(self) -> tuple[CommentRecord, ...]:
        return tuple(c for line in self.lines for c in line.comments)

    def dedup_key(self) -> tuple[str, str, str]:
        """(AGB_ZORGAANBIEDER, BERICHTCODE, IDENTIFICATIE_BERICHT): legacy-formats.md D.4."""
        return (self.header.agb_zorgaanbieder, self.header.berichtcode, self.header.identificatie_bericht)


def _values(element: etree._Element, cut: int) -> dict[str, str]:
    """Field name -> text of a record element; ``cut`` is the length of the ``{namespace}`` prefix."""
    return {child.tag[cut:]: child.text or "" for child in element}


def _optional(values: Mapping[str, str], name: str) -> str | None:
    return values.get(name) or None


def _int_or_none(values: Mapping[str, str], name: str) -> int | None:
    text = values.get(name)
    return int(text) if text else None


def _date_or_none(values: Mapping[str, str], name: str) -> date | None:
    text = values.get(name)
    return to_date(text) if text else None


def _codes(values: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(values[name] for name in _RETOURCODES if values.get(name))


def _header(v: Mapping[str, str], path: str, line: int) -> HeaderRecord:
    return HeaderRecord(
        path=path,
        line=line,
        berichtcode=v["BERICHTCODE"],
        soort_bericht=v["SOORT_BERICHT"],
        agb_zorgaanbieder=v["AGB_ZORGAANBIEDER"],
        praktijkcode=v["PRAKTIJKCODE"],
        gemeentecode=v["GEMEENTECODE"],
        identificatie_bericht=v["IDENTIFICATIE_BERICHT"],
        dagtekening=to_date(v["DAGTEKENING"]),
        factuurnummer=v["FACTUURNUMMER"],
        begindatum_declaratieperiode=to_date(v["BEGINDATUM_DECLARATIEPERIODE"]),
        einddatum_declaratieperiode=to_date(v["EINDDATUM_DECLARATIEPERIODE"]),
        identificatie_retour=_optional(v, "IDENTIFICATIE_RETOUR"),
        dagtekening_retour=_date_or_none(v, "DAGTEKENING_RETOUR"),
        retourcodes=_codes(v),
    )


def _line(v: Mapping[str, str], path: str, line: int, comments: tuple[CommentRecord, ...]) -> LineRecord:
    return LineRecord(
        path=path,
        line=line,
        identificatie_detailrecord=int(v["IDENTIFICATIE_DETAILRECORD"]),
        bsn=v["BSN"],
        referentienummer=v["REFERENTIENUMMER"],
        vorig_referentienummer=_optional(v, "VORIG_REFERENTIENUMMER"),
        dbc_trajectnummer=v["DBC_TRAJECTNUMMER"],
        begindatum_dbc=to_date(v["BEGINDATUM_DBC"]),
        einddatum_dbc=to_date(v["EINDDATUM_DBC"]),
        dbc_prestatiecode=v["DBC_PRESTATIECODE"],
        declaratiecode=v["DECLARATIECODE"],
        diagnosecode_dsm4=_optional(v, "DIAGNOSECODE_DSM4"),
        type_verwijzer=v["TYPE_VERWIJZER"],
        afsluitreden=v["AFSLUITREDEN"],
        tarief=int(v["TARIEF"]),
        declaratiebedrag=int(v["DECLARATIEBEDRAG"]),
        indicatie_debet_credit=v["INDICATIE_DEBET_CREDIT"],
        comments=comments,
        toegekend_bedrag=_int_or_none(v, "TOEGEKEND_BEDRAG"),
        indicatie_debet_credit_toegekend=_optional(v, "INDICATIE_DEBET_CREDIT_TOEGEKEND"),
        retourcodes=_codes(v),
    )


def _trailer(v: Mapping[str, str], path: str, line: int) -> TrailerRecord:
    return TrailerRecord(
        path=path,
        line=line,
        aantal_clientrecords=int(v["AANTAL_CLIENTRECORDS"]),
        aantal_prestatierecords=int(v["AANTAL_PRESTATIERECORDS"]),
        aantal_commentaarrecords=int(v["AANTAL_COMMENTAARRECORDS"]),
        totaal_aantal_detailrecords=int(v["TOTAAL_AANTAL_DETAILRECORDS"]),
        totaal_declaratiebedrag=int(v["TOTAAL_DECLARATIEBEDRAG"]),
        indicatie_debet_credit=v["INDICATIE_DEBET_CREDIT"],
        totaal_toegekend_bedrag=_int_or_none(v, "TOTAAL_TOEGEKEND_BEDRAG"),
        indicatie_debet_credit_toegekend=_optional(v, "INDICATIE_DEBET_CREDIT_TOEGEKEND"),
        retourcodes=_codes(v),
    )


class _Client:
    """A client record under construction (its lines arrive after it)."""

    def __init__(self, values: dict[str, str], path: str, line: int) -> None:
        self.values, self.path, self.line = values, path, line
        self.lines: list[LineRecord] = []

    def done(self) -> ClientRecord:
        v = self.values
        return ClientRecord(
            path=self.path,
            line=self.line,
            identificatie_detailrecord=int(v["IDENTIFICATIE_DETAILRECORD"]),
            bsn=v["BSN"],
            geboortedatum=to_date(v["GEBOORTEDATUM"]),
            geslacht=v["GESLACHT"],
            lines=tuple(self.lines),
            retourcodes=_codes(v),
        )


def read_message(root: etree._Element, layout: Layout) -> EiMessage:
    """Read a **schema-valid** canonical tree (structure and formats already checked by the XSD)."""
    message = layout.message
    roles = {f"{{{layout.namespace}}}{r.tag}": (r.role, r.type) for r in layout.records.values()}
    cut = len(layout.namespace) + 2
    header: HeaderRecord | None = None
    trailer: TrailerRecord | None = None
    clients: list[ClientRecord] = []
    client: _Client | None = None
    pending: tuple[dict[str, str], str, int] | None = None  # a line waiting for its comments
    comments: list[CommentRecord] = []

    def flush_line() -> None:
        nonlocal pending, comments
        if pending is not None and client is not None:
            client.lines.append(_line(pending[0], pending[1], pending[2], tuple(comments)))
        pending, comments = None, []

    for element in root:
        role, rtype = roles[element.tag]
        line = int(element.get("line") or 0)
        path = f"/{message}/R{rtype}[{line}]"
        values = _values(element, cut)
        if role == "comment":
            comments.append(
                CommentRecord(
                    path,
                    line,
                    int(values["IDENTIFICATIE_DETAILRECORD"]),
                    int(values[layout.comment_field]),
                    values["VRIJE_TEKST"],
                    _codes(values),
                )
            )
            continue
        flush_line()
        if role == "header":
            header = _header(values, path, line)
        elif role == "client":
            if client is not None:
                clients.append(client.done())
            client = _Client(values, path, line)
        elif role == "line":
            pending = (values, path, line)
        else:
            if client is not None:
                clients.append(client.done())
                client = None
            trailer = _trailer(values, path, line)
    if header is None or trailer is None:
        raise ValueError("the tree is not a schema-valid EI file (header or trailer missing)")
    return EiMessage(message, header, tuple(clients), trailer)


def subject_of(message: EiMessage) -> Subject:
    """The rule subject: the file record, its root path, no 3.2 clients, the declaration date."""
    return Subject(message, f"/{message.message_type}", (), message.header.dagtekening)
