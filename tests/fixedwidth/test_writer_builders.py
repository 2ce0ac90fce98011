"""The writer (tree/records -> bytes, byte-exact round trips) and the EI builders and generators."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filters.codetables import Prestatiecode, load_tables
from gateway.fixedwidth.layout import load_layout
from gateway.fixedwidth.parser import parse_records
from gateway.fixedwidth.writer import WriteError, format_record, write_records, write_tree
from gateway.rules.common import elfproef
from gateway.testing.builders_ei import (
    answer_for_ei,
    b7_declaration,
    line_numbers,
    random_ei_declaration,
    render_ei,
)
from tests.fixedwidth.base import B7, B7_ANSWER, check

JW321 = load_layout("JW321", ())
JW322 = load_layout("JW322", ())
TABLES = load_tables(())
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def round_trip(data: bytes, message: str = "JW321", *, final_crlf: bool = True) -> bytes:
    layout = JW321 if message == "JW321" else JW322
    parsed = parse_records(data.decode("ascii"), layout)
    return write_tree(parsed.root, layout, final_crlf=final_crlf)


@settings(max_examples=60)
@given(seed=seeds)
def test_generated_jw321_round_trips_byte_for_byte(seed: int) -> None:
    """A generated valid JW321: parse -> write gives back exactly the input bytes."""
    data = render_ei(random_ei_declaration(random.Random(seed)))
    assert round_trip(data) == data


@settings(max_examples=60)
@given(seed=seeds)
def test_generated_jw322_round_trips_byte_for_byte(seed: int) -> None:
    """A generated valid JW322 (partial grants, 1-3 retourcodes per record) round-trips exactly too."""
    rng = random.Random(seed)
    data = render_ei(answer_for_ei(random_ei_declaration(rng), rng))
    assert round_trip(data, "JW322") == data


def test_examples_round_trip_with_and_without_final_crlf() -> None:
    """The shipped examples round-trip; a file without the final CR LF is written back without it."""
    assert round_trip(B7) == B7
    assert round_trip(B7_ANSWER, "JW322") == B7_ANSWER
    assert round_trip(B7[:-2], final_crlf=False) == B7[:-2]
    assert check(B7[:-2]).valid


def test_markup_characters_round_trip() -> None:
    """A comment holding &, < and > round-trips byte for byte through the (escaped) canonical tree."""
    data = B7.replace(b"RECIDIEF, ZIE", b"RECIDIEF & <Z", 1)
    assert len(data) == len(B7)
    assert round_trip(data) == data


def test_edited_tree_is_written_with_the_new_values() -> None:
    """The minimiser's way of working: edit the canonical tree, write it, and it is still a valid file."""
    parsed = parse_records(B7.decode("ascii"), JW321)
    ns = f"{{{JW321.namespace}}}"
    line = parsed.root[2]
    dsm = line.find(f"{ns}DIAGNOSECODE_DSM4")
    assert dsm is not None
    line.remove(dsm)
    code = line.find(f"{ns}DBC_PRESTATIECODE")
    assert code is not None
    code.text = "101008000144"
    out = write_tree(parsed.root, JW321)
    assert out.split(b"\r\n")[2][94:122] == b"101008000144" + b"25J144" + b" " * 10
    assert check(out).valid


def test_format_record_values_and_errors() -> None:
    """ints are zero-padded, dates written YYYYMMDD, AN padded; misfits raise naming the field only."""
    client = JW321.records["02"]
    text = format_record(
        client,
        {
            "IDENTIFICATIE_DETAILRECORD": 7,
            "BSN": "999900006",
            "GEBOORTEDATUM": date(2008, 3, 14),
            "GESLACHT": "2",
        },
    )
    assert text == "02000000000007999900006200803142".ljust(310)
    with pytest.raises(WriteError, match="record 02, field BSN: the value does not fit") as caught:
        format_record(
            client, {"IDENTIFICATIE_DETAILRECORD": 1, "BSN": "1234567890", "GEBOORTEDATUM": "2008-03-14"}
        )
    assert "1234567890" not in str(caught.value)
    with pytest.raises(WriteError, match="GEBOORTEDATUM: a field of type D cannot be blank"):
        format_record(client, {"IDENTIFICATIE_DETAILRECORD": 1, "BSN": "999900006", "GESLACHT": "2"})
    with pytest.raises(WriteError, match="IDENTIFICATIE_DETAILRECORD: a number goes only"):
        format_record(client, {"IDENTIFICATIE_DETAILRECORD": -1})
    with pytest.raises(WriteError, match="unknown field"):
        format_record(client, {"NAAM": "x"})
    comment = JW321.records["98"]
    with pytest.raises(WriteError, match="VRIJE_TEKST: only printable ASCII"):
        format_record(comment, {"IDENTIFICATIE_DETAILRECORD": 1, "REGELNUMMER": 1, "VRIJE_TEKST": "é"})
    with pytest.raises(WriteError, match="record type 03 is not in the layout"):
        write_records(JW321, [("03", {})])


# --------------------------------------------------------------------------------------------------
# Builders


def test_b7_builder_renders_the_shipped_example() -> None:
    """The builder's B.7 declaration renders to examples/ei/JW321.txt byte for byte."""
    assert render_ei(b7_declaration()) == B7


def test_line_numbers() -> None:
    """line_numbers gives the file line of every record of a built file."""
    numbers = line_numbers(b7_declaration())
    assert numbers == {
        "header": 1,
        "client:1": 2,
        "VB0001": 3,
        "VB0001#1": 4,
        "VB0002": 5,
        "client:2": 6,
        "VB0003": 7,
        "VB0004": 8,
        "trailer": 9,
    }


def test_generator_covers_what_the_rules_and_the_policy_distinguish() -> None:
    """Over a few dozen seeds the generated (valid) files hold every productgroep class, judicial and crisis
    zorgtypes, credits, comments, blank and filled DSM codes with triplet 2 either 000 or their group."""
    classes: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for seed in range(40):
        decl = random_ei_declaration(random.Random(seed))
        assert check(render_ei(decl)).valid
        assert all(elfproef(c.bsn) for c in decl.clients)
        for line in decl.lines:
            parts = Prestatiecode.parse(line.prestatiecode)
            assert parts is not None
            klass = TABLES.line_class(parts.zorgtype, parts.productgroep)
            assert klass is not None
            classes[klass] += 1
            seen["judicial"] += TABLES.zorgtypes[parts.zorgtype].judicial
            seen["referrer-08"] += line.type_verwijzer == "08"
            seen["credit"] += line.debit_credit == "C"
            seen["comment"] += bool(line.comments)
            if line.dsm4 is None:
                seen["no-dsm"] += 1
            else:
                group_triplet = TABLES.group_triplet(TABLES.dsm4_group(line.dsm4))
                assert parts.diagnoseclassificatie in ("000", group_triplet)
                seen["dsm-000" if parts.diagnoseclassificatie == "000" else "dsm-group"] += 1
    assert set(classes) == {"neutral", "diagnostiek", "crisis", "behandeling-kort", "other", "basis"}
    for key in ("judicial", "referrer-08", "credit", "comment", "no-dsm", "dsm-000", "dsm-group"):
        assert seen[key] > 0, key


def test_generated_answers_are_valid_and_vary() -> None:
    """Generated JW322s pass every check, with full, partial and refused lines."""
    kinds: set[str] = set()
    for seed in range(20):
        rng = random.Random(seed)
        decl = random_ei_declaration(rng)
        ans = answer_for_ei(decl, rng)
        assert check(render_ei(ans)).valid
        for line in decl.lines:
            granted = ans.granted[line.reference]
            kinds.add("full" if granted == line.declared else "none" if granted == 0 else "part")
    assert kinds == {"full", "part", "none"}


def test_generator_sizes() -> None:
    """clients / lines_per_client fix the shape (used for benchmark sizes)."""
    decl = random_ei_declaration(random.Random(1), clients=5, lines_per_client=3)
    assert [len(c.lines) for c in decl.clients] == [3, 3, 3, 3, 3]
    assert len({c.bsn for c in decl.clients}) == 5
