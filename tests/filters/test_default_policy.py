"""The default policy, row by row: minimisation.md §6 rows 7-13 (3.2) and legacy-formats.md D.2 (JW321).

The 3.2 rows run through the real pipeline (built message -> Validator -> Minimiser). The JW321 rows run
the engine on line views shaped as the JW321 adapter will build them (fields: the prestatiecode triplets,
DSM code, referrer type; attributes: line class, main group, opt-out), checked against the worked example
of legacy-formats.md D.6.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from filters.engine import Engine, LineView, MessageView
from filters.fields import Value
from filters.policy import default_policy
from filters.products import ProductTable, parse_products
from gateway.minimise import Minimiser, MinimiseResult
from gateway.stores.optouts import MemoryOptouts
from gateway.testing.builders import Client, Declaration, Line, render
from tests.helpers import BASE, BSN_1, BSN_2, LINE_A, LINE_B, LINE_C, LINE_D, TODAY, validator

PRODUCTS = parse_products(
    """
table_version = "test"
[[product]]
municipality = "0384"
category = "45"
code = "45D01"
reveals_disorder = true
neutral_code = "45N01"
[[product]]
municipality = "0384"
category = "53"
code = "53A01"
reveals_disorder = true
[[product]]
municipality = "0384"
category = "35"
code = "35G01"
reveals_disorder = false
special_category = true
[[product]]
municipality = "*"
category = "02"
code = "02ASS"
reveals_disorder = true
""",
    name="test-products.toml",
)
AGB = BASE.sender
LINE_PATH = "/Bericht/Declaratie/Clienten/Client[1]/Prestaties/Prestatie[1]"


def declaration(*lines: Line, family: str = "ijw") -> Declaration:
    """BASE with client 1 holding ``lines``; for iWmo, client 2's lines move to Wmo category 02."""
    second = BASE.clients[1]
    if family == "iwmo":
        second = replace(
            second, lines=tuple(replace(x, category="02", code=f"02{x.code[2:]}") for x in second.lines)
        )
    return replace(BASE, family=family, clients=(Client(BSN_1, lines), second))  # type: ignore[arg-type]


def minimise(
    message: Declaration, optouts: MemoryOptouts | None = None, products: ProductTable = PRODUCTS
) -> MinimiseResult:
    checked = validator().check(render(message), "m.xml", today=TODAY)
    assert checked.verdict.valid, checked.verdict.errors
    return Minimiser(default_policy(), products).minimise(checked, optouts or MemoryOptouts())


def optout_for(bsn: str = BSN_1, start: date = date(2025, 1, 1)) -> MemoryOptouts:
    register = MemoryOptouts()
    register.add(bsn, AGB, start)
    return register


def first(result: MinimiseResult) -> dict[str, Any]:
    return result.billing[0]


class TestRow7Plain:
    def test_non_ggz_line_forwarded_as_is(self) -> None:
        """Row 7: a non-GGZ line reaches billing with every contract field, nothing restricted or tagged."""
        result = minimise(BASE)
        record = first(result)
        assert record["product_code"] == LINE_A.code
        assert record["tariff_cents"] == LINE_A.tariff
        assert record["allocation_number"] == LINE_A.allocation
        assert record["client_bsn"] == BSN_1
        assert record["special_category"] is False
        assert record["restricted"] is False
        assert record["diagnosis_main_group"] is None
        assert result.audit == ()
        assert len(result.billing) == 4


class TestRows8To10:
    @pytest.mark.parametrize("category", ["51", "52", "53", "54"])
    def test_ggz_and_paediatrics_tagged(self, category: str) -> None:
        """Row 8: iJw 51/52/54 (GGZ) and 53 (paediatrics) are tagged special_category; nothing removed."""
        line = replace(LINE_A, category=category, code=f"{category}001")
        record = first(minimise(declaration(line, LINE_B)))
        assert record["special_category"] is True
        assert record["product_code"] == f"{category}001"
        assert record["restricted"] is False

    def test_ggz_with_optout_unchanged(self) -> None:
        """Row 9: an opt-out changes nothing on a GGZ line whose code names no disorder."""
        line = replace(LINE_A, category="54", code="54002")
        result = minimise(declaration(line, LINE_B), optout_for())
        assert first(result)["product_code"] == "54002"
        assert not result.restricted
        assert result.audit == ()

    def test_disorder_code_without_optout_as_is(self) -> None:
        """Row 10: a disorder-naming code without opt-out is forwarded as is (tagged special)."""
        line = replace(LINE_A, code="45D01")
        result = minimise(declaration(line, LINE_B))
        record = first(result)
        assert record["product_code"] == "45D01"
        assert record["special_category"] is True
        assert record["restricted"] is False
        assert "45D01" in (result.filtered or "")

    def test_municipal_special_tag(self) -> None:
        """A code the municipal table marks special (GGZ in the 2015 categories) is tagged."""
        line = replace(LINE_A, category="35", code="35G01")
        assert first(minimise(declaration(line, LINE_B)))["special_category"] is True


class TestRow11:
    def test_optout_on_disorder_code_restricts(self) -> None:
        """Row 11 / clar. 12: opt-out + disorder code -> restricted; billing keeps only what pays the line."""
        line = replace(LINE_A, code="45D01")
        result = minimise(declaration(line, LINE_B), optout_for())
        record = first(result)
        assert record["restricted"] is True
        for withheld in ("product_code", "tariff_cents", "volume", "unit", "allocation_number"):
            assert record[withheld] is None, withheld
        assert record["amount_cents"] == line.amount
        assert record["product_category"] == "45"
        assert record["client_bsn"] == BSN_1
        assert record["reference"] == line.reference
        assert result.restricted is True
        assert [(a.rule, a.path, a.action) for a in result.audit] == [
            ("optout-disorder-restrict", LINE_PATH, "restrict"),
            ("optout-disorder-neutral-code", f"{LINE_PATH}/ProductCode", "neutralise"),
        ]

    def test_filtered_carries_the_neutral_code(self) -> None:
        """The filtered message carries the municipality's neutral code, never the disorder code."""
        line = replace(LINE_A, code="45D01")
        filtered = minimise(declaration(line, LINE_B), optout_for()).filtered or ""
        assert "45N01" in filtered
        assert "45D01" not in filtered

    def test_placeholder_without_neutral_code(self) -> None:
        """Without a neutral code in the table, the filtered message carries the placeholder 00000."""
        line = replace(LINE_A, category="53", code="53A01")
        result = minimise(declaration(line, LINE_B), optout_for())
        assert "53A01" not in (result.filtered or "")
        assert ">00000<" in (result.filtered or "")
        assert first(result)["restricted"] is True

    def test_other_lines_and_clients_untouched(self) -> None:
        """Only the disorder line of the opted-out client is restricted."""
        line = replace(LINE_A, code="45D01")
        result = minimise(declaration(line, LINE_B), optout_for())
        assert [r["restricted"] for r in result.billing] == [True, False, False, False]
        assert result.billing[1]["product_code"] == LINE_B.code

    def test_optout_of_another_provider_does_not_count(self) -> None:
        """The register is keyed by BSN and provider AGB: another provider's opt-out does not apply."""
        register = MemoryOptouts()
        register.add(BSN_1, "87654321", date(2025, 1, 1))
        line = replace(LINE_A, code="45D01")
        assert not minimise(declaration(line, LINE_B), register).restricted

    @pytest.mark.parametrize(
        ("start", "until", "active"),
        [
            (date(2025, 10, 6), None, True),  # received on the declaration date: active
            (date(2025, 10, 7), None, False),  # received the day after: not yet
            (date(2025, 1, 1), date(2025, 10, 6), True),  # last day = declaration date
            (date(2025, 1, 1), date(2025, 10, 5), False),  # ended the day before
        ],
    )
    def test_compared_with_declaratie_dagtekening(
        self, start: date, until: date | None, active: bool
    ) -> None:
        """Clar. 14: the opt-out is active when valid-from <= DeclaratieDagtekening <= until."""
        register = MemoryOptouts()
        register.add(BSN_1, AGB, start, until)
        line = replace(LINE_A, code="45D01")
        message = replace(declaration(line, LINE_B), declaration_date=date(2025, 10, 6))
        assert minimise(message, register).restricted is active


class TestRow13Wmo:
    @pytest.mark.parametrize("category", ["15", "16", "17", "18"])
    def test_sheltered_housing_tagged(self, category: str) -> None:
        """Row 13: Wmo 15-18 are tagged special_category and otherwise forwarded as received."""
        wmo = replace(LINE_A, category=category, code=f"{category}A01")
        record = first(
            minimise(declaration(wmo, replace(LINE_B, category="02", code="02A04"), family="iwmo"))
        )
        assert record["message_type"] == "WMO323"
        assert record["special_category"] is True
        assert record["product_code"] == f"{category}A01"

    def test_wmo_household_help_not_special(self) -> None:
        """An ordinary Wmo category is not special."""
        wmo = replace(LINE_A, category="01", code="01A01")
        record = first(
            minimise(declaration(wmo, replace(LINE_B, category="02", code="02A04"), family="iwmo"))
        )
        assert record["special_category"] is False

    def test_wmo_disorder_code_with_optout_restricted(self) -> None:
        """Clar. 12 applies to every 3.2 declaration: a Wmo code the table marks as naming a disorder,
        with an opt-out, is restricted as well."""
        wmo = replace(LINE_A, category="02", code="02ASS")
        result = minimise(
            declaration(wmo, replace(LINE_B, category="02", code="02A04"), family="iwmo"), optout_for()
        )
        assert first(result)["restricted"] is True
        assert "02ASS" not in (result.filtered or "")


# --------------------------------------------------------------------------------------------------
# JW321 (legacy-formats.md D.2, D.5, D.6) on adapter-shaped views


def prestatiecode(f: Mapping[str, Value]) -> Value:
    return f"{f['zorgtype']}{f['diagnosis']}{f['zorgvraagzwaarte']}{f['productgroep']}"


def jw321(  # noqa: PLR0917 - one positional value per column of the B.7 example
    reference: str,
    code: str,
    declaratiecode: str,
    dsm: str | None,
    verwijzer: str,
    line_class: str,
    main_group: str,
    amount: int,
    *,
    optout: bool = False,
) -> LineView:
    """A JW321 line view (as the JW321 adapter will build it) from the B.7 example values."""
    fields: dict[str, Value] = {
        "message_type": "JW321",
        "message_id": "VB2017000123",
        "sender_agb": "94060117",
        "municipality": "0014",
        "declaration_number": "2017F004711",
        "declaration_period": ("2017-01-01", "2017-01-31"),
        "client_bsn": "999900006",
        "reference": reference,
        "previous_reference": None,
        "product_code": declaratiecode,
        "product_period": ("2016-03-03", "2017-01-20"),
        "tariff_cents": amount,
        "amount_cents": amount,
        "debit_credit": "D",
        "zorgtype": code[0:3],
        "diagnosis": code[3:6],
        "zorgvraagzwaarte": code[6:9],
        "productgroep": code[9:12],
        "dsm_code": dsm,
        "type_verwijzer": verwijzer,
        "diagnosis_main_group": main_group if main_group.startswith("HG") else None,
    }
    attrs: dict[str, Value] = {
        "message_type": "JW321",
        "ggz_class": line_class,
        "main_group": main_group,
        "optout": optout,
    }
    return LineView(fields, attrs, {"dbc_prestatiecode": prestatiecode})


VB0001 = ("VB0001", "110008003144", "25J144", "296.32", "01", "other", "HG08", 412350)
VB0002 = ("VB0002", "101000000110", "25J110", "300.02", "08", "diagnostiek", "HG10", 98700)
VB0003 = ("VB0003", "000000000902", "180002", None, "01", "basis", "NONE", 81500)
VB0004 = ("VB0004", "101001002142", "25J142", "314.01", "01", "other", "HG01", 256000)


class TestJw321DecisionTable:
    @pytest.mark.parametrize(
        ("line", "code_out", "main_group"),
        [
            (VB0001, "101008000144", "HG08"),  # row 3: other, no opt-out, judicial 110 -> 101
            (VB0002, "101000000110", None),  # row 2: diagnostiek
            (VB0003, "000000000902", None),  # row 1: basis
            (VB0004, "101001000142", "HG01"),  # row 3 (credit line in the example)
        ],
    )
    def test_d6_without_optout(self, line: tuple[Any, ...], code_out: str, main_group: str | None) -> None:
        """D.6: the worked example minimised without opt-out."""
        result = Engine(default_policy()).line(jw321(*line))
        billing = result.billing
        assert billing["dbc_prestatiecode"] == code_out
        assert billing["diagnosis_main_group"] == main_group
        assert billing["restricted"] is False
        assert billing["special_category"] is True
        assert billing["product_code"] == line[2]
        assert billing["product_category"] is None  # JW321 has none (D.4)
        assert result.changes.get("dsm_code", "unchanged") in (None, "unchanged")
        assert "dsm_code" not in billing

    def test_d6_with_optout(self) -> None:
        """D.6 / D.2 row 4: VB0001 with an opt-out: 101000000000, DC 000000, restricted, withheld nulls."""
        result = Engine(default_policy()).line(jw321(*VB0001, optout=True))
        billing = result.billing
        assert billing["dbc_prestatiecode"] == "101000000000"
        assert billing["product_code"] is None
        assert billing["tariff_cents"] is None
        assert billing["amount_cents"] == 412350
        assert billing["diagnosis_main_group"] is None
        assert billing["restricted"] is True
        assert result.changes["product_code"] == "000000"
        assert result.changes["productgroep"] == "000"

    def test_optout_changes_nothing_outside_class_other(self) -> None:
        """D.2 rows 1-2: basis and diagnostiek lines are the same with and without opt-out."""
        engine = Engine(default_policy())
        for line in (VB0002, VB0003):
            assert engine.line(jw321(*line, optout=True)).values == engine.line(jw321(*line)).values

    def test_every_row_blanks_dsm_and_neutralises(self) -> None:
        """Every row: DSM code blanked, zorgvraagzwaarte 000, judicial referrer 08 -> 07."""
        result = Engine(default_policy()).line(jw321(*VB0002))
        assert result.changes["dsm_code"] is None
        assert result.changes["type_verwijzer"] == "07"
        assert "zorgvraagzwaarte" not in result.changes  # was 000 already

    def test_audit_ids_per_d5(self) -> None:
        """D.5: one entry per changed field with the listed rule ids and actions."""
        audit = Engine(default_policy()).line(jw321(*VB0001)).audit
        assert [(a.rule, a.action, a.field) for a in audit] == [
            ("jw321-judicial-zorgtype", "coarsen", "zorgtype"),
            ("jw321-zorgvraagzwaarte", "neutralise", "zorgvraagzwaarte"),
            ("jw321-dsm-drop", "drop", "dsm_code"),
        ]
        restricted = Engine(default_policy()).line(jw321(*VB0001, optout=True)).audit
        assert [(a.rule, a.action) for a in restricted] == [
            ("jw321-optout-restrict", "restrict"),
            ("jw321-diagnosis-none", "neutralise"),
            ("jw321-judicial-zorgtype", "coarsen"),
            ("jw321-zorgvraagzwaarte", "neutralise"),
            ("jw321-dsm-drop", "drop"),
        ]

    def test_no_main_group_outside_hg01_hg14(self) -> None:
        """Row 3 with an adjustment disorder (ADJ, triplet 015): triplet 2 -> 000, no main group."""
        line = ("VB0005", "101015000144", "25J144", "309.0", "01", "other", "ADJ", 1000)
        result = Engine(default_policy()).line(jw321(*line))
        assert result.billing["dbc_prestatiecode"] == "101000000144"
        assert result.billing["diagnosis_main_group"] is None
        assert [(a.rule, a.action) for a in result.audit if a.field == "diagnosis"] == [
            ("jw321-diagnosis-none", "neutralise")
        ]

    def test_comment_records_dropped(self) -> None:
        """D.3/D.5: the 98 comment records are dropped (message scope)."""
        result = Engine(default_policy()).message(MessageView({"comments": 1}, {"message_type": "JW321"}))
        assert result.changes == {"comments": None}
        assert [(a.rule, a.action) for a in result.audit] == [("jw321-comment-drop", "drop")]


def test_all_example_lines_valid() -> None:
    """The base lines used above form a valid declaration (a guard for the fixtures)."""
    assert validator().check(render(declaration(LINE_A, LINE_B)), "x", today=TODAY).verdict.valid
    assert {c.bsn for c in BASE.clients} == {BSN_1, BSN_2}
    assert LINE_C.unit == "83"
    assert LINE_D.debit_credit == "C"
