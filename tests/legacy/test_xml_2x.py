"""The reconstructed 2.x XML messages: detection, records, the A.5 rules, generated messages, the CLI."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.cli import main
from gateway.model import Header
from gateway.model_2x import (
    Answer2x,
    Declaration2x,
    invoice_codes,
    line_path_2x,
    read_answer_2x,
    read_declaration_2x,
)
from gateway.registry import SchemaRegistry, schema_root
from gateway.results import Stage
from gateway.rules import all_rules
from gateway.testing.builders_2x import (
    Answer,
    Declaration,
    Family,
    Line,
    answer_304_for,
    declaration_total,
    random_303,
    random_grants,
    render_303,
    render_304,
)
from gateway.validation import Validator
from tests.helpers import TODAY, validator
from tests.legacy.base import (
    BSN_1,
    EXAMPLES,
    JW303D,
    JW303F,
    JW304,
    LINE_1,
    LINE_2,
    LINE_3,
    LINE_4,
    LINE_5,
    WMO303F,
    WMO304,
    check,
    findings,
    render,
)

P = "/Bericht/Clienten"
H = "/Bericht/Header"
PROJECT = Path(__file__).resolve().parents[2]
JW303_NS = "http://www.istandaarden.nl/ijw/2_1/jw303/schema/2_1"
JW304_NS = "http://www.istandaarden.nl/ijw/2_1/jw304/schema/2_1"
WMO303_NS = "http://www.istandaarden.nl/iwmo/2_1/wmo303/schema/2_1"
FAMILIES: tuple[Family, ...] = ("ijw", "iwmo")
Found = list[tuple[str, str | None, str | None]]


def with_lines(d: Declaration, *lines_per_client: tuple[Line, ...]) -> Declaration:
    """``d`` with the lines of each client replaced (the total is recomputed)."""
    clients = tuple(replace(c, lines=lines) for c, lines in zip(d.clients, lines_per_client, strict=True))
    return replace(d, clients=clients)


def base_lines(
    l1: Line = LINE_1, l2: Line = LINE_2, l3: Line = LINE_3, l4: Line = LINE_4, l5: Line = LINE_5
) -> Declaration:
    """JW303D with some of its lines replaced (client 1 holds 1, 2; client 2 holds 3, 4, 5)."""
    return with_lines(JW303D, (l1, l2), (l3, l4, l5))


def answer_line(a: Answer, reference: str, **changes: object) -> Answer:
    """A 304 with the echoed line ``reference`` changed (its fields as keywords); totals recomputed."""
    clients = tuple(
        replace(c, lines=tuple(replace(ln, **changes) if ln.reference == reference else ln for ln in c.lines))  # type: ignore[arg-type]
        for c in a.declaration.clients
    )
    return replace(a, declaration=replace(a.declaration, clients=clients), total_submitted=None)


def xml(message: Declaration | Answer, old: str, new: str) -> bytes:
    """The rendered message with one text replaced (it must occur)."""
    data = render(message)
    assert old.encode() in data
    return data.replace(old.encode(), new.encode(), 1)


# --------------------------------------------------------------------------------------------------
# Detection and catalogue


class TestDetection:
    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_examples_are_valid_with_their_type(self, name: str) -> None:
        """Every shipped example in examples/2.1 is valid and detected as the type it is named after."""
        verdict = check((PROJECT / "examples" / "2.1" / f"{name}.xml").read_bytes())
        assert (verdict.message_type, verdict.valid, verdict.stage) == (name, True, None)

    @pytest.mark.parametrize(
        ("message", "code", "expected"),
        [
            (JW303D, "432", "JW303D"),
            (JW303D, "450", "JW303F"),
            (WMO303F, "416", "WMO303D"),
            (WMO303F, "448", "WMO303F"),
        ],
    )
    def test_bericht_code_chooses_declaration_or_invoice(
        self, message: Declaration, code: str, expected: str
    ) -> None:
        """D and F share one namespace; the BerichtCode decides the type, and both are valid."""
        verdict = check(replace(message, bericht_code=code))
        assert (verdict.message_type, verdict.valid) == (expected, True)

    @pytest.mark.parametrize(
        ("message", "code", "expected"),
        [
            (JW303D, "999", "JW303D"),
            (JW303D, "433", "JW303D"),
            (JW303D, "448", "JW303D"),
            (WMO303F, "450", "WMO303D"),
        ],
    )
    def test_wrong_bericht_code_is_schema_error_of_default_type(
        self, message: Declaration, code: str, expected: str
    ) -> None:
        """A code that is not D or F of this namespace makes the D type, and its XSD rejects the code."""
        verdict = check(replace(message, bericht_code=code))
        assert verdict.message_type == expected
        assert verdict.stage is Stage.SCHEMA
        assert findings(verdict) == [("XSD", None, f"{H}/BerichtCode")]

    @pytest.mark.parametrize(("invoice", "code"), [(False, "433"), (True, "451")])
    def test_jw304_on_declaration_and_on_invoice(self, invoice: bool, code: str) -> None:
        """One JW304 type carries 433 (on a 432) or 451 (on a 450); both are valid."""
        answer = answer_304_for(replace(JW303D, invoice=invoice))
        data = render_304(answer)
        assert f"<jw304:BerichtCode>{code}</jw304:BerichtCode>".encode() in data
        verdict = check(data)
        assert (verdict.message_type, verdict.valid) == ("JW304", True)

    def test_jw304_with_a_303_code_is_schema_error(self) -> None:
        """A 304 carrying a heen code (432) is a JW304 that fails its XSD at BerichtCode."""
        verdict = check(replace(JW304, bericht_code="432"))
        assert (verdict.message_type, verdict.stage) == ("JW304", Stage.SCHEMA)
        assert findings(verdict) == [("XSD", None, f"{H}/BerichtCode")]

    def test_other_2x_release_namespace_is_unknown(self) -> None:
        """A 2.2 namespace is not in the catalogue: transport UNKNOWN_TYPE with no message type."""
        data = render(JW303D).replace(b"/ijw/2_1/jw303/schema/2_1", b"/ijw/2_2/jw303/schema/2_2")
        verdict = check(data)
        assert (verdict.message_type, verdict.stage) == (None, Stage.TRANSPORT)
        assert [e.code for e in verdict.errors] == ["UNKNOWN_TYPE"]

    def test_catalogue_entries(self) -> None:
        """The catalogue maps the 2.1 namespaces to the six types, with codes, kinds and answers."""
        reg = SchemaRegistry()
        rows = {
            s.name: (s.release, s.kind, s.bericht_codes, s.default, s.answer)
            for s in reg.specs
            if s.release == "2.1"
        }
        assert rows == {
            "JW303D": ("2.1", "declaration", ("432",), True, "JW304"),
            "JW303F": ("2.1", "declaration", ("450",), False, "JW304"),
            "JW304": ("2.1", "answer", ("433", "451"), True, None),
            "WMO303D": ("2.1", "declaration", ("416",), True, "WMO304"),
            "WMO303F": ("2.1", "declaration", ("448",), False, "WMO304"),
            "WMO304": ("2.1", "answer", ("417", "449"), True, None),
        }
        f = reg.spec_for_namespace(JW303_NS, "450")
        d = reg.spec_for_namespace(JW303_NS, "999")
        assert f is not None
        assert d is not None
        assert (f.name, d.name) == ("JW303F", "JW303D")
        assert reg.schema(f) is reg.schema(d)  # one compiled schema serves D and F

    def test_invoice_codes_come_from_the_catalogue(self) -> None:
        """The invoice codes (303F) and the retour codes on them are derived from the catalogue."""
        assert invoice_codes() == frozenset({"450", "451", "448", "449"})


class TestSchemaFiles:
    @pytest.mark.parametrize(
        "path",
        [
            "ijw/2.1/JW303.xsd",
            "ijw/2.1/JW304.xsd",
            "ijw/2.1/basisschema.xsd",
            "iwmo/2.1/WMO303.xsd",
            "iwmo/2.1/WMO304.xsd",
            "iwmo/2.1/basisschema.xsd",
        ],
    )
    def test_header_says_reconstructed_and_how_to_replace(self, path: str) -> None:
        """Each shipped 2.x XSD states it is reconstructed, not official, and is replaced as a whole set."""
        text = (schema_root() / path).read_text(encoding="utf-8")
        header = text[: text.index("<xs:schema")]
        assert "RECONSTRUCTED by jwmo-gateway" in header
        assert "NOT the official" in header
        assert "Vektis / Zorginstituut" in header
        assert "whole 2.x set" in header
        assert "schema-override directory" in header

    @pytest.mark.parametrize(
        ("path", "pattern"),
        [
            ("ijw/2.1/JW303.xsd", "432|450"),
            ("iwmo/2.1/WMO303.xsd", "416|448"),
            ("ijw/2.1/JW304.xsd", "433|451"),
            ("iwmo/2.1/WMO304.xsd", "417|449"),
        ],
    )
    def test_bericht_code_pattern(self, path: str, pattern: str) -> None:
        """The message XSD restricts BerichtCode to exactly the codes of its D and F variants."""
        tree = etree.parse(str(schema_root() / path))
        xs = "{http://www.w3.org/2001/XMLSchema}"
        code = next(e for e in tree.iter(f"{xs}element") if e.get("name") == "BerichtCode")
        assert [p.get("value") for p in code.iter(f"{xs}pattern")] == [pattern]

    def test_official_set_replaces_ours_by_namespace(self, tmp_path: Path) -> None:
        """A 2.x set dropped into a schema directory replaces ours for both D and F; the rules still apply."""
        ours = schema_root() / "ijw" / "2.1"
        for name in ("JW303.xsd", "JW304.xsd", "basisschema.xsd"):
            text = (ours / name).read_text(encoding="utf-8")
            if name == "basisschema.xsd":  # stand-in for an official difference: unit 84 exists
                marker = '<xs:enumeration value="83">'
                text = text.replace(marker, '<xs:enumeration value="84"/>' + marker)
            (tmp_path / name).write_text(text, encoding="utf-8")
        reg = SchemaRegistry([tmp_path])
        specs = [s for s in reg.specs if s.namespace == JW303_NS]
        assert sorted((s.name, s.overridden, s.schema_path.parent) for s in specs) == [
            ("JW303D", True, tmp_path),
            ("JW303F", True, tmp_path),
        ]
        unit_84 = render(base_lines(l2=replace(LINE_2, unit="84")))
        assert check(unit_84).stage is Stage.SCHEMA
        overridden = Validator(reg)
        assert overridden.validate(unit_84, today=TODAY).valid
        bad = render(replace(JW303F, total=(1, "D")))
        verdict = overridden.validate(bad, today=TODAY)
        assert (verdict.message_type, [e.code for e in verdict.errors]) == ("JW303F", ["TR358"])


# --------------------------------------------------------------------------------------------------
# Records


class TestRecords:
    def test_declaration_record(self) -> None:
        """The 303 reader fills header, period, total and clients; absent optional children are None."""
        root = etree.fromstring(render(JW303D))
        d = read_declaration_2x(root)
        assert isinstance(d, Declaration2x)
        assert d.header == Header(
            "432", "12345678", "0363", "D2018000042", date(2018, 3, 5), ("2.1.0", "2.1.0")
        )
        assert (d.number, d.declaration_date, d.period_start, d.period_end) == (
            "D2018000042",
            date(2018, 3, 5),
            date(2018, 1, 15),
            date(2018, 2, 25),
        )
        assert (d.total, d.total_dc, d.invoice) == (531500, "D", False)
        assert [(c.bsn, c.birth_date, c.birth_date_use, c.gender) for c in d.clients] == [
            (BSN_1, date(2009, 4, 1), None, "2"),
            ("999900018", date(2011, 9, 1), "2", "1"),
        ]
        first, second = d.clients[0].lines
        assert (first.allocation, first.code, first.tariff, first.unit, first.volume) == (
            4711,
            "45A04",
            6000,
            "21",
            6,
        )
        assert (second.allocation, second.code, second.tariff, second.unit) == (None, None, 25000, "81")
        euro = d.clients[1].lines[2]
        assert (euro.allocation, euro.code, euro.tariff, euro.amount) == (None, "45A10", None, 2500)
        credit = d.clients[1].lines[1]
        assert (credit.previous_reference, credit.debit_credit, credit.granted, credit.retourcodes) == (
            "P2017-0107",
            "C",
            None,
            (),
        )
        assert [(ln.client, ln.position) for ln in d.lines] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]

    def test_answer_record(self) -> None:
        """The 304 reader adds retour header, totals, granted amounts and retourcodes to the echo."""
        a = read_answer_2x(etree.fromstring(render(JW304)))
        assert isinstance(a, Answer2x)
        assert (a.header.bericht_code, a.number, a.invoice) == ("433", "D2018000042", False)
        assert (a.total_submitted, a.total_granted) == ((531500, "D"), (500500, "D"))
        assert (a.retour_id, a.retour_date, a.retour_xsd_version, a.retourcodes) == (
            "R2018000042",
            date(2018, 3, 19),
            ("2.1.0", "2.1.0"),
            ("0200",),
        )
        assert [(ln.reference, ln.granted, ln.retourcodes) for ln in a.lines] == [
            ("P2018-0001", (30000, "D"), ("0611",)),
            ("P2018-0002", (0, "D"), ("9338",)),
            ("P2018-0003", (504000, "D"), ("0200",)),
            ("P2018-0004", (36000, "C"), ("0200",)),
            ("P2018-0005", (2500, "D"), ("0200",)),
        ]
        assert [c.retourcodes for c in a.clients] == [("0200",), ("0200",)]
        assert read_answer_2x(etree.fromstring(render(WMO304))).invoice

    @settings(max_examples=60, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), prefixed=st.booleans(), indent=st.booleans())
    def test_layout_does_not_change_the_record(self, seed: int, prefixed: bool, indent: bool) -> None:
        """Prefixed or default namespace, indented or on one line: the reader yields the same record."""
        decl = random_303(random.Random(seed), family="iwmo")
        reference = read_declaration_2x(etree.fromstring(render_303(decl)))
        other = read_declaration_2x(etree.fromstring(render_303(decl, prefixed=prefixed, indent=indent)))
        assert other == reference
        assert len(reference.lines) == sum(len(c.lines) for c in decl.clients)

    def test_line_path_positions_only_where_repeated(self) -> None:
        """Paths carry a position only where the element repeats (one client, one line: none)."""
        single = with_lines(replace(JW303D, clients=JW303D.clients[:1]), (LINE_1,))
        d = read_declaration_2x(etree.fromstring(render(single)))
        assert (
            line_path_2x(d.clients, d.lines[0], "ProductPeriode")
            == f"{P}/Client/Prestaties/Prestatie/ProductPeriode"
        )
        full = read_declaration_2x(etree.fromstring(render(JW303D)))
        assert line_path_2x(full.clients, full.lines[4]) == f"{P}/Client[2]/Prestaties/Prestatie[3]"


# --------------------------------------------------------------------------------------------------
# Rules: one mutation each, exact findings

L11 = f"{P}/Client[1]/Prestaties/Prestatie[1]"
L12 = f"{P}/Client[1]/Prestaties/Prestatie[2]"
L21 = f"{P}/Client[2]/Prestaties/Prestatie[1]"
L22 = f"{P}/Client[2]/Prestaties/Prestatie[2]"
L23 = f"{P}/Client[2]/Prestaties/Prestatie[3]"
SUBMITTED = "IngediendeBedragPrestatie/DeclaratieFactuurBedrag"
GRANTED = "ToegekendeBedragPrestatie/ToegekendBedrag"
TOTAL_303 = f"{H}/DeclaratieFactuurBedragen/DeclaratieFactuurTotaalBedrag"

DECLARATION_CASES: list[tuple[str, Declaration, Found]] = [
    (
        "CS002-elfproef",
        replace(JW303D, clients=(replace(JW303D.clients[0], bsn="999900007"), JW303D.clients[1])),
        [("CS002", "0001", f"{P}/Client[1]/Bsn")],
    ),
    (
        "TR314-reference-twice-across-clients",
        base_lines(l3=replace(LINE_3, reference=LINE_1.reference)),
        [("TR314", "8021", f"{L21}/ProductReferentie/ReferentieNummer")],
    ),
    (
        "TR314-reference-twice-under-one-client",
        base_lines(l2=replace(LINE_2, reference=LINE_1.reference)),
        [("TR314", "8021", f"{L12}/ProductReferentie/ReferentieNummer")],
    ),
    (
        "TR101-client-twice",
        replace(JW303D, clients=(JW303D.clients[0], replace(JW303D.clients[1], bsn=JW303D.clients[0].bsn))),
        [("TR101", "0001", f"{P}/Client[2]/Bsn")],
    ),
    (
        "TR315-same-line-credited-twice",
        base_lines(l5=replace(LINE_5, debit_credit="C", previous_reference="P2017-0107")),
        [("TR315", "0001", f"{L23}/ProductReferentie/VorigReferentieNummer")],
    ),
    (
        "TR316-credit-of-line-in-same-message",
        base_lines(l4=replace(LINE_4, previous_reference=LINE_1.reference)),
        [("TR316", "0001", f"{L22}/ProductReferentie/VorigReferentieNummer")],
    ),
    (
        "CD060-credit-without-previous",
        base_lines(l4=replace(LINE_4, previous_reference=None)),
        [("CD060", "0001", f"{L22}/ProductReferentie")],
    ),
    (
        "CD060-debit-with-previous",
        base_lines(l1=replace(LINE_1, previous_reference="P2017-0001")),
        [("CD060", "0001", f"{L11}/ProductReferentie/VorigReferentieNummer")],
    ),
    (
        "CS325-zero-credit-line",
        base_lines(l2=replace(LINE_2, volume=0, amount=0, debit_credit="C", previous_reference="P2017-0002")),
        [("CS325", "0001", f"{L12}/{SUBMITTED}/DebetCredit")],
    ),
    (
        # Lines that cancel out: the total must be 0 D; 0 C breaks CS325 and the sign convention of TR358.
        "CS325+TR358-zero-total-credit",
        replace(
            with_lines(JW303D, (LINE_1,), (replace(LINE_4, amount=LINE_1.amount),)),
            total=(0, "C"),
        ),
        [("CS325", "0001", f"{TOTAL_303}/DebetCredit"), ("TR358", "0001", TOTAL_303)],
    ),
    (
        "TR137-declaration-period-ends-before-start",
        replace(JW303D, period=(date(2018, 1, 15), date(2018, 1, 14))),
        [("TR137", "0001", f"{H}/DeclaratiePeriode/Einddatum")],
    ),
    (
        "TR134+TR137-declaration-period-after-invoice-date",
        replace(JW303D, period=(date(2018, 3, 6), date(2018, 3, 31))),
        [
            ("TR134", "0001", f"{H}/DeclaratiePeriode/Begindatum"),
            ("TR137", "0001", f"{H}/DeclaratiePeriode/Einddatum"),
        ],
    ),
    (
        "TR137-product-period-ends-before-start",
        base_lines(l2=replace(LINE_2, period=(date(2018, 2, 1), date(2018, 1, 31)))),
        [("TR137", "0001", f"{L12}/ProductPeriode/Einddatum")],
    ),
    (
        "TR137-product-period-ends-after-invoice-date",
        base_lines(l5=replace(LINE_5, period=(date(2018, 2, 1), date(2018, 3, 6)))),
        [("TR137", "0001", f"{L23}/ProductPeriode/Einddatum")],
    ),
    (
        "TR134+TR137-product-period-after-invoice-date",
        base_lines(l3=replace(LINE_3, period=(date(2018, 3, 6), date(2018, 3, 6)))),
        [
            ("TR134", "0001", f"{L21}/ProductPeriode/Begindatum"),
            ("TR137", "0001", f"{L21}/ProductPeriode/Einddatum"),
        ],
    ),
    (
        "TR137-invoice-dated-before-the-periods-end",
        replace(JW303D, invoice_date=date(2018, 2, 20)),
        [
            ("TR137", "0001", f"{H}/DeclaratiePeriode/Einddatum"),
            ("TR137", "0001", f"{L11}/ProductPeriode/Einddatum"),
            ("TR137", "0001", f"{L21}/ProductPeriode/Einddatum"),
            ("TR137", "0001", f"{L23}/ProductPeriode/Einddatum"),
        ],
    ),
    (
        "CS339-euro-amount-not-volume",
        base_lines(l5=replace(LINE_5, amount=2600)),
        [("CS339", "0001", f"{L23}/{SUBMITTED}/Bedrag")],
    ),
    (
        "TR358-total-not-sum",
        replace(JW303D, total=(1, "D")),
        [("TR358", "0001", TOTAL_303)],
    ),
    (
        "TR358-positive-total-marked-credit",
        replace(JW303D, total=(531500, "C")),
        [("TR358", "0001", TOTAL_303)],
    ),
]

ANSWER_CASES: list[tuple[str, Answer, Found]] = [
    (
        "CS002-elfproef-in-304",
        replace(
            JW304,
            declaration=replace(
                JW304.declaration,
                clients=(
                    JW304.declaration.clients[0],
                    replace(JW304.declaration.clients[1], bsn="999900019"),
                ),
            ),
        ),
        [("CS002", "0001", f"{P}/Client[2]/Bsn")],
    ),
    (
        "CD060-credit-without-previous-in-304",
        answer_line(JW304, "P2018-0004", previous_reference=None),
        [("CD060", "0001", f"{L22}/ProductReferentie")],
    ),
    (
        "CS325-zero-grant-marked-credit",
        answer_line(JW304, "P2018-0002", granted=(0, "C")),
        [("CS325", "0001", f"{L12}/{GRANTED}/DebetCredit")],
    ),
    (
        # Nothing granted: the granted total must be 0 D; 0 C breaks CS325 and the sign convention of LG002.
        "CS325+LG002-zero-granted-total-credit",
        replace(
            answer_304_for(
                JW303D, granted={ln.reference: 0 for ln in JW303D.clients[0].lines + JW303D.clients[1].lines}
            ),
            total_granted=(0, "C"),
        ),
        [
            ("CS325", "0001", f"{H}/RetourBedragen/ToegekendTotaalBedrag/DebetCredit"),
            ("LG002", None, f"{H}/RetourBedragen/ToegekendTotaalBedrag"),
        ],
    ),
    (
        "LG001-submitted-total-not-sum",
        replace(JW304, total_submitted=(531501, "D")),
        [("LG001", None, f"{H}/RetourBedragen/IngediendTotaalBedrag")],
    ),
    (
        "LG002-granted-total-not-sum",
        replace(JW304, total_granted=(531500, "D")),
        [("LG002", None, f"{H}/RetourBedragen/ToegekendTotaalBedrag")],
    ),
    (
        "LG003-granted-more-than-claimed",
        answer_line(JW304, "P2018-0001", granted=(36001, "D")),
        [("LG003", None, f"{L11}/{GRANTED}/Bedrag")],
    ),
    (
        "LG003-granted-with-other-sign",
        answer_line(JW304, "P2018-0004", granted=(36000, "D")),
        [("LG003", None, f"{L22}/{GRANTED}/DebetCredit")],
    ),
    (
        "LG004-invoice-line-granted-in-part",
        replace(JW304, declaration=replace(JW304.declaration, invoice=True)),
        [("LG004", None, f"{L11}/{GRANTED}/Bedrag")],
    ),
]


@pytest.mark.parametrize(
    ("message", "expected"), [(m, e) for _, m, e in DECLARATION_CASES], ids=[c[0] for c in DECLARATION_CASES]
)
def test_303_rule_reports_exactly_its_findings(message: Declaration, expected: Found) -> None:
    """Each 303 mutation is reported with the rule's code, retourcode and path, and nothing else."""
    verdict = check(message)
    assert (verdict.valid, verdict.stage, verdict.message_type) == (False, Stage.RULES, "JW303D")
    assert findings(verdict) == sorted(expected)
    assert all(e.message for e in verdict.errors)


@pytest.mark.parametrize(
    ("message", "expected"), [(m, e) for _, m, e in ANSWER_CASES], ids=[c[0] for c in ANSWER_CASES]
)
def test_304_rule_reports_exactly_its_findings(message: Answer, expected: Found) -> None:
    """Each 304 mutation is reported with the rule's code, retourcode (none for LG) and path only."""
    verdict = check(message)
    assert (verdict.valid, verdict.stage, verdict.message_type) == (False, Stage.RULES, "JW304")
    assert findings(verdict) == sorted(expected)


class TestRuleScope:
    def test_partial_grant_is_fine_on_a_declaration(self) -> None:
        """LG004 applies only to retours on an invoice: the base JW304 (433) grants a line in part."""
        assert JW304.declaration.clients[0].lines[0].granted == (30000, "D")
        assert check(JW304).valid

    def test_303_rules_do_not_run_on_a_304(self) -> None:
        """TR358/TR314/TR134 are 303 rules: a 304 with a duplicate reference and late period passes them."""
        late = replace(LINE_3, period=(date(2018, 3, 6), date(2018, 3, 6)))
        decl = base_lines(l2=replace(LINE_2, reference=LINE_1.reference), l3=late)
        assert {e.code for e in check(decl).errors} == {"TR314", "TR134", "TR137"}
        assert check(answer_304_for(decl)).valid

    def test_3_2_only_rules_do_not_apply(self) -> None:
        """No CS100 (pre-2021), CS337/CS340 (months), CD087, TR135 (future) or TR416 on 2.x messages."""
        future = replace(JW303D, invoice_date=date(2030, 1, 1))
        two_debits = base_lines(l2=replace(LINE_1, reference="P2018-0009"))
        for message in (JW303D, future, two_debits):
            verdict = check(message)
            assert verdict.valid, findings(verdict)

    def test_rule_set_of_release_2_1(self) -> None:
        """Exactly the reconstructed rule table is registered for 2.1; 0001 for CS/CD/TR, none for LG."""
        rules = {
            (r.code, r.message_class, tuple(sorted(r.kinds)), r.retourcode)
            for r in all_rules()
            if r.release == "2.1"
        }
        both, decl, answer = ("answer", "declaration"), ("declaration",), ("answer",)
        assert rules == {
            ("CS002", "Client", both, "0001"),
            ("CD060", "Prestatie", both, "0001"),
            ("CS325", "Prestatie", both, "0001"),
            ("CS325", "Header", both, "0001"),
            ("TR101", "Client", decl, "0001"),
            ("TR314", "Prestatie", decl, "8021"),
            ("TR315", "Prestatie", decl, "0001"),
            ("TR316", "Prestatie", decl, "0001"),
            ("TR134", "Header", decl, "0001"),
            ("TR134", "Prestatie", decl, "0001"),
            ("TR137", "Header", decl, "0001"),
            ("TR137", "Prestatie", decl, "0001"),
            ("CS339", "Prestatie", decl, "0001"),
            ("TR358", "Header", decl, "0001"),
            ("LG001", "Header", answer, None),
            ("LG002", "Header", answer, None),
            ("LG003", "Prestatie", answer, None),
            ("LG004", "Prestatie", answer, None),
        }


# --------------------------------------------------------------------------------------------------
# Generated messages


class TestGenerated:
    @settings(max_examples=80, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), family=st.sampled_from(FAMILIES), invoice=st.booleans())
    def test_generated_303_and_304_are_valid(self, seed: int, family: Family, invoice: bool) -> None:
        """Generated 303s (both families, D and F) and their 304s pass the XSD and every rule."""
        rng = random.Random(seed)
        decl = random_303(rng, family=family, invoice=invoice)
        stem = "JW" if family == "ijw" else "WMO"
        verdict = check(decl)
        assert (verdict.message_type, verdict.valid) == (f"{stem}303{'F' if invoice else 'D'}", True), (
            findings(verdict)
        )
        answer = answer_304_for(decl, granted=random_grants(rng, decl))
        verdict = check(answer)
        assert (verdict.message_type, verdict.valid) == (f"{stem}304", True), findings(verdict)

    @settings(max_examples=60, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), data=st.data())
    def test_one_broken_check_digit_is_exactly_cs002(self, seed: int, data: st.DataObject) -> None:
        """Changing a client's last BSN digit gives exactly CS002 at that client, in a 303 and its 304."""
        rng = random.Random(seed)
        family = data.draw(st.sampled_from(FAMILIES))
        decl = random_303(rng, family=family, invoice=data.draw(st.booleans()))
        index = data.draw(st.integers(0, len(decl.clients) - 1))
        client = decl.clients[index]
        broken = client.bsn[:-1] + str((int(client.bsn[-1]) + data.draw(st.integers(1, 9))) % 10)
        clients = list(decl.clients)
        clients[index] = replace(client, bsn=broken)
        decl = replace(decl, clients=tuple(clients))
        where = f"{P}/Client[{index + 1}]/Bsn" if len(clients) > 1 else f"{P}/Client/Bsn"
        assert findings(check(decl)) == [("CS002", "0001", where)]
        assert findings(check(answer_304_for(decl, granted=random_grants(rng, decl)))) == [
            ("CS002", "0001", where)
        ]

    @settings(max_examples=40, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), delta=st.integers(1, 10**6))
    def test_wrong_total_is_tr358_and_lg001(self, seed: int, delta: int) -> None:
        """Any change of the declared total is TR358 on the 303 and LG001 on a 304 echoing it."""
        decl = random_303(random.Random(seed), family="iwmo", invoice=True)
        amount, dc = declaration_total(decl)
        assert [e.code for e in check(replace(decl, total=(amount + delta, dc))).errors] == ["TR358"]
        answer = replace(answer_304_for(decl), total_submitted=(amount + delta, dc))
        assert [e.code for e in check(answer).errors] == ["LG001"]

    def test_generator_covers_the_2x_features(self) -> None:
        """Over a few seeds the generator uses units 21/81, omits optional children, credits, spans months."""
        lines = [
            ln
            for seed in range(40)
            for c in random_303(random.Random(seed), invoice=bool(seed % 2)).clients
            for ln in c.lines
        ]
        assert {"21", "81", "83"} <= {ln.unit for ln in lines}
        assert any(ln.allocation is None for ln in lines)
        assert any(ln.allocation is not None for ln in lines)
        assert any(ln.code is None for ln in lines)
        assert any(ln.code is not None for ln in lines)
        assert 0.05 < sum(ln.debit_credit == "C" for ln in lines) / len(lines) < 0.3
        assert all((ln.debit_credit == "C") == (ln.previous_reference is not None) for ln in lines)
        assert any(ln.period[0].month != ln.period[1].month for ln in lines)

    def test_invoice_grants_are_whole_lines(self) -> None:
        """The builder refuses a partial grant on an invoice and grants outside 0..claimed."""
        with pytest.raises(ValueError, match="in full or not at all"):
            answer_304_for(JW303F, granted={LINE_1.reference: 1})
        with pytest.raises(ValueError, match="between 0 and"):
            answer_304_for(JW303D, granted={LINE_1.reference: LINE_1.amount + 1})


# --------------------------------------------------------------------------------------------------
# Privacy

BSN_CANARY = "111222333"  # passes the eleven-test
BSN_CANARY_BAD = "246813570"
BIRTH = date(1987, 3, 14)
CANARIES = ("111222333", "246813570", "1987-03-14", "14-03-1987", "1987-03", "Jansen")


def _planted() -> Declaration:
    """JW303D with canary values in the first client's BSN and birth date (still valid)."""
    first = replace(JW303D.clients[0], bsn=BSN_CANARY, birth_date=BIRTH)
    return replace(JW303D, clients=(first, JW303D.clients[1]))


def _privacy_cases() -> list[tuple[str, bytes, Stage | None]]:
    planted = _planted()
    bad_bsn = replace(planted, clients=(replace(planted.clients[0], bsn=BSN_CANARY_BAD), planted.clients[1]))
    birth = "<ijw:Datum>1987-03-14</ijw:Datum>"
    return [
        ("valid", render(planted), None),
        ("bsn-eleven-test", render(bad_bsn), Stage.RULES),
        ("bsn-eleven-test-304", render(answer_304_for(bad_bsn)), Stage.RULES),
        ("bsn-ten-digits", xml(planted, BSN_CANARY, BSN_CANARY + "4"), Stage.SCHEMA),
        ("bsn-name", xml(planted, BSN_CANARY, "Jansen"), Stage.SCHEMA),
        ("birth-date-dutch", xml(planted, birth, "<ijw:Datum>14-03-1987</ijw:Datum>"), Stage.SCHEMA),
        ("birth-date-zone", xml(planted, birth, "<ijw:Datum>1987-03-14Z</ijw:Datum>"), Stage.SCHEMA),
        ("birth-date-impossible", xml(planted, birth, "<ijw:Datum>1987-02-30</ijw:Datum>"), Stage.SCHEMA),
        (
            "birth-date-use-name",
            xml(planted, birth, birth + "<ijw:DatumGebruik>Jansen</ijw:DatumGebruik>"),
            Stage.SCHEMA,
        ),
        (
            "gender-birth-date",
            xml(planted, "<jw303:Geslacht>2<", "<jw303:Geslacht>1987-03-14<"),
            Stage.SCHEMA,
        ),
        ("birth-date-as-invoice-date", render(_late(planted)), Stage.RULES),
        ("reference-birth-date-twice", render(_duplicate_reference(planted, "1987-03-14")), Stage.RULES),
    ]


def _late(planted: Declaration) -> Declaration:
    """The planted 303 dated on the canary birth date: every period ends after it (TR134/TR137)."""
    return replace(planted, invoice_date=BIRTH)


def _duplicate_reference(planted: Declaration, reference: str) -> Declaration:
    first, second = planted.clients
    lines = (replace(first.lines[0], reference=reference), replace(first.lines[1], reference=reference))
    return replace(planted, clients=(replace(first, lines=lines), second))


@pytest.mark.parametrize(("name", "data", "stage"), _privacy_cases(), ids=[c[0] for c in _privacy_cases()])
def test_no_personal_value_in_any_output(
    name: str, data: bytes, stage: Stage | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither JSON nor human output of validate contains a planted BSN or birth date (any stage)."""
    path = tmp_path / "message.xml"
    path.write_bytes(data)
    assert check(data).stage is stage, name
    for args in (
        ["validate", "--json", "--workers", "1", str(path)],
        ["validate", "--workers", "1", str(path)],
    ):
        main(args)
        out, err = capsys.readouterr()
        leaked = [i for i, canary in enumerate(CANARIES) if canary in out or canary in err]
        assert leaked == [], f"canaries {leaked} leaked in {name}"
        assert out


# --------------------------------------------------------------------------------------------------
# CLI


def _cli_corpus(directory: Path) -> dict[str, tuple[str, str | None, list[str]]]:
    """Valid and broken generated files of every 2.x type: file name -> (type, stage, codes)."""
    expected: dict[str, tuple[str, str | None, list[str]]] = {}
    for i, (family, invoice) in enumerate((f, inv) for f in FAMILIES for inv in (False, True)):
        rng = random.Random(1000 + i)
        decl = random_303(rng, family=family, invoice=invoice)
        stem = "JW" if family == "ijw" else "WMO"
        heen = f"{stem}303{'F' if invoice else 'D'}"
        retour = f"{stem}304"
        answer = answer_304_for(decl, granted=random_grants(rng, decl))
        files: dict[str, tuple[bytes, str, str | None, list[str]]] = {
            f"{heen}-valid.xml": (render_303(decl), heen, None, []),
            f"{heen}-total.xml": (render_303(replace(decl, total=(10**9, "D"))), heen, "rules", ["TR358"]),
            f"{heen}-version.xml": (
                render_303(decl).replace(b"BerichtVersie>2<", b"BerichtVersie>3<"),
                heen,
                "schema",
                ["XSD"],
            ),
            f"{retour}-{heen}-valid.xml": (render_304(answer), retour, None, []),
            f"{retour}-{heen}-granted.xml": (
                render_304(replace(answer, total_granted=(10**9, "D"))),
                retour,
                "rules",
                ["LG002"],
            ),
            f"{retour}-{heen}-gender.xml": (
                re.sub(rb"Geslacht>[0-9]<", b"Geslacht>3<", render_304(answer), count=1),
                retour,
                "schema",
                ["XSD"],
            ),
        }
        for name, (data, kind, stage, codes) in files.items():
            (directory / name).write_bytes(data)
            expected[name] = (kind, stage, codes)
    return expected


def test_cli_reports_type_stage_and_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``validate --json`` on a directory of 2.x files: right type, stage and codes per file; exit 1."""
    expected = _cli_corpus(tmp_path)
    code = main(["validate", "--json", "--workers", "1", str(tmp_path)])
    out, err = capsys.readouterr()
    objs = [json.loads(line) for line in out.splitlines()]
    got = {
        Path(o["source"]).name: (o["message_type"], o["stage"], [e["code"] for e in o["errors"]])
        for o in objs
    }
    assert got == expected
    assert [Path(o["source"]).name for o in objs] == sorted(expected)
    assert all(o["valid"] == (o["stage"] is None) for o in objs)
    assert (code, err) == (1, "")


def test_cli_examples_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """``jwmo-gateway validate examples/2.1`` exits 0 and names all six types."""
    code = main(["validate", "--json", "--workers", "1", str(PROJECT / "examples" / "2.1")])
    types = [json.loads(line)["message_type"] for line in capsys.readouterr().out.splitlines()]
    assert (code, types) == (0, ["JW303D", "JW303F", "JW304", "WMO303D", "WMO303F", "WMO304"])


def test_validator_keeps_the_record() -> None:
    """The validator hands the 2.x record on to later stages (minimise, billing)."""
    checked = validator().check(render(JW303F), "f.xml", today=TODAY)
    assert isinstance(checked.message, Declaration2x)
    assert (checked.message.invoice, checked.message.number) == (True, "F2018000043")
    answered = validator().check(render(WMO304), "a.xml", today=TODAY)
    assert isinstance(answered.message, Answer2x)
    assert answered.message.invoice
