"""Record layouts as data (legacy-formats.md B.4/B.5): content, start-up checks, overrides, the XSDs."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from filters.codetables import load_tables
from gateway.fixedwidth.layout import SHIPPED_LAYOUTS, LayoutError, load_layout
from gateway.fixedwidth.stage import check_ei, load_definitions
from gateway.fixedwidth.xsd import main as xsd_main
from gateway.fixedwidth.xsd import schema_text
from gateway.registry import SchemaLoadError, SchemaRegistry, schema_root
from gateway.testing.builders_ei import replace_field
from tests.fixedwidth.base import B7, TODAY, findings
from tests.helpers import validator

# B.4 as printed: record, field, first position, last position, type.
B4 = """
01 KENMERK_RECORD 1 2 N | 01 BERICHTCODE 3 5 N | 01 BERICHTVERSIE 6 7 N | 01 BERICHTSUBVERSIE 8 9 N
01 SOORT_BERICHT 10 10 AN | 01 CODE_INFORMATIESYSTEEM 11 16 N | 01 VERSIE_INFORMATIESYSTEEM 17 26 AN
01 AGB_ZORGAANBIEDER 27 34 N | 01 PRAKTIJKCODE 35 42 N | 01 GEMEENTECODE 43 46 N
01 IDENTIFICATIE_BERICHT 47 58 AN | 01 DAGTEKENING 59 66 D | 01 FACTUURNUMMER 67 78 AN
01 BEGINDATUM_DECLARATIEPERIODE 79 86 D | 01 EINDDATUM_DECLARATIEPERIODE 87 94 D | 01 VALUTACODE 95 97 AN
01 RESERVE 98 310 AN
02 KENMERK_RECORD 1 2 N | 02 IDENTIFICATIE_DETAILRECORD 3 14 N | 02 BSN 15 23 N | 02 GEBOORTEDATUM 24 31 D
02 GESLACHT 32 32 N | 02 RESERVE 33 310 AN
04 KENMERK_RECORD 1 2 N | 04 IDENTIFICATIE_DETAILRECORD 3 14 N | 04 BSN 15 23 N
04 REFERENTIENUMMER 24 43 AN | 04 VORIG_REFERENTIENUMMER 44 63 AN | 04 DBC_TRAJECTNUMMER 64 78 AN
04 BEGINDATUM_DBC 79 86 D | 04 EINDDATUM_DBC 87 94 D | 04 DBC_PRESTATIECODE 95 106 AN
04 DECLARATIECODE 107 112 AN | 04 DIAGNOSECODE_DSM4 113 122 AN | 04 TYPE_VERWIJZER 123 124 N
04 AFSLUITREDEN 125 126 N | 04 TARIEF 127 134 N | 04 DECLARATIEBEDRAG 135 142 N
04 INDICATIE_DEBET_CREDIT 143 143 AN | 04 RESERVE 144 310 AN
98 KENMERK_RECORD 1 2 N | 98 IDENTIFICATIE_DETAILRECORD 3 14 N | 98 REGELNUMMER 15 18 N
98 VRIJE_TEKST 19 158 AN | 98 RESERVE 159 310 AN
99 KENMERK_RECORD 1 2 N | 99 AANTAL_CLIENTRECORDS 3 8 N | 99 AANTAL_PRESTATIERECORDS 9 14 N
99 AANTAL_COMMENTAARRECORDS 15 20 N | 99 TOTAAL_AANTAL_DETAILRECORDS 21 27 N
99 TOTAAL_DECLARATIEBEDRAG 28 38 N | 99 INDICATIE_DEBET_CREDIT 39 39 AN | 99 RESERVE 40 310 AN
"""

# B.5: the retour fields of a JW322 and the shrunken reserves.
B5 = """
01 RESERVE 98 270 AN | 01 IDENTIFICATIE_RETOUR 271 282 AN | 01 DAGTEKENING_RETOUR 283 290 D
02 RESERVE 33 290 AN | 98 RESERVE 159 290 AN
04 RESERVE 144 270 AN | 04 TOEGEKEND_BEDRAG 271 278 N | 04 INDICATIE_DEBET_CREDIT_TOEGEKEND 279 279 AN
04 RESERVE_TOEGEKEND 280 290 AN
99 RESERVE 40 270 AN | 99 TOTAAL_TOEGEKEND_BEDRAG 271 281 N | 99 INDICATIE_DEBET_CREDIT_TOEGEKEND 282 282 AN
99 RESERVE_TOEGEKEND 283 290 AN
"""


def _spec(text: str) -> list[tuple[str, str, int, int, str]]:
    rows = []
    for item in text.replace("\n", "|").split("|"):
        if item.strip():
            record, name, first, last, kind = item.split()
            rows.append((record, name, int(first), int(last), kind))
    return rows


def _layout_rows(message: str) -> dict[tuple[str, str], tuple[int, int, str]]:
    layout = load_layout(message, ())
    return {(r.type, f.name): (f.start, f.end, f.type) for r in layout.records.values() for f in r.fields}


def test_jw321_layout_is_b4_exactly() -> None:
    """Every JW321 field has the name, positions and type of B.4, and there are no others."""
    expected = {(r, n): (a, b, k) for r, n, a, b, k in _spec(B4)}
    assert _layout_rows("JW321") == expected


def test_jw322_layout_is_b4_with_the_retour_fields_of_b5() -> None:
    """A JW322 has B.4's fields up to position 270, B.5's retour fields, and 1-3 retourcodes per record."""
    rows = _layout_rows("JW322")
    b5 = {(r, n): (a, b, k) for r, n, a, b, k in _spec(B5)}
    for (record, name), (first, last, kind) in {(r, n): (a, b, k) for r, n, a, b, k in _spec(B4)}.items():
        if (record, name) in b5:
            assert rows[(record, name)] == b5[(record, name)]
        else:
            assert last <= 270
            assert rows[(record, name)] == (first, last, kind)
    for record in ("01", "02", "04", "98", "99"):
        assert rows[(record, "RETOURCODE_01")] == (291, 294, "AN")
        assert rows[(record, "RETOURCODE_02")] == (295, 298, "AN")
        assert rows[(record, "RETOURCODE_03")] == (299, 302, "AN")
        assert rows[(record, "RESERVE_RETOUR")] == (303, 310, "AN")
    layout = load_layout("JW322", ())
    assert layout.records["04"].field("RETOURCODE_01").use == "mandatory"
    assert layout.records["04"].field("RETOURCODE_02").use == "optional"


def test_layout_attributes() -> None:
    """Uses, patterns, domains and table references follow B.2/B.4 (a sample of each kind)."""
    layout = load_layout("JW321", ())
    header, line = layout.records["01"], layout.records["04"]
    assert header.field("AGB_ZORGAANBIEDER").not_zero
    assert layout.records["01"].field("GEMEENTECODE").not_zero
    assert header.field("VERSIE_INFORMATIESYSTEEM").use == "optional"
    assert header.field("RESERVE").use == "reserve"
    assert header.field("SOORT_BERICHT").domain == ("P", "T")
    assert line.field("DIAGNOSECODE_DSM4").use == "optional"
    assert line.field("DIAGNOSECODE_DSM4").pattern_table == "dsm4_groups"
    assert line.field("TYPE_VERWIJZER").table == "type_verwijzer"
    assert line.field("DBC_PRESTATIECODE").pattern == "[0-9]{12}"
    assert layout.records["02"].field("GESLACHT").domain == ("0", "1", "2", "9")
    assert (layout.detail_field, layout.comment_field) == ("IDENTIFICATIE_DETAILRECORD", "REGELNUMMER")
    assert (layout.namespace, layout.bericht_code, layout.record_length) == (
        "urn:jwmo-gateway:ei:jw321",
        "434",
        310,
    )


@pytest.mark.parametrize("name", ["jw321.toml", "jw322.toml"])
def test_layout_files_say_they_are_reconstructed(name: str) -> None:
    """The shipped layouts open with a RECONSTRUCTED (not official) header and carry a version."""
    text = (SHIPPED_LAYOUTS / name).read_text(encoding="utf-8")
    assert text.startswith("# RECONSTRUCTED (not official)")
    layout = load_layout(name.removesuffix(".toml").upper(), ())
    assert (layout.status, layout.shipped) == ("reconstructed", True)
    assert layout.layout_version


# --------------------------------------------------------------------------------------------------
# Start-up checks


def _broken(tmp_path: Path, old: str, new: str, name: str = "jw321.toml") -> Path:
    text = (SHIPPED_LAYOUTS / name).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    (tmp_path / name).write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'name = "VORIG_REFERENTIENUMMER", start = 44',
            'name = "VORIG_REFERENTIENUMMER", start = 45',
            "record 04, field VORIG_REFERENTIENUMMER: starts at 45, expected 44",
        ),
        (
            'name = "RESERVE", start = 40, length = 271',
            'name = "RESERVE", start = 40, length = 270',
            "record 99, field RESERVE: the fields end at 309, expected 310",
        ),
        (
            'name = "TARIEF", start = 127',
            'name = "DECLARATIEBEDRAG", start = 127',
            "record 04, field DECLARATIEBEDRAG: name occurs twice",
        ),
        (
            'name = "VALUTACODE", start = 95, length = 3, type = "AN"',
            'name = "VALUTACODE", start = 95, length = 3, type = "X"',
            "record 01, field VALUTACODE: 'type' must be N, AN or D",
        ),
        (
            'name = "DAGTEKENING", start = 59, length = 8, type = "D"',
            'name = "DAGTEKENING", start = 59, length = 8, type = "D", use = "optional"',
            "record 01, field DAGTEKENING: a D field is always mandatory",
        ),
        (
            'name = "GESLACHT", start = 32, length = 1, type = "N", domain = ["0", "1", "2", "9"]',
            'name = "GESLACHT", start = 32, length = 1, type = "N", domain = ["0", "10"]',
            "record 02, field GESLACHT: domain values of an N field are 1 digits",
        ),
        (
            'table = "afsluitreden"',
            'table = "nowhere"',
            "record 04, field AFSLUITREDEN: 'table' must be one of",
        ),
        (
            'pattern = "[0-9]{12}"',
            'pattern = "[0-9"',
            "record 04, field DBC_PRESTATIECODE: 'pattern' does not compile",
        ),
        ('role = "trailer"', 'role = "client"', "exactly one record must have role 'client'"),
        ('bericht_code = "434"', 'bericht_code = "436"', "field BERICHTCODE: must exist with domain ['436']"),
    ],
)
def test_inconsistent_layout_is_refused_naming_record_and_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """A layout that is not contiguous, does not cover 1..310, repeats a name or is malformed is refused
    when loaded, and the message names the file, the record and the field."""
    directory = _broken(tmp_path, old, new)
    with pytest.raises(LayoutError) as caught:
        load_layout("JW321", [directory])
    assert expected in str(caught.value)
    assert str(directory / "jw321.toml") in str(caught.value)
    assert isinstance(caught.value, SchemaLoadError)  # the CLI reports it as a configuration error


def test_layout_override_is_used_by_the_stage(tmp_path: Path) -> None:
    """A layout with the same file name in the override directory replaces the shipped one; the stage then
    validates against the XSD generated from it (here: NLG as a second currency)."""
    directory = _broken(tmp_path, 'domain = ["EUR"]', 'domain = ["EUR", "NLG"]')
    definitions = load_definitions([directory])
    layout = definitions.layouts[0]
    assert (layout.message, layout.shipped, layout.path) == ("JW321", False, directory / "jw321.toml")
    assert definitions.layouts[1].shipped  # jw322.toml is not overridden
    guilders = replace_field(B7, 1, "VALUTACODE", "NLG")
    overridden = check_ei(validator(), guilders, "x", today=TODAY, definitions=definitions)
    shipped = check_ei(validator(), guilders, "x", today=TODAY, definitions=load_definitions(()))
    assert overridden.verdict.valid
    assert findings(shipped.verdict) == [("EI015", "/JW321/R01[1]/VALUTACODE")]


def test_table_override_changes_the_generated_domain(tmp_path: Path) -> None:
    """A code-table override reaches the XSD: a new TYPE_VERWIJZER code is accepted only with it."""
    text = (Path(load_tables(()).info["type_verwijzer"].path)).read_text(encoding="utf-8")
    (tmp_path / "type_verwijzer.toml").write_text(
        text.replace('    { code = "08"', '    { code = "09", meaning = "x" },\n    { code = "08"'),
        encoding="utf-8",
    )
    data = replace_field(B7, 3, "TYPE_VERWIJZER", "09")
    with_override = check_ei(validator(), data, "x", today=TODAY, definitions=load_definitions([tmp_path]))
    assert with_override.verdict.valid
    assert findings(validator().validate(data, "x", today=TODAY)) == [
        ("EI015", "/JW321/R04[3]/TYPE_VERWIJZER")
    ]


def test_table_override_reaches_the_rules(tmp_path: Path) -> None:
    """The stage's code tables are the ones the rules check: a new productgroep passes EI109 only with it."""
    text = (Path(load_tables(()).info["productgroepen"].path)).read_text(encoding="utf-8")
    (tmp_path / "productgroepen.toml").write_text(
        text.replace(
            '    { code = "150"', '    { code = "148", name = "x", class = "other" },\n    { code = "150"'
        ),
        encoding="utf-8",
    )
    data = replace_field(B7, 3, "DBC_PRESTATIECODE", "110008003148")
    with_override = check_ei(validator(), data, "x", today=TODAY, definitions=load_definitions([tmp_path]))
    assert with_override.verdict.valid
    assert findings(validator().validate(data, "x", today=TODAY)) == [
        ("EI109", "/JW321/R04[3]/DBC_PRESTATIECODE")
    ]


def test_broken_override_surfaces_as_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a broken layout in JWMO_TABLE_DIR the CLI exits 2 and names the problem on standard error."""
    from gateway.cli import main  # noqa: PLC0415 - imported where the environment is set

    directory = _broken(
        tmp_path, 'name = "VORIG_REFERENTIENUMMER", start = 44', 'name = "VORIG_REFERENTIENUMMER"'
    )
    example = tmp_path / "in.txt"
    example.write_bytes(B7)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JWMO_TABLE_DIR", str(directory))
        code = main(["validate", "--json", "--workers", "1", str(example)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "record 04, field VORIG_REFERENTIENUMMER" in err


# --------------------------------------------------------------------------------------------------
# The XSDs and the catalogue


@pytest.mark.parametrize("message", ["JW321", "JW322"])
def test_shipped_xsd_is_generated_from_the_shipped_definitions(message: str) -> None:
    """schemas/ei/*/*.xsd is exactly what the generator writes (regenerate: python -m
    gateway.fixedwidth.xsd JWnnn > schemas/ei/jwnnn/JWnnn.xsd); it says it is reconstructed."""
    path = schema_root() / "ei" / message.lower() / f"{message}.xsd"
    text = path.read_text(encoding="utf-8")
    assert text == schema_text(load_layout(message, ()), load_tables(()))
    assert "RECONSTRUCTED (not official)" in text.split("-->")[0]
    out = io.StringIO()
    with redirect_stdout(out):
        assert xsd_main([message]) == 0
    assert out.getvalue() == text


def test_xsd_generator_usage() -> None:
    """The generator refuses an unknown type with a usage message."""
    err = io.StringIO()
    with redirect_stderr(err):
        assert xsd_main(["JW323"]) == 2
    assert "usage" in err.getvalue()


def test_catalogue_entries() -> None:
    """The catalogue knows JW321 (434, declaration, answered by JW322) and JW322 (435, answer), format ei."""
    registry = SchemaRegistry()
    jw321, jw322 = registry.spec_named("JW321"), registry.spec_named("JW322")
    assert jw321 is not None
    assert jw322 is not None
    assert (jw321.bericht_code, jw321.kind, jw321.release, jw321.format, jw321.answer) == (
        "434",
        "declaration",
        "ei-2.0",
        "ei",
        "JW322",
    )
    assert (jw322.bericht_code, jw322.kind, jw322.release, jw322.format) == ("435", "answer", "ei-2.0", "ei")
    assert jw321.namespace == load_layout("JW321", ()).namespace
    assert jw322.namespace == load_layout("JW322", ()).namespace
    assert jw321.schema_path == schema_root() / "ei" / "jw321" / "JW321.xsd"
    assert registry.schema(jw321) is registry.schema(jw321)
