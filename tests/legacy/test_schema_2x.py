"""Differential test of the reconstructed 2.x XSDs: each mutation is accepted or rejected as the facets say.

There is no official 2.x XSD to compare with, so the oracle is the specification of the reconstruction
(simple and complex types, element tree and cardinalities): every case states the verdict the facets
demand, and two independent XSD 1.0 implementations (libxml2 through lxml, as the gateway uses it, and
the pure-Python ``xmlschema``) must both give it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from gateway.registry import SchemaRegistry
from tests.legacy.base import JW303D, JW304, WMO303F, render

Mutate = Callable[[etree._Element], None]


@dataclass(frozen=True)
class Case:
    name: str
    message: str  # key of BASES
    mutate: Mutate
    valid: bool


BASES = {"JW303": render(JW303D), "JW304": render(JW304), "WMO303": render(WMO303F)}
SCHEMAS = {"JW303": "JW303D", "JW304": "JW304", "WMO303": "WMO303F"}


def first(root: etree._Element, name: str, index: int = 0) -> etree._Element:
    """The first (or ``index``-th, 0-based) element with this local name."""
    found = root.xpath(f"//*[local-name()='{name}']")
    assert isinstance(found, list)
    assert len(found) > index, name
    element = found[index]
    assert isinstance(element, etree._Element)
    return element


def text(name: str, value: str, index: int = 0) -> Mutate:
    def mutate(root: etree._Element) -> None:
        first(root, name, index).text = value

    return mutate


def remove(name: str) -> Mutate:
    def mutate(root: etree._Element) -> None:
        el = first(root, name)
        parent = el.getparent()
        assert parent is not None
        parent.remove(el)

    return mutate


def add_after(name: str, new: str, value: str, *, count: int = 1) -> Mutate:
    """Insert ``count`` elements ``new`` (same namespace as ``name``) right after the first ``name``."""

    def mutate(root: etree._Element) -> None:
        el = first(root, name)
        ns = etree.QName(el).namespace
        for _ in range(count):
            sibling = etree.Element(f"{{{ns}}}{new}")
            sibling.text = value
            el.addnext(sibling)

    return mutate


def into_namespace(name: str, of: str) -> Mutate:
    """Move the first ``name`` into the namespace of the first ``of`` element."""

    def mutate(root: etree._Element) -> None:
        el = first(root, name)
        el.tag = f"{{{etree.QName(first(root, of)).namespace}}}{name}"

    return mutate


def swap_with_next(name: str) -> Mutate:
    def mutate(root: etree._Element) -> None:
        el = first(root, name)
        following = el.getnext()
        assert following is not None
        following.addnext(el)

    return mutate


def empty(name: str) -> Mutate:
    def mutate(root: etree._Element) -> None:
        for child in list(first(root, name)):
            first(root, name).remove(child)

    return mutate


CASES: tuple[Case, ...] = (
    # LDT_Eenheid (2.x list: 21 and 81 exist, 84 does not)
    Case("unit-81-time-independent", "JW303", text("Eenheid", "81"), True),
    Case("unit-21-week", "WMO303", text("Eenheid", "21", index=1), True),
    Case("unit-84-not-in-2x", "JW303", text("Eenheid", "84"), False),
    Case("unit-one-digit", "JW303", text("Eenheid", "4"), False),
    # LDT_Geslacht, LDT_DatumGebruik, CDT_Geboortedatum
    Case("gender-not-specified", "JW303", text("Geslacht", "9"), True),
    Case("gender-unknown-code", "JW303", text("Geslacht", "0"), False),
    Case("birth-date-use-3", "JW303", add_after("Datum", "DatumGebruik", "3"), True),
    Case("birth-date-use-4", "JW303", add_after("Datum", "DatumGebruik", "4"), False),
    Case("no-birth-date", "JW303", remove("Geboortedatum"), False),
    Case("no-gender", "JW304", remove("Geslacht"), False),
    # optional and mandatory Prestatie children
    Case("no-allocation-number", "JW303", remove("ToewijzingNummer"), True),
    Case("no-product-code", "WMO303", remove("ProductCode"), True),
    Case("no-tariff", "JW304", remove("ProductTarief"), True),
    Case("no-product-category", "JW303", remove("ProductCategorie"), False),
    Case("allocation-number-too-big", "JW303", text("ToewijzingNummer", "1000000000"), False),
    Case("product-code-six-characters", "JW303", text("ProductCode", "45A041"), False),
    # LDT_IdentificatieDeclaratie, LDT_Datum
    Case("invoice-number-12-alnum", "JW303", text("DeclarantFactuurNummer", "D20180000421"), True),
    Case("invoice-number-13", "JW303", text("DeclarantFactuurNummer", "D201800004211"), False),
    Case("invoice-number-dash", "JW304", text("DeclarantFactuurNummer", "D-2018"), False),
    Case("invoice-date-with-zone", "JW303", text("FactuurDagtekening", "2018-03-05Z"), False),
    Case("invoice-date-impossible", "JW303", text("FactuurDagtekening", "2018-02-30"), False),
    # LDT_ProductCategorie per family
    Case("jw-category-55", "JW303", text("ProductCategorie", "55"), True),
    Case("jw-category-39", "JW303", text("ProductCategorie", "39"), False),
    Case("jw-category-of-wmo", "JW303", text("ProductCategorie", "01"), False),
    Case("wmo-category-18", "WMO303", text("ProductCategorie", "18"), True),
    Case("wmo-category-of-jw", "WMO303", text("ProductCategorie", "45"), False),
    # LDT_Bedrag, LDT_TotaalBedrag, LDT_DebetCredit
    Case("amount-max", "JW303", text("Bedrag", "99999999"), True),
    Case("amount-over-max", "JW303", text("Bedrag", "100000000"), False),
    Case("total-max", "JW303", text("TotaalBedrag", "999999999999"), True),
    Case("total-over-max", "JW304", text("TotaalBedrag", "1000000000000"), False),
    Case("debit-credit-lowercase", "JW303", text("DebetCredit", "d"), False),
    # LDT_Versie, BerichtVersie / BerichtSubversie
    Case("xsd-version-any-xyz", "JW303", text("BerichtXsdVersie", "10.0.3"), True),
    Case("xsd-version-leading-zero", "JW303", text("BerichtXsdVersie", "2.01.0"), False),
    Case("bericht-versie-3", "JW303", text("BerichtVersie", "3"), False),
    Case("bericht-subversie-2", "JW304", text("BerichtSubversie", "2"), False),
    # LDT_Referentie, LDT_AgbCode, LDT_Gemeente, LDT_BurgerServicenummer
    Case("reference-20", "JW303", text("ReferentieNummer", "R" * 20), True),
    Case("reference-21", "JW303", text("ReferentieNummer", "R" * 21), False),
    Case("sender-seven-digits", "JW303", text("Afzender", "1234567"), False),
    Case("receiver-three-digits", "JW304", text("Ontvanger", "363"), False),
    Case("bsn-eight-digits", "JW303", text("Bsn", "99990000"), False),
    # periods of any length
    Case("period-over-a-year", "JW303", text("Begindatum", "2016-01-01"), True),
    # LDT_RetourCode and RetourCodes (1..3)
    Case("retourcode-letters-digits", "JW304", text("RetourCode", "AB12"), True),
    Case("retourcode-lowercase", "JW304", text("RetourCode", "ab12"), False),
    Case("retourcode-five", "JW304", text("RetourCode", "12345"), False),
    Case("retourcodes-three", "JW304", add_after("RetourCode", "RetourCode", "0200", count=2), True),
    Case("retourcodes-four", "JW304", add_after("RetourCode", "RetourCode", "0200", count=3), False),
    Case("retourcodes-none", "JW304", empty("RetourCodes"), False),
    # structure: namespaces, order, retour elements
    Case(
        "basis-child-in-message-namespace",
        "JW303",
        into_namespace("DeclarantFactuurNummer", "Afzender"),
        False,
    ),
    Case("message-child-in-basis-namespace", "JW303", into_namespace("Bsn", "Datum"), False),
    Case("header-out-of-order", "JW303", swap_with_next("DeclaratieFactuurBedragen"), False),
    Case("no-granted-amount", "JW304", remove("ToegekendeBedragPrestatie"), False),
    Case("no-retour-header", "JW304", remove("RetourHeader"), False),
    Case("no-clients", "JW303", empty("Clienten"), False),
)


@cache
def lxml_schema(name: str) -> etree.XMLSchema:
    reg = SchemaRegistry()
    spec = reg.spec_named(SCHEMAS[name])
    assert spec is not None
    return reg.schema(spec)


@cache
def xmlschema_schema(name: str) -> xmlschema.XMLSchema10:
    spec = SchemaRegistry().spec_named(SCHEMAS[name])
    assert spec is not None
    return xmlschema.XMLSchema10(str(Path(spec.schema_path)))


def mutated(case: Case) -> etree._Element:
    root = etree.fromstring(BASES[case.message])
    case.mutate(root)
    return root


@pytest.mark.parametrize("name", sorted(BASES))
def test_bases_are_valid_under_both(name: str) -> None:
    """The unmutated base messages are valid for libxml2 and for xmlschema."""
    root = etree.fromstring(BASES[name])
    assert lxml_schema(name).validate(root)
    assert xmlschema_schema(name).is_valid(etree.tostring(root).decode())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_mutation_verdict_matches_the_facets(case: Case) -> None:
    """libxml2 and xmlschema both give the verdict the reconstructed facets demand for this mutation."""
    root = mutated(case)
    data = etree.tostring(root)
    assert data != etree.tostring(etree.fromstring(BASES[case.message])), "the mutation changed nothing"
    assert lxml_schema(case.message).validate(root) is case.valid
    assert xmlschema_schema(case.message).is_valid(data.decode()) is case.valid


def test_enough_cases_of_both_verdicts() -> None:
    """The catalogue holds at least a dozen rejections and a dozen acceptances, with unique names."""
    assert len({c.name for c in CASES}) == len(CASES)
    assert sum(not c.valid for c in CASES) >= 12
    assert sum(c.valid for c in CASES) >= 12
