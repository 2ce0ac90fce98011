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


def _escaped(text: str | None) -> str:
    """Element text as lxml serialises it (``&``, ``<``, ``>`` and carriage returns escaped)."""
    value = text or ""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def _codes_text(p: str, codes: tuple[str, ...]) -> str:
    inner = "".join(f"<{p}:RetourCode>{_escaped(c)}</{p}:RetourCode>" for c in codes)
    return f"<{p}:RetourCodes>{inner}</{p}:RetourCodes>"


def _template_325(
    root: etree._Element,
    declaration: Declaration,
    plan: AnswerPlan,
    answer: MessageSpec,
    *,
    basis_ns: str,
    message_id: str,
    today: date,
) -> bytes:
    """The 325 when it returns no clients (all granted, or rejected as a whole / at Declaratie level).

    The same bytes the element-by-element writer produces (a test holds the two to that), built from a
    template: this is the common answer, and building it element by element costs more than validating.
    """
    header_in, body_in = root[0], root[1]
    p, s = answer.name.lower(), answer.standard
    ident, versions = header_in[5], header_in[6]
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<{p}:Bericht xmlns:{p}="{answer.namespace}" xmlns:{s}="{basis_ns}">',
        f"<{p}:Header><{p}:BerichtCode>{answer.bericht_code}</{p}:BerichtCode>",
        f"<{p}:BerichtVersie>3</{p}:BerichtVersie><{p}:BerichtSubversie>2</{p}:BerichtSubversie>",
        f"<{p}:Afzender>{_escaped(header_in[4].text)}</{p}:Afzender>",
        f"<{p}:Ontvanger>{_escaped(header_in[3].text)}</{p}:Ontvanger>",
        f"<{p}:BerichtIdentificatie><{s}:Identificatie>{_escaped(message_id)}</{s}:Identificatie>",
        f"<{s}:Dagtekening>{today.isoformat()}</{s}:Dagtekening></{p}:BerichtIdentificatie>",
        f"<{p}:XsdVersie><{s}:BasisschemaXsdVersie>{ANSWER_XSD_VERSION[0]}</{s}:BasisschemaXsdVersie>",
        f"<{s}:BerichtXsdVersie>{ANSWER_XSD_VERSION[1]}</{s}:BerichtXsdVersie></{p}:XsdVersie>",
        f"<{p}:DeclaratieIdentificatie><{s}:Identificatie>{_escaped(ident[0].text)}</{s}:Identificatie>",
        f"<{s}:Dagtekening>{_escaped(ident[1].text)}</{s}:Dagtekening></{p}:DeclaratieIdentificatie>",
        f"<{p}:XsdVersieDeclaratie><{s}:BasisschemaXsdVersie>{_escaped(versions[0].text)}"
        f"</{s}:BasisschemaXsdVersie><{s}:BerichtXsdVersie>{_escaped(versions[1].text)}"
        f"</{s}:BerichtXsdVersie></{p}:XsdVersieDeclaratie>",
        _codes_text(p, plan.header_codes),
        f"</{p}:Header>",
    ]
    if plan.declaration_codes is not None:
        total = body_in[3]
        granted = 0
        if plan.declaration_codes[0] in (NO_REMARKS, ALL_GRANTED):
            granted = sum(signed(ln.amount, ln.debit_credit) for c in declaration.clients for ln in c.lines)
        parts += [
            f"<{p}:DeclaratieAntwoord><{p}:DeclaratieNummer>{_escaped(body_in[0].text)}</{p}:DeclaratieNummer>",
            f"<{p}:TotaalIngediendBedrag><{s}:TotaalBedrag>{_escaped(total[0].text)}</{s}:TotaalBedrag>",
            f"<{s}:DebetCredit>{_escaped(total[1].text)}</{s}:DebetCredit></{p}:TotaalIngediendBedrag>",
            f"<{p}:TotaalToegekendBedrag><{s}:TotaalBedrag>{abs(granted)}</{s}:TotaalBedrag>",
            f"<{s}:DebetCredit>{'C' if granted < 0 else 'D'}</{s}:DebetCredit></{p}:TotaalToegekendBedrag>",
            _codes_text(p, plan.declaration_codes),
            f"</{p}:DeclaratieAntwoord>",
        ]
    parts.append(f"</{p}:Bericht>")
    return "".join(parts).encode("utf-8")


def write_325(
    root: etree._Element,
    declaration: Declaration,
    plan: AnswerPlan,
    answer: MessageSpec,
    *,
    message_id: str,
    today: date,
    by_element: bool = False,
) -> bytes:
    """The 325 bytes (UTF-8, XML declaration, no byte-order mark) answering ``root``, a schema-valid 323."""
    if not 1 <= len(message_id) <= 12:
        raise ValueError("a 325 message id has 1 to 12 characters")
    header_in, body_in = root[0], root[1]
    basis_ns = etree.QName(header_in[5][0]).namespace or ""  # of BerichtIdentificatie/Identificatie
    if not by_element and not plan.clients and not plan.lines:  # no client is returned: the common answer
        return _template_325(
            root, declaration, plan, answer, basis_ns=basis_ns, message_id=message_id, today=today
        )
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
