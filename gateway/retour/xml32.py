"""Write a JW325/WMO325 from an answer plan and the parsed 323 it answers.

The echoed parts (DeclaratieIdentificatie, XsdVersieDeclaratie, totals, rejected clients and lines) are
copied element by element from the parsed 323, so the provider gets back exactly what it sent (TR367):
only the message namespace changes. Comments and processing instructions were dropped at intake and are
never echoed.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from gateway.model import Declaration
from gateway.registry import MessageSpec
from gateway.retour.elements import ElementWriter
from gateway.retour.plan import ALL_GRANTED, NO_REMARKS, AnswerPlan
from gateway.rules.common import signed

__all__ = ["ANSWER_XSD_VERSION", "write_325"]

ANSWER_XSD_VERSION = ("1.0.0", "1.0.0")  # (BasisschemaXsdVersie, BerichtXsdVersie) of our 325 XSDs


def _header(
    w: ElementWriter,
    bericht: etree._Element,
    header_in: etree._Element,
    *,
    plan: AnswerPlan,
    answer: MessageSpec,
    message_id: str,
    today: date,
) -> None:
    header = etree.SubElement(bericht, w.m("Header"))
    w.leaf(header, w.m("BerichtCode"), answer.bericht_code)
    w.leaf(header, w.m("BerichtVersie"), "3")
    w.leaf(header, w.m("BerichtSubversie"), "2")
    w.leaf(header, w.m("Afzender"), header_in[4].text)  # the municipality answers ...
    w.leaf(header, w.m("Ontvanger"), header_in[3].text)  # ... the provider
    ident = etree.SubElement(header, w.m("BerichtIdentificatie"))
    w.leaf(ident, w.b("Identificatie"), message_id)
    w.leaf(ident, w.b("Dagtekening"), today.isoformat())
    versions = etree.SubElement(header, w.m("XsdVersie"))
    w.leaf(versions, w.b("BasisschemaXsdVersie"), ANSWER_XSD_VERSION[0])
    w.leaf(versions, w.b("BerichtXsdVersie"), ANSWER_XSD_VERSION[1])
    header.append(w.echo(header_in[5], "DeclaratieIdentificatie"))  # TR337
    header.append(w.echo(header_in[6], "XsdVersieDeclaratie"))  # TR371
    w.codes(header, plan.header_codes)


def _body(
    w: ElementWriter,
    bericht: etree._Element,
    body_in: etree._Element,
    *,
    declaration: Declaration,
    plan: AnswerPlan,
    declaration_codes: tuple[str, ...],
) -> None:
    answer_el = etree.SubElement(bericht, w.m("DeclaratieAntwoord"))
    answer_el.append(w.echo(body_in[0]))  # DeclaratieNummer (TR376)
    answer_el.append(w.echo(body_in[3]))  # TotaalIngediendBedrag
    granted = 0
    returned_clients: list[etree._Element] = []
    # A rejected Declaratie class grants nothing and returns no clients (its lines are not assessed).
    if declaration_codes[0] in (NO_REMARKS, ALL_GRANTED):
        for ci, (client_in, client) in enumerate(zip(body_in[4], declaration.clients, strict=True)):
            returned_lines: list[etree._Element] = []
            for li, (line_in, line) in enumerate(zip(client_in[1], client.lines, strict=True)):
                outcome = plan.line(ci, li)
                if outcome.granted:
                    granted += signed(line.amount, line.debit_credit)
                    continue
                echoed = w.echo(line_in)
                w.codes(echoed, outcome.codes)
                returned_lines.append(echoed)
            if returned_lines:
                client_el = etree.Element(w.m("Client"))
                client_el.append(w.echo(client_in[0]))  # Bsn
                etree.SubElement(client_el, w.m("Prestaties")).extend(returned_lines)
                w.codes(client_el, plan.clients.get(ci, (NO_REMARKS,)))
                returned_clients.append(client_el)
    w.amount(answer_el, w.m("TotaalToegekendBedrag"), granted)
    if returned_clients:
        etree.SubElement(answer_el, w.m("Clienten")).extend(returned_clients)
    w.codes(answer_el, declaration_codes)


def write_325(
    root: etree._Element,
    declaration: Declaration,
    plan: AnswerPlan,
    answer: MessageSpec,
    *,
    message_id: str,
    today: date,
) -> bytes:
    """The 325 bytes (UTF-8, XML declaration, no byte-order mark) answering ``root``, a schema-valid 323."""
    if not 1 <= len(message_id) <= 12:
        raise ValueError("a 325 message id has 1 to 12 characters")
    header_in, body_in = root[0], root[1]
    basis_ns = etree.QName(header_in[5][0]).namespace or ""  # of BerichtIdentificatie/Identificatie
    w = ElementWriter(etree.QName(root).namespace or "", answer.namespace, basis_ns)
    nsmap = {answer.name.lower(): answer.namespace, answer.standard: basis_ns}
    bericht = etree.Element(w.m("Bericht"), nsmap=nsmap)
    _header(w, bericht, header_in, plan=plan, answer=answer, message_id=message_id, today=today)
    if plan.declaration_codes is not None:
        _body(
            w, bericht, body_in, declaration=declaration, plan=plan, declaration_codes=plan.declaration_codes
        )
    etree.cleanup_namespaces(bericht, top_nsmap=nsmap)
    return etree.tostring(bericht, xml_declaration=True, encoding="UTF-8")
