"""Privacy canaries and fuzzing for JW321/JW322.

Canary BSNs (eleven-test valid and invalid), birth dates, DSM-IV codes and comment text are planted in
every place a sender controls and in files failing every stage; neither the verdicts nor the CLI's output
(JSON and human) may contain them. Arbitrary bytes that start like a JW321/JW322 never raise and always
give a well-formed verdict. Assertion messages name the canary kind, never the canary.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.cli import main
from gateway.fixedwidth.layout import load_layout
from gateway.results import Stage, Verdict
from gateway.testing.builders_ei import b7_declaration, render_ei, replace_field
from tests.fixedwidth.base import B7, B7_ANSWER, check, records, with_records

BSN_OK = "111222333"  # passes the eleven-test
BSN_BAD = "246813570"  # fails it
BIRTH = "19870314"
BIRTH_DATE = date(1987, 3, 14)
DSM = "296.23"
DSM_BAD = "F32.1"
COMMENT = "PSYCHOSE BIJ VADER"

CANARIES: tuple[tuple[str, str], ...] = (
    ("bsn-valid", BSN_OK),
    ("bsn-invalid", BSN_BAD),
    ("birth-date", BIRTH),
    ("birth-date-iso", "1987-03-14"),
    ("dsm", DSM),
    ("dsm-invalid", DSM_BAD),
    ("comment", COMMENT),
    ("comment-word", "PSYCHOSE"),
)


def leaked(text: str) -> list[str]:
    """The kinds of canary found in ``text`` (never the canary itself)."""
    return [kind for kind, canary in CANARIES if canary in text]


def _planted() -> dict[str, bytes]:
    """Files carrying the canaries, failing at every stage (and one valid file)."""
    decl = b7_declaration()
    c1, c2 = decl.clients
    line = replace(c1.lines[0], dsm4=DSM, comments=(COMMENT,))
    client = replace(c1, bsn=BSN_OK, birth_date=BIRTH_DATE, lines=(line,))
    planted = replace(decl, clients=(client, c2))

    def changed(**changes: object) -> bytes:
        return render_ei(replace(planted, clients=(replace(client, **changes), c2)))  # type: ignore[arg-type]

    base = render_ei(planted)
    parts = records(base)
    return {
        "valid": base,
        "rules-counts": render_ei(replace(planted, counts=(1, 1, 1, 1))),
        "rules-bad-bsn": changed(bsn=BSN_BAD),
        "rules-ei110": changed(lines=(replace(line, prestatiecode="110009003144"),)),
        "rules-line-bsn": changed(lines=(replace(line, bsn=BSN_BAD),)),
        "schema-dsm-format": replace_field(base, 3, "DIAGNOSECODE_DSM4", DSM_BAD),
        "schema-bsn-leading-space": replace_field(base, 2, "BSN", " " + BSN_OK[:8]),
        "schema-birth-invalid": replace_field(base, 2, "GEBOORTEDATUM", BIRTH[:6] + "32"),
        "schema-reference": replace_field(base, 3, "REFERENTIENUMMER", " " + BSN_OK),
        "schema-reserve": replace_field(base, 4, "RESERVE", COMMENT + " " + BSN_OK),
        "schema-order": with_records([parts[0], parts[3], parts[1], parts[2], *parts[4:]]),
        "schema-unknown-record": with_records([*parts[:2], ("77" + BSN_OK + DSM).encode(), *parts[2:]]),
        "schema-long-record": with_records([*parts[:3], parts[3] + BSN_BAD.encode(), *parts[4:]]),
        "schema-comment-number": replace_field(base, 4, "REGELNUMMER", BSN_OK[:4]),
        "transport-comment-nul": base.replace(b"VADER", b"VADE\x00", 1),
        "transport-lf": base.replace(b"\r\n", b"\n"),
        "transport-utf8-comment": base.replace(b"VADER", "VADÉ".encode(), 1),
    }


PLANTED = _planted()


def test_canaries_are_really_planted() -> None:
    """Each planted file holds the canaries it is meant to hold (so the absence checks mean something)."""
    for name, data in PLANTED.items():
        assert BSN_OK.encode() in data or BSN_BAD.encode() in data, name
    assert check(PLANTED["valid"]).valid
    assert COMMENT.encode() in PLANTED["valid"]
    assert DSM.encode() in PLANTED["valid"]
    assert BIRTH.encode() in PLANTED["valid"]


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_verdicts_carry_no_canary(name: str) -> None:
    """No finding's message or path contains a planted value, whatever the stage."""
    verdict = check(PLANTED[name])
    expected_stage = None if name == "valid" else Stage(name.split("-", maxsplit=1)[0])
    assert verdict.stage == expected_stage
    text = json.dumps(verdict.to_json())
    assert leaked(text) == []


@pytest.mark.parametrize("human", [False, True])
def test_cli_output_carries_no_canary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], human: bool
) -> None:
    """The CLI (JSON and human output) over all planted files leaks nothing on stdout or stderr."""
    for i, data in enumerate(PLANTED.values()):
        (tmp_path / f"{i:02d}.txt").write_bytes(data)
    args = ["validate", "--workers", "1", str(tmp_path)]
    code = main(args if human else [*args[:1], "--json", *args[1:]])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count("\n") >= len(PLANTED)
    assert leaked(out + err) == []


# --------------------------------------------------------------------------------------------------
# Fuzzing

TYPES = {"JW321", "JW322"}
STAGES = {None, Stage.TRANSPORT, Stage.SCHEMA, Stage.RULES}


def assert_well_formed(verdict: Verdict, *, typed: bool = True) -> None:
    assert verdict.stage in STAGES
    assert verdict.valid == (verdict.stage is None) == (verdict.errors == ())
    if typed:
        assert verdict.message_type in TYPES
    decoded = json.loads(json.dumps(verdict.to_json()))
    assert all(e["code"] and e["message"] for e in decoded["errors"])
    for e in verdict.errors:
        assert e.path is None or e.path.startswith(f"/{verdict.message_type}")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(["01434", "01435"]), rest=st.binary(max_size=3000))
def test_arbitrary_bytes_after_an_ei_header_never_raise(prefix: str, rest: bytes) -> None:
    """Any bytes starting with 01434 / 01435 give a verdict of that type, never an exception."""
    verdict = check(prefix.encode() + rest)
    assert_well_formed(verdict)
    assert verdict.message_type == ("JW321" if prefix == "01434" else "JW322")


printable_records = st.lists(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=320),
    max_size=12,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(["01434", "01435"]), lines=printable_records)
def test_arbitrary_printable_records_never_raise(prefix: str, lines: list[str]) -> None:
    """Printable records of any length and content after an EI header reach the schema stage safely."""
    data = (prefix + "\r\n".join(lines)).encode("ascii")
    verdict = check(data)
    assert_well_formed(verdict)
    assert verdict.stage is not Stage.TRANSPORT


mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1), st.binary(min_size=1, max_size=8)
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([B7, B7_ANSWER]),
    steps=st.lists(mutation, min_size=1, max_size=5),
)
def test_mutated_files_never_raise(base: bytes, steps: list[tuple[str, float, bytes]]) -> None:
    """Random byte mutations of valid files always give a consistent verdict (typed while the header
    survives)."""
    data = bytearray(base)
    for op, where, chunk in steps:
        at = int(where * len(data))
        if op == "insert":
            data[at:at] = chunk
        elif op == "delete":
            del data[at : at + len(chunk)]
        else:
            data[at : at + len(chunk)] = chunk
    verdict = check(bytes(data))
    assert_well_formed(verdict, typed=bytes(data[:5]) == base[:5])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    line=st.integers(1, 9),
    value=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=6, max_size=12),
    data=st.data(),
)
def test_planted_field_values_never_appear_in_findings(line: int, value: str, data: st.DataObject) -> None:
    """Any printable value put into any field of the B.7 example never shows up in a message or path."""
    rtype = records(B7)[line - 1][:2].decode()
    fields = [f for f in load_layout("JW321", ()).records[rtype].fields if f.length >= len(value)]
    if not fields:
        return
    field = data.draw(st.sampled_from(fields))
    marker = "Q" + value[1:]
    verdict = check(replace_field(B7, line, field.name, marker))
    assert_well_formed(verdict)
    for e in verdict.errors:
        assert marker not in e.message
        assert e.path is None or marker not in e.path
