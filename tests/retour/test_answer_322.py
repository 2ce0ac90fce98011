"""JW322 answers built from checked JW321 files with the shared plan: every record echoed, retour filled."""

from __future__ import annotations

import random
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.fixedwidth.records import EiMessage
from gateway.registry import default_registry
from gateway.retour import build_answer
from gateway.testing.builders_ei import b7_declaration, random_ei_declaration, render_ei, replace_field
from gateway.validation import Checked, Validator

DAY = date(2026, 1, 15)


def check(data: bytes) -> Checked:
    return Validator().check(data, "in.txt", today=DAY)


def answer_of(c: Checked) -> tuple[bytes, EiMessage]:
    out = build_answer(c, default_registry(), message_id="RETOUR0001", today=DAY)
    assert out is not None
    v = Validator().check(out, "out.txt", today=DAY)
    assert v.verdict.valid, [(e.code, e.path) for e in v.verdict.errors]
    assert isinstance(v.message, EiMessage)
    return out, v.message


def test_valid_file_is_granted_and_echoed() -> None:
    """The worked example: every line granted in full, positions 1-270 of every record unchanged."""
    data = render_ei(b7_declaration())
    c = check(data)
    assert c.verdict.valid
    out, answer = answer_of(c)
    assert answer.message_type == "JW322"
    source_records = data.split(b"\r\n")
    answer_records = out.split(b"\r\n")
    assert answer_records[0][:3] == b"014"
    assert answer_records[0][3:5] == b"35"
    assert [r[5:270] for r in answer_records[1:]] == [r[5:270] for r in source_records[1:]][
        : len(answer_records) - 1
    ]
    assert all(line.toegekend_bedrag == line.declaratiebedrag for line in answer.lines)
    assert answer.header.retourcodes == ("0200",)


def test_failing_client_is_marked_and_its_lines_not_granted() -> None:
    """A failing BSN on an 02 record: that record carries 0001, its lines grant 0 (0233), others granted."""
    data = render_ei(b7_declaration())
    broken = replace_field(data, 2, "BSN", "999900007")
    c = check(broken)
    assert not c.verdict.valid
    out = build_answer(c, default_registry(), message_id="RETOUR0002", today=DAY)
    assert out is not None
    records = out.split(b"\r\n")
    assert records[0][290:294] == b"0200"
    assert records[1][290:294] == b"0001"  # the 02 record with the failing BSN
    first_client_lines = [r for r in records[2:5] if r.startswith(b"04")]
    assert first_client_lines
    # not granted; these lines also fail EI101 (their BSN no longer equals the 02 record's), so 0001
    assert all(r[270:278] == b"00000000" and r[290:294] in (b"0001", b"0233") for r in first_client_lines)
    other_lines = [r for r in records[5:] if r.startswith(b"04")]
    assert all(r[270:278] == r[134:142] and r[290:294] == b"0200" for r in other_lines)


def test_file_level_error_rejects_whole_message() -> None:
    """A wrong total in the 99 record (EI112): the whole file is rejected, no line granted."""
    data = render_ei(b7_declaration())
    lines = data.split(b"\r\n")
    broken = replace_field(data, len([x for x in lines if x]), "TOTAAL_DECLARATIEBEDRAG", "00000000001")
    c = check(broken)
    assert [e.code for e in c.verdict.errors] == ["EI112"]
    out = build_answer(c, default_registry(), message_id="RETOUR0003", today=DAY)
    assert out is not None
    records = out.split(b"\r\n")
    assert records[0][290:294] == b"0001"
    assert all(r[270:278] == b"00000000" for r in records if r.startswith(b"04"))


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_files_get_valid_answers(seed: int) -> None:
    """Any generated valid JW321 gets a JW322 that passes every JW322 rule (totals, granted amounts)."""
    c = check(render_ei(random_ei_declaration(random.Random(seed))))
    assert c.verdict.valid, [(e.code, e.path) for e in c.verdict.errors]
    _, answer = answer_of(c)
    assert answer.trailer.totaal_toegekend_bedrag == answer.trailer.totaal_declaratiebedrag
