"""Write a JW304/WMO304 (2.x retour) from an answer plan and the parsed 303 it answers.

A 2.x retour echoes the whole 303 (legacy-formats.md A.4): every client and line, copied element by
element into the 304 namespace, with the retour data added: ``RetourBedragen`` in place of
``DeclaratieFactuurBedragen``, a ``RetourHeader`` after the header, and per line the granted amount and
its codes. The gateway grants a line in full or not at all (it never approves part of a line), so a
granted line carries its own amount with ``0200`` and a rejected one 0 with its rule codes.
"""

from __future__ import annotations

import copy
from datetime import date

from lxml import etree

from gateway.model_2x import Declaration2x
from gateway.registry import MessageSpec
from gateway.retour.elements import ElementWriter
from gateway.retour.plan import NO_REMARKS, NOT_ASSESSED, AnswerPlan
from gateway.rules.common import signed

__all__ = ["RETOUR_XSD_VERSION", "write_304"]

RETOUR_XSD_VERSION = ("2.1.0", "2.1.0")  # (BasisschemaXsdVersie, BerichtXsdVersie) of our 304 XSDs
_MAX_CODES = 3  # RetourCodes holds one to three codes in 2.x


def _header(w: ElementWriter, bericht: etree._Element, header_in: etree._Element) -> etree._Element:
    """The echoed header with the retour BerichtCode; returns the RetourBedragen element to complete."""
    header = etree.SubElement(bericht, w.m("Header"))
    w.leaf(header, w.m("BerichtCode"), str(int(header_in[0].text or "0") + 1))  # retour = heen + 1
    for element in list(header_in)[1:7]:  # versions, parties, DeclaratieFactuurIdentificatie, period
        header.append(w.echo(element))
    bedragen = etree.SubElement(header, w.m("RetourBedragen"))
    submitted = copy.deepcopy(header_in[7][0])  # DeclaratieFactuurTotaalBedrag (basisschema)
    submitted.tag = w.b("IngediendTotaalBedrag")
    bedragen.append(submitted)
    header.append(w.echo(header_in[8]))  # XsdVersie
    return bedragen


def _retour_header(
    w: ElementWriter, bericht: etree._Element, plan: AnswerPlan, message_id: str, today: date
) -> None:
    retour_header = etree.SubElement(bericht, w.m("RetourHeader"))
    w.leaf(retour_header, w.m("IdentificatieRetour"), message_id)
    w.leaf(retour_header, w.m("DagtekeningRetour"), today.isoformat())
    versions = etree.SubElement(retour_header, w.m("XsdVersieRetour"))
    w.leaf(versions, w.b("BasisschemaXsdVersie"), RETOUR_XSD_VERSION[0])
    w.leaf(versions, w.b("BerichtXsdVersie"), RETOUR_XSD_VERSION[1])
    w.codes(retour_header, plan.header_codes, _MAX_CODES)


def _clients(
    w: ElementWriter,
    bericht: etree._Element,
    clients_in: etree._Element,
    declaration: Declaration2x,
    plan: AnswerPlan,
) -> int:
    """Every client and line echoed with its outcome; returns the signed granted total."""
    granted_total = 0
    clienten = etree.SubElement(bericht, w.m("Clienten"))
    for ci, (client_in, client) in enumerate(zip(clients_in, declaration.clients, strict=True)):
        client_el = etree.SubElement(clienten, w.m("Client"))
        for element in list(client_in)[:3]:  # Bsn, Geboortedatum, Geslacht
            client_el.append(w.echo(element))
        prestaties = etree.SubElement(client_el, w.m("Prestaties"))
        for li, (line_in, line) in enumerate(zip(client_in[3], client.lines, strict=True)):
            prestatie = w.echo(line_in)
            outcome = plan.line(ci, li)
            granted = signed(line.amount, line.debit_credit) if outcome.granted else 0
            granted_total += granted
            toegekend = etree.SubElement(prestatie, w.m("ToegekendeBedragPrestatie"))
            w.amount(toegekend, w.b("ToegekendBedrag"), granted, inner="Bedrag")
            w.codes(prestatie, outcome.codes, _MAX_CODES)
            prestaties.append(prestatie)
        client_codes = (NOT_ASSESSED,) if plan.rejected_as_a_whole else plan.clients.get(ci, (NO_REMARKS,))
        w.codes(client_el, client_codes, _MAX_CODES)
    return granted_total


def write_304(
    root: etree._Element,
    declaration: Declaration2x,
    plan: AnswerPlan,
    answer: MessageSpec,
    *,
    message_id: str,
    today: date,
) -> bytes:
    """The 304 bytes answering ``root``, a schema-valid 303."""
    header_in, clients_in = root[0], root[1]
    basis_ns = etree.QName(header_in[5][0]).namespace or ""  # DeclaratieFactuurIdentificatie's child
    w = ElementWriter(etree.QName(root).namespace or "", answer.namespace, basis_ns)
    nsmap = {answer.name.lower(): answer.namespace, answer.standard: basis_ns}
    bericht = etree.Element(w.m("Bericht"), nsmap=nsmap)
    bedragen = _header(w, bericht, header_in)
    _retour_header(w, bericht, plan, message_id, today)
    granted = _clients(w, bericht, clients_in, declaration, plan)
    w.amount(bedragen, w.b("ToegekendTotaalBedrag"), granted)
    etree.cleanup_namespaces(bericht, top_nsmap=nsmap)
    return etree.tostring(bericht, xml_declaration=True, encoding="UTF-8")
