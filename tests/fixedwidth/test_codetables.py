"""The JW321 code tables as data (legacy-formats.md C.1-C.9): content, the C.2 mapping, overrides."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import filters.codetables as ct
from filters.codetables import SHIPPED_DIR, TABLE_NAMES, TableError, load_tables

TABLES = load_tables(())

# --------------------------------------------------------------------------------------------------
# The files


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_table_says_it_is_reconstructed(name: str) -> None:
    """Each shipped file opens with a RECONSTRUCTED (not official) header and carries version and validity."""
    text = (SHIPPED_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert text.startswith("# RECONSTRUCTED (not official)")
    info = TABLES.info[name]
    assert info.status == "reconstructed"
    assert info.table_version
    assert (info.valid_from, info.valid_until) == (date(2015, 1, 1), date(2018, 12, 31))
    assert info.shipped
    assert info.covers(date(2017, 6, 1))
    assert not info.covers(date(2019, 1, 1))


def test_results_are_immutable() -> None:
    """Loaded tables are read-only mappings and frozen records, and loading is cached."""
    with pytest.raises(TypeError):
        TABLES.zorgtypes["999"] = TABLES.zorgtypes["101"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        TABLES.zorgtypes["110"].judicial = False  # type: ignore[misc]
    assert load_tables(()) is TABLES


# --------------------------------------------------------------------------------------------------
# C.1, C.3-C.9


def test_main_groups() -> None:
    """HG01..HG14 are main groups with triplets 001..014; ADJ, VCODE and NONE are not (015, 016, 000)."""
    for n in range(1, 15):
        key = f"HG{n:02d}"
        assert TABLES.group_triplet(key) == f"{n:03d}"
        assert TABLES.main_group_of_triplet(f"{n:03d}") == key
    assert [TABLES.group_triplet(k) for k in ("ADJ", "VCODE", "NONE")] == ["015", "016", "000"]
    for triplet in ("000", "015", "016", "017"):
        assert TABLES.main_group_of_triplet(triplet) is None
    assert TABLES.group_of_triplet("015") == "ADJ"


def test_zorgtypes_judicial_set_and_replacements() -> None:
    """C.3: exactly nine judicial zorgtypes, 1xx -> 101 and 2xx -> 202; 301/302 make a crisis line."""
    judicial = {code for code, z in TABLES.zorgtypes.items() if z.judicial}
    assert judicial == {"110", "111", "115", "116", "117", "206", "210", "211", "212"}
    for code in judicial:
        assert ct.zorgtype(code) is not None
        assert TABLES.zorgtypes[code].neutral == ("101" if code.startswith("1") else "202")
    assert TABLES.zorgtypes["101"].neutral == "101"
    assert {c for c, z in TABLES.zorgtypes.items() if z.line_class == "crisis"} == {"301", "302"}
    assert ct.zorgtype("999") is None


PRODUCTGROEP_CLASSES = {
    "000": "neutral",
    **dict.fromkeys(("110", "111", "112"), "diagnostiek"),
    **dict.fromkeys(("120", "121", "122"), "crisis"),
    **dict.fromkeys(("130", "131"), "behandeling-kort"),
    **dict.fromkeys([f"{n}" for n in range(140, 148)] + ["150", "151", "152"], "other"),
    **dict.fromkeys(("901", "902", "903", "904", "905"), "basis"),
}


def test_productgroepen_and_line_class() -> None:
    """C.6: every listed productgroep with its class; the zorgtype 301/302 overrides the class."""
    assert {code: pg.line_class for code, pg in TABLES.productgroepen.items()} == PRODUCTGROEP_CLASSES
    assert ct.productgroep_class("902") == "basis"
    assert ct.productgroep_class("148") is None
    assert ct.line_class("302", "141") == "crisis"
    assert ct.line_class("101", "141") == "other"
    assert ct.line_class("000", "903") == "basis"


def test_triplet_tables() -> None:
    """C.3-C.6: valid ranges of the four triplets; invalid_triplets names the failing ones."""
    assert all(ct.is_valid_triplet("diagnoseclassificatie", f"{n:03d}") for n in range(17))
    assert not ct.is_valid_triplet("diagnoseclassificatie", "017")
    assert all(ct.is_valid_triplet("zorgvraagzwaarte", f"{n:03d}") for n in range(8))
    assert not ct.is_valid_triplet("zorgvraagzwaarte", "008")
    assert not ct.is_valid_triplet("zorgtype", "100")
    assert not ct.is_valid_triplet("productgroep", "906")
    assert TABLES.invalid_triplets("110008003144") == ()
    assert TABLES.invalid_triplets("999017008906") == ct.TRIPLETS
    assert TABLES.invalid_triplets("101001009142") == ("zorgvraagzwaarte",)
    assert TABLES.invalid_triplets("10100100214") == ct.TRIPLETS  # not 12 digits


def test_referrer_closing_reason_and_neutral_values() -> None:
    """C.7-C.9: 01..08 with 08 judicial -> 07; afsluitreden 01..07, 40, 50; the neutral values."""
    assert TABLES.codes("type_verwijzer") == ("01", "02", "03", "04", "05", "06", "07", "08")
    assert [(v.code, v.neutral) for v in TABLES.type_verwijzer.values() if v.judicial] == [("08", "07")]
    assert TABLES.codes("afsluitreden") == ("01", "02", "03", "04", "05", "06", "07", "40", "50")
    n = TABLES.neutral
    assert (n.diagnoseclassificatie, n.zorgvraagzwaarte, n.productgroep) == ("000", "000", "000")
    assert (n.declaratiecode_restricted, n.diagnosecode_dsm4) == ("000000", "")
    with pytest.raises(KeyError):
        TABLES.codes("neutral_values")


def test_prestatiecode_split() -> None:
    """A 12-digit code splits into its four triplets and joins back."""
    parts = ct.Prestatiecode.parse("110008003144")
    assert parts == ("110", "008", "003", "144")
    assert parts is not None
    assert parts.productgroep == "144"
    assert str(parts) == "110008003144"
    assert ct.Prestatiecode.parse("11000800314A") is None


# --------------------------------------------------------------------------------------------------
# C.2: DSM-IV code -> group

# Every code legacy-formats.md C.2 (and B.7) names, with the group it documents.
C2_EXAMPLES: dict[str, str] = {
    "799.9": "NONE",
    "V71.09": "NONE",
    "V61.20": "VCODE",
    "V62.89": "VCODE",
    "309.81": "HG10",
    "309.21": "HG03",
    **dict.fromkeys(("309.0", "309.24", "309.28", "309.3", "309.4", "309.9"), "ADJ"),
    **dict.fromkeys(("314.01", "314.9", "312.81", "312.82", "312.89", "312.9", "313.81"), "HG01"),
    **dict.fromkeys(("299.00", "299.80"), "HG02"),
    **dict.fromkeys(
        (
            "315.00",
            "307.0",
            "307.2",
            "307.20",
            "307.23",
            "307.3",
            "307.52",
            "307.53",
            "307.59",
            "307.6",
            "307.7",
            "307.9",
            "313.23",
            "313.89",
            "313.9",
            "787.6",
        ),
        "HG03",
    ),
    **dict.fromkeys(("307.1", "307.50", "307.51"), "HG14"),
    **dict.fromkeys(("300.81", "300.82", "300.11", "300.7", "307.80", "307.89"), "HG13"),
    **dict.fromkeys(("290.0", "290.40", "293.0", "294.1", "780.09"), "HG04"),
    **dict.fromkeys(("291.1", "303.90", "305.0", "305.00"), "HG05"),
    **dict.fromkeys(("292.0", "304.20", "305.1", "305.20"), "HG06"),
    **dict.fromkeys(("295.30", "297.1", "298.8", "293.81", "293.82"), "HG07"),
    **dict.fromkeys(("296.32", "296.2", "296.23", "300.4", "311"), "HG08"),
    **dict.fromkeys(
        ("296.0", "296.40", "296.54", "296.6", "296.7", "296.80", "296.89", "296.90", "301.13", "293.83"),
        "HG09",
    ),
    **dict.fromkeys(("300.02", "300.01", "300.21", "300.3", "308.3", "293.84"), "HG10"),
    **dict.fromkeys(("301.83", "301.7", "301.0"), "HG12"),
    **dict.fromkeys(("316", "995.52", "332.1", "333.7"), "VCODE"),
    **dict.fromkeys(
        (
            "317",
            "318.0",
            "318.1",
            "318.2",
            "319",
            "300.12",
            "300.19",
            "300.6",
            "300.9",
            "302.85",
            "307.42",
            "312.34",
            "293.89",
            "293.9",
            "310.1",
            "780.52",
        ),
        "HG11",
    ),
}


@pytest.mark.parametrize(("code", "group"), sorted(C2_EXAMPLES.items()))
def test_documented_examples_map_to_their_group(code: str, group: str) -> None:
    """Every example of C.2 (and the codes of B.7) gets the group the document gives it."""
    assert ct.dsm4_group(code) == group


def reference_group(code: str) -> str:
    """C.2 written out independently: rule by rule, on the code's stem and decimals."""
    stem, _dot, dec = code.partition(".")

    def decimals_start(base: str, *firsts: str) -> bool:
        return stem == base and dec[:1] in firsts and dec != ""

    checks: list[tuple[bool, str]] = [
        (code in {"799.9", "V71.09"}, "NONE"),
        (stem.startswith("V"), "VCODE"),
        (code == "309.81", "HG10"),
        (code == "309.21", "HG03"),
        (stem == "309", "ADJ"),
        (stem == "314" or decimals_start("312", "8") or code in {"312.9", "313.81"}, "HG01"),
        (stem == "299", "HG02"),
        (
            stem == "315"
            or decimals_start("307", "2")
            or code
            in {"307.0", "307.3", "307.52", "307.53", "307.59", "307.6", "307.7", "307.9"}
            | {"313.23", "313.89", "313.9", "787.6"},
            "HG03",
        ),
        (code in {"307.1", "307.50", "307.51"}, "HG14"),
        (code in {"300.81", "300.82", "300.11", "300.7", "307.80", "307.89"}, "HG13"),
        (stem in {"290", "294"} or code in {"293.0", "780.09"}, "HG04"),
        (stem in {"291", "303"} or code in {"305.0", "305.00"}, "HG05"),
        (stem in {"292", "304", "305"}, "HG06"),
        (stem in {"295", "297", "298"} or code in {"293.81", "293.82"}, "HG07"),
        (decimals_start("296", "2", "3") or code in {"300.4", "311"}, "HG08"),
        (
            decimals_start("296", "0", "4", "5", "6", "8", "9") or code in {"296.7", "301.13", "293.83"},
            "HG09",
        ),
        (decimals_start("300", "0", "2") or code in {"300.3", "308.3", "293.84"}, "HG10"),
        (stem == "301", "HG12"),
        (code in {"316", "332.1"} or stem in {"995", "333"}, "VCODE"),
    ]
    return next((group for hit, group in checks if hit), "HG11")


STEMS = sorted({c.partition(".")[0] for c in C2_EXAMPLES} | {"296", "300", "307", "312", "313", "V61"})
well_formed = st.one_of(
    st.from_regex(r"([0-9]{3}(\.[0-9]{1,2})?|V[0-9]{2}(\.[0-9]{1,2})?)", fullmatch=True),
    st.builds(
        lambda stem, dec: f"{stem}.{dec}" if dec else stem,
        st.sampled_from(STEMS),
        st.from_regex(r"[0-9]{0,2}", fullmatch=True),
    ),
)


@given(code=well_formed)
def test_every_well_formed_code_gets_the_group_of_the_first_matching_rule(code: str) -> None:
    """For any code of the C.2 form the table gives the group of an independent reading of C.2."""
    assert TABLES.is_dsm4_code(code)
    assert ct.dsm4_group(code) == reference_group(code)
    assert next(r.group for r in TABLES.dsm4_rules if r.matches(code)) == reference_group(code)


MALFORMED = [
    "",
    "v61.20",
    "F32.1",
    "296.",
    "296.123",
    "2963",
    "29",
    "V6",
    "V611",
    " 296.3",
    "296.3 ",
    "296,3",
    "V61.",
    "VV1",
    "V61.201",
    "29a.1",
]


@pytest.mark.parametrize("code", MALFORMED)
def test_pattern_rejects_malformed_codes(code: str) -> None:
    """The C.2 pattern rejects codes of another form; dsm4_group refuses them without quoting them."""
    assert not TABLES.is_dsm4_code(code)
    with pytest.raises(ValueError, match="not a well-formed") as caught:
        ct.dsm4_group(code)
    assert code.strip() == "" or code not in str(caught.value)


@given(code=st.text(alphabet="0123456789V. ", max_size=8))
def test_pattern_accepts_exactly_the_documented_form(code: str) -> None:
    """Accepted iff three digits or V plus two digits, optionally a dot and one or two digits."""
    stem, dot, dec = code.partition(".")
    documented = (
        (len(stem) == 3 and stem.isdigit()) or (len(stem) == 3 and stem[0] == "V" and stem[1:].isdigit())
    ) and (not dot or (1 <= len(dec) <= 2 and dec.isdigit()))
    assert TABLES.is_dsm4_code(code) == documented


# --------------------------------------------------------------------------------------------------
# Operator overrides


def _override(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / f"{name}.toml"
    text = (SHIPPED_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


def test_override_directory_replaces_a_table_by_file_name(tmp_path: Path) -> None:
    """A file with the same name in the override directory replaces the shipped one; the rest stay."""
    directory = _override(
        tmp_path,
        "type_verwijzer",
        '    { code = "08"',
        '    { code = "09", meaning = "x" },\n    { code = "08"',
    )
    tables = load_tables(directory)
    assert "09" in tables.type_verwijzer
    assert not tables.info["type_verwijzer"].shipped
    assert tables.info["type_verwijzer"].path == directory / "type_verwijzer.toml"
    assert tables.info["zorgtypes"].shipped
    assert not tables.shipped
    assert "09" not in TABLES.type_verwijzer


def test_environment_names_the_override_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JWMO_TABLE_DIR is honoured when no directory is passed; JWMO_SCHEMA_DIR is searched after it."""
    directory = _override(tmp_path, "afsluitreden", '{ code = "50"', '{ code = "60"')
    monkeypatch.setenv("JWMO_TABLE_DIR", str(directory))
    assert "60" in ct.load_tables().afsluitreden
    monkeypatch.delenv("JWMO_TABLE_DIR")
    monkeypatch.setenv("JWMO_SCHEMA_DIR", str(directory))
    assert "60" in ct.load_tables().afsluitreden
    monkeypatch.delenv("JWMO_SCHEMA_DIR")
    assert "60" not in ct.load_tables().afsluitreden


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("zorgtypes", '{ code = "101"', '{ code = "10A"', r"zorgtypes\.toml, entry 2: 'code' must match"),
        (
            "zorgtypes",
            '(follow-up DBC)", judicial = true, neutral = "202"',
            '(follow-up DBC)", judicial = true, neutral = "210"',
            r"zorgtypes\.toml, code 206: neutral code must be a listed non-judicial code",
        ),
        (
            "afsluitreden",
            '{ code = "50"',
            '{ code = "40"',
            r"afsluitreden\.toml, entry 9: code 40 occurs twice",
        ),
        ("dsm4_groups", 'group = "HG12"', 'group = "HG99"', r"dsm4_groups\.toml, rule 18: group 'HG99'"),
        ("dsm4_groups", '"301.*"]', '"301.x"]', r"dsm4_groups\.toml, rule 18: pattern '301\.x'"),
        ("diagnoseclassificatie", '"008", group = "HG08"', '"008", group = "HG09"', r"code 008: group must"),
        (
            "productgroepen",
            'class = "basis" },\n    { code = "902"',
            'class = "x" },\n    { code = "902"',
            "901",
        ),
        (
            "main_groups",
            "valid_until = 2018-12-31",
            "valid_until = 2014-12-31",
            "'valid_from' and 'valid_until'",
        ),
        ("neutral_values", 'productgroep = "000"', 'productgroep = "999"', "neutral productgroep"),
        ("zorgvraagzwaarte", 'table = "zorgvraagzwaarte"', 'table = "other"', "key 'table' must be"),
    ],
)
def test_broken_override_is_refused_naming_file_and_entry(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    """An inconsistent table is refused at load with a message naming the file and the entry."""
    with pytest.raises(TableError, match=expected):
        load_tables(_override(tmp_path, name, old, new))


def test_missing_or_unreadable_override_is_refused(tmp_path: Path) -> None:
    """A configured directory that does not exist, or a file that is not TOML, is an error."""
    with pytest.raises(TableError, match="does not exist"):
        load_tables(tmp_path / "nowhere")
    (tmp_path / "zorgtypes.toml").write_text("codes = [", encoding="utf-8")
    with pytest.raises(TableError, match="not valid TOML"):
        load_tables(tmp_path)


def test_a_complete_copy_of_the_tables_loads(tmp_path: Path) -> None:
    """An operator directory holding every table (e.g. a first copy to edit) loads like the shipped set."""
    for name in TABLE_NAMES:
        shutil.copy(SHIPPED_DIR / f"{name}.toml", tmp_path)
    tables = load_tables(tmp_path)
    assert not any(info.shipped for info in tables.info.values())
    assert tables.codes("zorgtypes") == TABLES.codes("zorgtypes")
    assert tables.dsm4_group("296.32") == "HG08"
