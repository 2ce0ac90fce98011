"""Named mutations of valid 3.2 messages for the differential schema conformance test.

Each mutation takes the bytes of a valid message and its type name (``JW323``, ``JW325``, ``WMO323``,
``WMO325``) and returns the mutated bytes, or ``None`` when it does not apply to that message (for
example removing ``XsltVersie`` from a message without one). Most mutations work on the lxml tree; a few
work on the text because the tree cannot express them (character references).

``expect`` documents what the official schemas do with the mutation:

* ``reject``: the official schema rejects it for at least one message of the corpus (it may accept it
  for other types, e.g. a ``-`` in DeclaratieNummer is invalid in a 323 but valid in a 325);
* ``accept``: an accept-case: the official schema accepts every mutated message (CDATA, comments,
  ``+0010072`` as an integer, optional elements left out, ...). These guard against a schema of ours
  that is stricter than the official one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from lxml import etree

Expect = Literal["reject", "accept"]
Apply = Callable[[bytes, str], bytes | None]
TreeEdit = Callable[[etree._Element, str], bool]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
FOREIGN_NS = "urn:example:not-istandaarden"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True, slots=True)
class Mutation:
    """A named change applied to a valid message."""

    name: str
    apply: Apply
    expect: Expect = "reject"
    note: str = ""


def family_of(kind: str) -> str:
    """``ijw`` or ``iwmo`` for a type name such as ``JW325``."""
    return "ijw" if kind.startswith("JW") else "iwmo"


def parse(data: bytes) -> etree._Element:
    """Parse message bytes without entity expansion or network access."""
    return etree.fromstring(data, _PARSER)


def serialise(root: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def on_tree(edit: TreeEdit) -> Apply:
    """Lift an in-place tree edit (returning False when not applicable) to a byte mutation."""

    def apply(data: bytes, kind: str) -> bytes | None:
        root = parse(data)
        return serialise(root) if edit(root, kind) else None

    return apply


def find(root: etree._Element, local: str) -> etree._Element | None:
    """First element with this local name in document order, in any namespace."""
    return next(root.iter(f"{{*}}{local}"), None)


def namespace(el: etree._Element) -> str:
    ns = etree.QName(el).namespace
    assert ns is not None
    return ns


def basis_ns(root: etree._Element) -> str:
    """Namespace of the basisschema children (taken from the first Identificatie)."""
    ident = find(root, "Identificatie")
    assert ident is not None
    return namespace(ident)


# --------------------------------------------------------------------------------------------------
# Generic edits


def remove(local: str) -> TreeEdit:
    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, local)
        if el is None:
            return False
        parent = el.getparent()
        assert parent is not None
        parent.remove(el)
        return True

    return edit


def set_text(local: str, value: str | Callable[[str, str], str]) -> TreeEdit:
    """Replace the text of the first ``local`` element; ``value`` may depend on (old text, kind)."""

    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, local)
        if el is None:
            return False
        el.text = value if isinstance(value, str) else value(el.text or "", kind)
        return True

    return edit


def duplicate(local: str) -> TreeEdit:
    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, local)
        if el is None:
            return False
        el.addnext(copy.deepcopy(el))
        return True

    return edit


def swap(first: str, second: str) -> TreeEdit:
    """Exchange the positions of two siblings (the first ``first`` element and its ``second`` sibling)."""

    def edit(root: etree._Element, kind: str) -> bool:
        a = find(root, first)
        if a is None:
            return False
        parent = a.getparent()
        assert parent is not None
        b = next(parent.iterchildren(f"{{*}}{second}"), None)
        if b is None:
            return False
        ia, ib = parent.index(a), parent.index(b)
        parent.remove(b)
        parent.insert(ia, b)
        parent.remove(a)
        parent.insert(ib, a)
        return True

    return edit


def move_after(local: str, anchor: str) -> TreeEdit:
    """Move the first ``local`` element to just after its sibling ``anchor``."""

    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, local)
        if el is None:
            return False
        parent = el.getparent()
        assert parent is not None
        target = next(parent.iterchildren(f"{{*}}{anchor}"), None)
        if target is None:
            return False
        target.addnext(el)
        return True

    return edit


def empty_children(container: str) -> TreeEdit:
    """Remove every child element of the first ``container`` (e.g. Clienten without Client)."""

    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, container)
        if el is None:
            return False
        for child in list(el):
            el.remove(child)
        return True

    return edit


def rename_ns(local: str, target: Literal["message", "basis", "none"]) -> TreeEdit:
    """Put the first ``local`` element into another namespace."""

    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, local)
        if el is None:
            return False
        if target == "message":
            ns: str | None = namespace(root)
        elif target == "basis":
            ns = basis_ns(root)
        else:
            ns = None
        el.tag = etree.QName(ns, local).text
        return True

    return edit


def relocate_namespaces(change: Callable[[str], str]) -> TreeEdit:
    """Rewrite the namespace of every element with ``change``."""

    def edit(root: etree._Element, kind: str) -> bool:
        for el in root.iter(etree.Element):
            qn = etree.QName(el)
            if qn.namespace is not None:
                el.tag = etree.QName(change(qn.namespace), qn.localname).text
        return True

    return edit


def insert_into(parent_local: str, make: Callable[[etree._Element], etree._Element], index: int) -> TreeEdit:
    """Insert a new node (element, comment or PI) into the first ``parent_local`` at ``index``."""

    def edit(root: etree._Element, kind: str) -> bool:
        parent = find(root, parent_local)
        if parent is None:
            return False
        node = make(root)
        node.tail = parent[0].tail if len(parent) else None
        parent.insert(index if index >= 0 else len(parent), node)
        return True

    return edit


def set_attribute(local: str, name: str, value: str | Callable[[etree._Element], str]) -> TreeEdit:
    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, local)
        if el is None:
            return False
        el.set(name, value if isinstance(value, str) else value(root))
        return True

    return edit


# --------------------------------------------------------------------------------------------------
# Specific edits


def _other_family_code(old: str, kind: str) -> str:
    return {"490": "484", "484": "490", "491": "485", "485": "491"}[old]


def _other_kind_code(old: str, kind: str) -> str:
    return {"490": "491", "491": "490", "484": "485", "485": "484"}[old]


def _other_family_category(old: str, kind: str) -> str:
    return "01" if family_of(kind) == "ijw" else "45"


def _padded(old: str, kind: str) -> str:
    return f"  {old}\n\t"


def _xslt_in_323(root: etree._Element, kind: str) -> bool:
    if not kind.endswith("323"):
        return False
    header = find(root, "Header")
    assert header is not None
    el = etree.SubElement(header, etree.QName(namespace(root), "XsltVersie").text)
    el.text = "1.0.0"
    return True


def _add_xslt(root: etree._Element, kind: str) -> bool:
    if not kind.endswith("325") or find(root, "XsltVersie") is not None:
        return False
    anchor = find(root, "DeclaratieIdentificatie")
    assert anchor is not None
    el = etree.Element(etree.QName(namespace(root), "XsltVersie").text)
    el.text = "2.1.0"
    anchor.addnext(el)
    return True


def _xsi_nil(empty: bool) -> TreeEdit:
    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, "Afzender")
        assert el is not None
        el.set(f"{{{XSI}}}nil", "true")
        if empty:
            el.text = None
        return True

    return edit


def _xsi_type(type_name: str) -> TreeEdit:
    def edit(root: etree._Element, kind: str) -> bool:
        el = find(root, "Bedrag")
        if el is None:
            return False
        prefix = el.prefix
        assert prefix is not None  # the basisschema children always carry a prefix in our corpus
        el.set(f"{{{XSI}}}type", f"{prefix}:{type_name}")
        return True

    return edit


def _cdata(root: etree._Element, kind: str) -> bool:
    el = find(root, "Afzender")
    assert el is not None
    assert el.text is not None
    el.text = etree.CDATA(el.text)
    return True


def _comment_in_value(root: etree._Element, kind: str) -> bool:
    el = find(root, "Afzender")
    assert el is not None
    assert el.text is not None
    head, tail = el.text[:2], el.text[2:]
    el.text = head
    comment = etree.Comment(" split value ")
    comment.tail = tail
    el.append(comment)
    return True


def _char_reference(data: bytes, kind: str) -> bytes | None:
    """Write the first digit of Afzender as a numeric character reference."""
    root = parse(data)
    el = find(root, "Afzender")
    assert el is not None
    assert el.text is not None
    value = el.text
    el.text = "@@VALUE@@"
    return serialise(root).replace(b"@@VALUE@@", f"&#{ord(value[0])};{value[1:]}".encode(), 1)


def _rename_prefix(data: bytes, kind: str) -> bytes | None:
    """Use the prefix ``m`` instead of ``jw323:`` etc. (only for prefixed messages)."""
    root = parse(data)
    prefix = root.prefix
    if prefix is None:
        return None
    return (
        data.replace(f"<{prefix}:".encode(), b"<m:")
        .replace(f"</{prefix}:".encode(), b"</m:")
        .replace(f"xmlns:{prefix}=".encode(), b"xmlns:m=", 1)
    )


def _foreign_element(root: etree._Element) -> etree._Element:
    el = etree.Element(f"{{{FOREIGN_NS}}}Extra", nsmap={"x": FOREIGN_NS})
    el.text = "1"
    return el


def _same_family_element(local: str, text: str) -> Callable[[etree._Element], etree._Element]:
    def make(root: etree._Element) -> etree._Element:
        el = etree.Element(etree.QName(namespace(root), local).text)
        el.text = text
        return el

    return make


def _to_release_31(ns: str) -> str:
    return ns.replace("/3_2/", "/3_1/")


def _to_other_basis(ns: str) -> str:
    if ns.endswith("/basisschema/schema"):
        return ns.replace("/ijw/", "/@@/").replace("/iwmo/", "/ijw/").replace("/@@/", "/iwmo/")
    return ns


# --------------------------------------------------------------------------------------------------
# The catalogue

#: Elements that are optional in every message type: leaving them out must be accepted.
OPTIONAL = frozenset({"VorigReferentieNummer", "ProductTarief", "XsltVersie", "DeclaratieAntwoord"})

#: Every element whose removal is tried (first occurrence in document order).
REMOVABLE = (
    "Header", "BerichtCode", "BerichtVersie", "BerichtSubversie", "Afzender", "Ontvanger",
    "BerichtIdentificatie", "Identificatie", "Dagtekening", "XsdVersie", "BasisschemaXsdVersie",
    "BerichtXsdVersie", "Declaratie", "DeclaratieNummer", "DeclaratiePeriode", "Begindatum", "Einddatum",
    "DeclaratieDagtekening", "TotaalIngediendBedrag", "TotaalBedrag", "DebetCredit", "Clienten", "Bsn",
    "Prestaties", "ProductReferentie", "ReferentieNummer", "VorigReferentieNummer", "ToewijzingNummer",
    "ProductCategorie", "ProductCode", "ProductPeriode", "GeleverdVolume", "Eenheid", "ProductTarief",
    "IngediendBedrag", "Bedrag", "DeclaratieIdentificatie", "XsltVersie", "XsdVersieDeclaratie",
    "RetourCodes", "RetourCode", "DeclaratieAntwoord", "TotaalToegekendBedrag",
)  # fmt: skip


def _values() -> Iterator[Mutation]:
    """Simple-type facet mutations: (name, element, new value, expect, note)."""
    table: list[tuple[str, str, str | Callable[[str, str], str], Expect, str]] = [
        ("berichtcode-999", "BerichtCode", "999", "reject", ""),
        ("berichtcode-other-family", "BerichtCode", _other_family_code, "reject", "490<->484, 491<->485"),
        ("berichtcode-other-kind", "BerichtCode", _other_kind_code, "reject", "323 code in a 325 and back"),
        ("berichtcode-4-chars", "BerichtCode", "4900", "reject", "maxLength 3"),
        ("berichtversie-4", "BerichtVersie", "4", "reject", ""),
        ("berichtversie-leading-zero", "BerichtVersie", "03", "reject", "pattern works on the lexical form"),
        ("berichtversie-plus-sign", "BerichtVersie", "+3", "reject", "pattern works on the lexical form"),
        ("berichtversie-padded", "BerichtVersie", _padded, "accept", "xs:integer collapses white space"),
        ("berichtsubversie-1", "BerichtSubversie", "1", "reject", ""),
        ("afzender-7-digits", "Afzender", "1234567", "reject", ""),
        ("afzender-9-digits", "Afzender", "123456789", "reject", ""),
        ("afzender-letters", "Afzender", "ABCDEFGH", "reject", ""),
        ("afzender-padded", "Afzender", _padded, "reject", "strings keep white space"),
        ("afzender-empty", "Afzender", "", "reject", ""),
        ("ontvanger-3-digits", "Ontvanger", "123", "reject", ""),
        ("ontvanger-5-digits", "Ontvanger", "12345", "reject", ""),
        ("identificatie-13-chars", "Identificatie", "ABCDEFGHIJKLM", "reject", "maxLength 12"),
        ("identificatie-12-chars", "Identificatie", "ABCDEFGHIJKL", "accept", "maxLength 12"),
        ("identificatie-blank", "Identificatie", "    ", "reject", "must contain a non-space"),
        ("identificatie-inner-space", "Identificatie", "AB 12", "accept", ""),
        ("dagtekening-utc", "Dagtekening", "2026-01-01Z", "reject", "no time zone"),
        ("dagtekening-offset", "Dagtekening", "2026-01-01+01:00", "reject", "no time zone"),
        ("dagtekening-feb-30", "Dagtekening", "2026-02-30", "reject", ""),
        ("dagtekening-with-time", "Dagtekening", "2026-01-01T10:00:00", "reject", ""),
        ("dagtekening-dutch-order", "Dagtekening", "01-01-2026", "reject", ""),
        ("dagtekening-padded", "Dagtekening", _padded, "accept", "xs:date collapses white space"),
        ("dagtekening-negative-year", "Dagtekening", "-2025-01-01", "accept", "xs:date allows BCE years"),
        ("begindatum-leap-day", "Begindatum", "2024-02-29", "accept", ""),
        ("einddatum-non-leap-day", "Einddatum", "2025-02-29", "reject", ""),
        ("basisschemaversie-leading-zero", "BasisschemaXsdVersie", "01.0.0", "reject", ""),
        ("basisschemaversie-two-parts", "BasisschemaXsdVersie", "1.0", "reject", ""),
        ("berichtxsdversie-suffix", "BerichtXsdVersie", "1.0.0-rc1", "reject", ""),
        ("berichtxsdversie-large", "BerichtXsdVersie", "10.20.300", "accept", ""),
        ("declaratienummer-dash", "DeclaratieNummer", "DN-001", "reject", "323 rejects, 325 accepts"),
        ("declaratienummer-13-chars", "DeclaratieNummer", "ABCDEFGHIJKLM", "reject", ""),
        ("declaratienummer-empty", "DeclaratieNummer", "", "reject", ""),
        ("productcategorie-other-family", "ProductCategorie", _other_family_category, "reject", ""),
        ("productcategorie-39", "ProductCategorie", "39", "reject", "not in either list"),
        ("productcategorie-one-digit", "ProductCategorie", "1", "reject", ""),
        ("eenheid-05", "Eenheid", "05", "reject", ""),
        ("eenheid-83", "Eenheid", "83", "accept", "the unit/tariff condition is a rule, not XSD"),
        ("productcode-6-chars", "ProductCode", "45A031", "reject", ""),
        ("productcode-blank", "ProductCode", "     ", "reject", ""),
        ("productcode-empty", "ProductCode", "", "reject", ""),
        ("productcode-padded-within-length", "ProductCode", " 45A ", "accept", "length 5, has a non-space"),
        ("producttarief-negative", "ProductTarief", "-1", "reject", ""),
        ("producttarief-too-large", "ProductTarief", "100000000", "reject", ""),
        ("producttarief-decimal", "ProductTarief", "12.50", "reject", ""),
        ("producttarief-zero", "ProductTarief", "0", "accept", ""),
        ("bedrag-too-large", "Bedrag", "100000000", "reject", ""),
        ("bedrag-max", "Bedrag", "99999999", "accept", ""),
        ("totaalbedrag-10e12", "TotaalBedrag", "1000000000000", "reject", ""),
        ("totaalbedrag-max", "TotaalBedrag", "999999999999", "accept", ""),
        ("debetcredit-x", "DebetCredit", "X", "reject", ""),
        ("debetcredit-lowercase", "DebetCredit", "d", "reject", ""),
        ("referentienummer-21-chars", "ReferentieNummer", "R" * 21, "reject", ""),
        ("referentienummer-20-chars", "ReferentieNummer", "R" * 20, "accept", ""),
        ("referentienummer-empty", "ReferentieNummer", "", "reject", ""),
        ("referentienummer-blank", "ReferentieNummer", "   ", "accept", "no pattern on LDT_ReferentieNummer"),
        ("vorigreferentienummer-21-chars", "VorigReferentieNummer", "V" * 21, "reject", ""),
        ("bsn-8-digits", "Bsn", "12345678", "reject", ""),
        ("bsn-10-digits", "Bsn", "1234567890", "reject", ""),
        ("bsn-letters", "Bsn", "12345678A", "reject", ""),
        ("bsn-fails-eleven-test", "Bsn", "123456789", "accept", "the eleven-test is a rule, not XSD"),
        ("toewijzingnummer-plus-leading-zeros", "ToewijzingNummer", "+0010072", "accept", "xs:integer"),
        ("toewijzingnummer-too-large", "ToewijzingNummer", "1000000000", "reject", ""),
        ("toewijzingnummer-negative", "ToewijzingNummer", "-1", "reject", ""),
        ("toewijzingnummer-decimal", "ToewijzingNummer", "10.5", "reject", ""),
        ("geleverdvolume-too-large", "GeleverdVolume", "100000000", "reject", ""),
        ("geleverdvolume-padded", "GeleverdVolume", _padded, "accept", "xs:integer collapses white space"),
        ("geleverdvolume-exponent", "GeleverdVolume", "1E2", "reject", ""),
        ("retourcode-unknown", "RetourCode", "9999", "reject", ""),
        ("retourcode-lowercase", "RetourCode", "s300", "reject", ""),
        ("retourcode-s329", "RetourCode", "S329", "accept", "last entry of the list"),
        ("xsltversie-two-parts", "XsltVersie", "1.0", "reject", ""),
    ]
    for name, local, value, expect, note in table:
        yield Mutation(name, on_tree(set_text(local, value)), expect, note)


def _structure() -> Iterator[Mutation]:
    yield from (
        Mutation("duplicate-afzender", on_tree(duplicate("Afzender"))),
        Mutation("duplicate-header", on_tree(duplicate("Header"))),
        Mutation("duplicate-bsn", on_tree(duplicate("Bsn"))),
        Mutation("duplicate-vorigreferentienummer", on_tree(duplicate("VorigReferentieNummer"))),
        Mutation("duplicate-producttarief", on_tree(duplicate("ProductTarief"))),
        Mutation("duplicate-prestatie", on_tree(duplicate("Prestatie")), "accept", "uniqueness is a rule"),
        Mutation("duplicate-client", on_tree(duplicate("Client")), "accept", "uniqueness is a rule"),
        Mutation("duplicate-retourcode", on_tree(duplicate("RetourCode")), "accept", "maxOccurs unbounded"),
        Mutation("reorder-afzender-ontvanger", on_tree(swap("Afzender", "Ontvanger"))),
        Mutation("reorder-begindatum-einddatum", on_tree(swap("Begindatum", "Einddatum"))),
        Mutation("reorder-categorie-code", on_tree(swap("ProductCategorie", "ProductCode"))),
        Mutation("reorder-bedrag-debetcredit", on_tree(swap("Bedrag", "DebetCredit"))),
        Mutation("move-header-last", on_tree(move_after("Header", "Declaratie"))),
        Mutation(
            "move-producttarief-after-ingediendbedrag",
            on_tree(move_after("ProductTarief", "IngediendBedrag")),
        ),
        Mutation(
            "move-xsltversie-after-xsdversiedeclaratie",
            on_tree(move_after("XsltVersie", "XsdVersieDeclaratie")),
        ),
        Mutation("add-xsltversie", on_tree(_add_xslt), "accept", "optional in a 325"),
        Mutation("add-xsltversie-to-323", on_tree(_xslt_in_323)),
        Mutation("empty-clienten", on_tree(empty_children("Clienten"))),
        Mutation("prestaties-without-prestatie", on_tree(empty_children("Prestaties"))),
        Mutation("retourcodes-empty", on_tree(empty_children("RetourCodes"))),
        Mutation("xsdversie-empty", on_tree(empty_children("XsdVersie"))),
        Mutation("foreign-element-in-header", on_tree(insert_into("Header", _foreign_element, 1))),
        Mutation("foreign-element-at-end", on_tree(insert_into("Bericht", _foreign_element, -1))),
        Mutation(
            "unknown-message-element",
            on_tree(insert_into("Header", _same_family_element("Opmerking", "x"), -1)),
        ),
        Mutation("foreign-attribute", on_tree(set_attribute("Header", "extra", "1"))),
        Mutation(
            "foreign-namespaced-attribute", on_tree(set_attribute("Bsn", f"{{{FOREIGN_NS}}}extra", "1"))
        ),
        Mutation(
            "xml-lang-attribute",
            on_tree(set_attribute("Afzender", "{http://www.w3.org/XML/1998/namespace}lang", "nl")),
        ),
        Mutation("xsi-nil-with-value", on_tree(_xsi_nil(empty=False))),
        Mutation("xsi-nil-empty", on_tree(_xsi_nil(empty=True))),
        Mutation(
            "xsi-type-declared-type", on_tree(_xsi_type("LDT_Bedrag")), "accept", "same type as declared"
        ),
        Mutation(
            "xsi-type-unrelated-type", on_tree(_xsi_type("LDT_Volume")), "reject", "not derived from it"
        ),
        Mutation(
            "xsi-schemalocation-hint",
            on_tree(set_attribute("Bericht", f"{{{XSI}}}schemaLocation", "urn:x nowhere.xsd")),
            "accept",
            "hints are ignored by a preloaded schema",
        ),
        Mutation("text-in-complex-element", on_tree(set_text("Header", "junk"))),
        Mutation("basis-child-in-message-ns", on_tree(rename_ns("Identificatie", "message"))),
        Mutation("message-child-in-basis-ns", on_tree(rename_ns("Afzender", "basis"))),
        Mutation("element-without-namespace", on_tree(rename_ns("Ontvanger", "none"))),
        Mutation("amount-child-in-message-ns", on_tree(rename_ns("TotaalBedrag", "message"))),
        Mutation("root-namespace-release-3_1", on_tree(relocate_namespaces(_to_release_31))),
        Mutation("basis-namespace-other-family", on_tree(relocate_namespaces(_to_other_basis))),
        Mutation("cdata-value", on_tree(_cdata), "accept", "CDATA is just text"),
        Mutation(
            "comment-in-complex-element",
            on_tree(insert_into("Header", lambda r: etree.Comment(" c "), 2)),
            "accept",
        ),
        Mutation(
            "pi-in-complex-element",
            on_tree(insert_into("Header", lambda r: etree.ProcessingInstruction("note", "x"), 3)),
            "accept",
        ),
        Mutation("comment-inside-value", on_tree(_comment_in_value), "accept", "text around a comment joins"),
        Mutation("char-reference-in-value", _char_reference, "accept", "&#NN; is the same character"),
        Mutation("other-prefix", _rename_prefix, "accept", "prefixes carry no meaning"),
    )


def _removals() -> Iterator[Mutation]:
    for local in REMOVABLE:
        expect: Expect = "accept" if local in OPTIONAL else "reject"
        yield Mutation(f"remove-{local}", on_tree(remove(local)), expect)


def catalogue() -> tuple[Mutation, ...]:
    """Every mutation, in a stable order; names are unique."""
    items = (*_values(), *_structure(), *_removals())
    names = [m.name for m in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate mutation names: {duplicates}")
    return items


MUTATIONS: tuple[Mutation, ...] = catalogue()
