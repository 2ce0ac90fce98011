"""The official example messages behave as ../shared/reference/README.md documents."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gateway.model import Declaration
from gateway.results import Stage
from gateway.validation import Validator

ON = date(2026, 6, 1)  # after the examples' own dates (2026-05-06), so TR135 does not fire


def test_jw323_example_fails_uniqueness_rules(reference_dir: Path) -> None:
    """JW323.xml is XSD-valid but RN004 repeats under one client (TR101, TR314/8021) and TR416 fails."""
    verdict = Validator().validate((reference_dir / "examples" / "JW323.xml").read_bytes(), today=ON)
    assert verdict.message_type == "JW323"
    assert verdict.stage is Stage.RULES
    assert sorted((e.code, e.retourcode) for e in verdict.errors) == [
        ("TR101", "0001"),
        ("TR314", "8021"),
        ("TR416", "0001"),
    ]


def test_jw325_example_valid_on_its_own(reference_dir: Path) -> None:
    """JW325.xml is valid against the schema and its own rules (TR342 holds)."""
    verdict = Validator().validate((reference_dir / "examples" / "JW325.xml").read_bytes(), today=ON)
    assert (verdict.message_type, verdict.valid) == ("JW325", True)


def test_jw325_example_does_not_answer_jw323_example(reference_dir: Path) -> None:
    """Checked against JW323.xml, JW325.xml fails the echo rules: it is not that declaration's answer."""
    v = Validator()
    decl = v.check((reference_dir / "examples" / "JW323.xml").read_bytes(), "JW323.xml", today=ON).message
    assert isinstance(decl, Declaration)
    verdict = v.validate((reference_dir / "examples" / "JW325.xml").read_bytes(), today=ON, declaration=decl)
    found = {e.code for e in verdict.errors}
    assert {"TR337", "TR367"} <= found
    assert found <= {"TR337", "TR367", "TR366", "TR371", "TR376"}


def test_wmo323_example_valid(reference_dir: Path) -> None:
    """WMO323.xml passes the schema and every in-message rule."""
    verdict = Validator().validate((reference_dir / "examples" / "WMO323.xml").read_bytes(), today=ON)
    assert (verdict.message_type, verdict.valid, verdict.errors) == ("WMO323", True, ())


def test_example_product_period_in_earlier_month_is_fine(reference_dir: Path) -> None:
    """The March line in the April JW323 example is allowed (clarifications 1): no TR319 finding."""
    verdict = Validator().validate((reference_dir / "examples" / "JW323.xml").read_bytes(), today=ON)
    assert "TR319" not in {e.code for e in verdict.errors}
