"""Acceptance test of `jwmo-gateway validate --json` on a generated corpus, run as a real subprocess.

A directory of about 60 files: valid JW323/WMO323/JW325/WMO325 messages from the generator (different seeds,
both namespace forms) and invalid ones, each made by ONE known mutation with its known stage and exact list
of error codes, plus a ZIP holding some of them. The CLI must report every message in input order with the
right source, type, validity, stage and codes, give identical output with 1 and 2 workers, exit 1, and print
nothing but JSON lines on standard output.

The CLI uses the real clock; the messages are generated against the fixed ``TODAY`` of tests/helpers (the
real date is later, so no generated date is in the future). The one clock case (TR135) is built from the
real date.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from gateway.testing.builders import (
    Answer,
    Declaration,
    Family,
    answer_for,
    declaration_total,
    random_declaration,
    render,
    signed,
    unsigned,
)
from tests.helpers import TODAY

TYPES: dict[tuple[Family, str], str] = {
    ("ijw", "323"): "JW323",
    ("ijw", "325"): "JW325",
    ("iwmo", "323"): "WMO323",
    ("iwmo", "325"): "WMO325",
}
KEYS = {"source", "message_type", "valid", "stage", "errors"}


@dataclass(frozen=True)
class Expected:
    """One message of the corpus and what `validate` must say about it."""

    case: str
    data: bytes
    message_type: str | None
    stage: str | None  # None = valid
    codes: tuple[str, ...] = ()  # sorted, with repeats

    @property
    def valid(self) -> bool:
        return self.stage is None


def declaration(seed: int, family: Family, clients: int = 2) -> Declaration:
    return random_declaration(random.Random(seed), family=family, clients=clients, today=TODAY)


def answer(d: Declaration) -> Answer:
    """A 325 rejecting the first line of ``d`` (a consistent, valid answer)."""
    return answer_for(d, message_date=TODAY, rejected={d.clients[0].lines[0].reference: ("9338",)})


def set_line(d: Declaration, client: int, line: int, **changes: object) -> Declaration:
    clients = list(d.clients)
    lines = list(clients[client].lines)
    lines[line] = replace(lines[line], **changes)  # type: ignore[arg-type]
    clients[client] = replace(clients[client], lines=tuple(lines))
    return replace(d, clients=tuple(clients))


def as_debit(d: Declaration, client: int = 0, line: int = 0) -> Declaration:
    """The line made a plain hourly debit (unit 04, tariff x volume = amount, no previous reference)."""
    return set_line(
        d,
        client,
        line,
        unit="04",
        volume=3,
        tariff=1000,
        amount=3000,
        debit_credit="D",
        previous_reference=None,
    )


# --------------------------------------------------------------------------------------------------
# Mutations: each changes exactly one thing and names the codes it must produce.


def broken_check_digit(d: Declaration) -> Declaration:
    bsn = d.clients[0].bsn
    wrong = bsn[:-1] + str((int(bsn[-1]) + 1) % 10)
    return replace(d, clients=(replace(d.clients[0], bsn=wrong), *d.clients[1:]))


def wrong_total(d: Declaration) -> Declaration:
    amount, dc = declaration_total(d)
    return replace(d, total=(amount + 1, dc))


def amount_not_volume_times_tariff(d: Declaration) -> Declaration:
    return set_line(as_debit(d), 0, 0, amount=3001)


def reference_in_two_clients(d: Declaration) -> Declaration:
    return set_line(d, 1, 0, reference=d.clients[0].lines[0].reference)


def client_twice(d: Declaration) -> Declaration:
    return replace(d, clients=(d.clients[0], replace(d.clients[1], bsn=d.clients[0].bsn)))


def period_not_whole_month(d: Declaration) -> Declaration:
    return replace(d, period=(d.period[0] + timedelta(days=1), d.period[1]))


def debit_with_previous_reference(d: Declaration) -> Declaration:
    return set_line(as_debit(d), 0, 0, previous_reference="ZZZZZZ-0001")


def same_debit_twice(d: Declaration) -> Declaration:
    d = as_debit(d)
    first = d.clients[0].lines[0]
    copy = replace(first, reference="COPY01-0001")
    return replace(
        d, clients=(replace(d.clients[0], lines=(first, copy, *d.clients[0].lines[1:])), *d.clients[1:])
    )


def product_period_after_declaration_period(d: Declaration) -> Declaration:
    day = d.period[1] + timedelta(days=1)
    return set_line(d, 0, 0, period=(day, day))


def product_period_two_months(d: Declaration) -> Declaration:
    return set_line(d, 0, 0, period=(d.period[0] - timedelta(days=5), d.period[0] + timedelta(days=4)))


def message_date_in_future(d: Declaration) -> Declaration:
    return replace(d, message_date=date.today() + timedelta(days=60))


def short_bsn(d: Declaration) -> Declaration:
    return replace(d, clients=(replace(d.clients[0], bsn=d.clients[0].bsn[:8]), *d.clients[1:]))


def bad_declaration_number(d: Declaration) -> Declaration:
    return replace(d, number="DN-0001")


def granted_off_by_one(a: Answer) -> Answer:
    assert a.body is not None
    granted = unsigned(signed(*a.body.total_granted) + 1)
    return replace(a, body=replace(a.body, total_granted=granted))


def answer_number_with_dash(a: Answer) -> Answer:
    assert a.body is not None
    return replace(a, body=replace(a.body, number="DN-0001"))


def answer_bad_retourcode(a: Answer) -> Answer:
    return replace(a, header_retourcodes=("0200", "XXXX"))


DeclMutation = Callable[[Declaration], Declaration]
RULES_323: list[tuple[str, DeclMutation, tuple[str, ...]]] = [
    ("CS002", broken_check_digit, ("CS002",)),
    ("TR358", wrong_total, ("TR358",)),
    ("TR346", amount_not_volume_times_tariff, ("TR346",)),
    ("TR314", reference_in_two_clients, ("TR314",)),
    ("TR101", client_twice, ("TR101",)),
    ("CS340", period_not_whole_month, ("CS340",)),
    ("CD060", debit_with_previous_reference, ("CD060",)),
    ("TR416", same_debit_twice, ("TR416",)),
    ("TR319", product_period_after_declaration_period, ("TR319",)),
    ("CS337", product_period_two_months, ("CS337",)),
    ("TR135", message_date_in_future, ("TR135",)),
    ("CS002+TR358", lambda d: wrong_total(broken_check_digit(d)), ("CS002", "TR358")),
]


def before_ontvanger(data: bytes, insert: bytes) -> bytes:
    """``insert`` placed just before the Ontvanger start tag (after Afzender)."""
    at = data.rindex(b"<", 0, data.index(b"Ontvanger>"))
    return data[:at] + insert + data[at:]


# Byte-level mutations of a rendered 323: (case, mutation, stage, codes, type known?)
ByteMutation = Callable[[bytes], bytes]
BYTES_323: list[tuple[str, ByteMutation, str, tuple[str, ...], bool]] = [
    ("bom", lambda b: b"\xef\xbb\xbf" + b, "transport", ("BOM",), False),
    (
        "latin1",
        lambda b: b.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1),
        "transport",
        ("ENCODING",),
        False,
    ),
    (
        "invalid-utf8",
        lambda b: b.replace(b"Identificatie>", b"Identificatie>\xff", 1),
        "transport",
        ("ENCODING",),
        False,
    ),
    ("doctype", lambda b: b.replace(b"?>", b"?><!DOCTYPE Bericht>", 1), "transport", ("DOCTYPE",), False),
    ("truncated", lambda b: b[: len(b) // 2], "transport", ("NOT_WELL_FORMED",), False),
    ("empty", lambda b: b"", "transport", ("NOT_WELL_FORMED",), False),
    ("release-3_1", lambda b: b.replace(b"/3_2/", b"/3_1/"), "transport", ("UNKNOWN_TYPE",), False),
    (
        "no-namespace",
        lambda b: b.replace(b"http://www.istandaarden.nl/", b"urn:x:"),
        "transport",
        ("UNKNOWN_TYPE",),
        False,
    ),
    (
        "namespaces",
        lambda b: b.replace(
            b"Bericht ",
            b"Bericht " + b" ".join(b'xmlns:n%d="urn:n:%d"' % (k, k) for k in range(40)) + b" ",
            1,
        ),
        "transport",
        ("NAMESPACES",),
        False,
    ),
    ("depth", lambda b: b.replace(b"?>", b"?>" + b"<a>" * 300, 1), "transport", ("DEPTH",), False),
    (
        "root-name",
        lambda b: b.replace(b":Bericht ", b":Berichten ").replace(b":Bericht>", b":Berichten>"),
        "schema",
        ("XSD",),
        True,
    ),
    ("foreign-element", lambda b: before_ontvanger(b, b'<x:y xmlns:x="urn:x"/>'), "schema", ("XSD",), True),
]


def build_corpus() -> list[Expected]:
    corpus: list[Expected] = []
    families: tuple[Family, Family] = ("ijw", "iwmo")
    # Valid messages: 8 seeds x (323, 325), both families, both namespace forms.
    for seed in range(8):
        family = families[seed % 2]
        d = declaration(100 + seed, family, clients=1 + seed % 3)
        prefixed = seed % 3 != 0
        corpus.append(Expected(f"valid-323-{seed}", render(d, prefixed=prefixed), TYPES[family, "323"], None))
        corpus.append(
            Expected(f"valid-325-{seed}", render(answer(d), prefixed=prefixed), TYPES[family, "325"], None)
        )
    # More valid 323s on one line with LF line ends (the form a program would send).
    for seed in range(8, 12):
        family = families[seed % 2]
        d = declaration(100 + seed, family, clients=3)
        corpus.append(
            Expected(f"valid-323-{seed}", render(d, crlf=False, indent=False), TYPES[family, "323"], None)
        )
    # Rule mutations of 323s: each on its own seed, alternating families.
    for n, (case, mutate, codes) in enumerate(RULES_323):
        family = families[n % 2]
        d = declaration(200 + n, family)
        corpus.append(Expected(f"rules-{case}", render(mutate(d)), TYPES[family, "323"], "rules", codes))
    # The family not yet covered for a few rules.
    for n, (case, mutate, codes) in enumerate(RULES_323[:4]):
        family = families[(n + 1) % 2]
        d = declaration(300 + n, family)
        corpus.append(
            Expected(
                f"rules-{case}-b", render(mutate(d), prefixed=False), TYPES[family, "323"], "rules", codes
            )
        )
    # Rule and schema mutations of 325s, both families.
    for n, family in enumerate(families):
        a = answer(declaration(400 + n, family))
        kind = TYPES[family, "325"]
        corpus.append(
            Expected(f"rules-TR342-{family}", render(granted_off_by_one(a)), kind, "rules", ("TR342",))
        )
        corpus.append(
            Expected(f"rules-CS319-{family}", render(answer_number_with_dash(a)), kind, "rules", ("CS319",))
        )
        corpus.append(
            Expected(f"xsd-retourcode-{family}", render(answer_bad_retourcode(a)), kind, "schema", ("XSD",))
        )
    # Schema mutations of 323s.
    for n, family in enumerate(families):
        kind = TYPES[family, "323"]
        corpus.append(
            Expected(
                f"xsd-bsn-{family}", render(short_bsn(declaration(500 + n, family))), kind, "schema", ("XSD",)
            )
        )
        corpus.append(
            Expected(
                f"xsd-number-{family}",
                render(bad_declaration_number(declaration(510 + n, family))),
                kind,
                "schema",
                ("XSD",),
            )
        )
    # Byte-level mutations (transport and schema).
    for n, (case, edit_bytes, stage, codes, typed) in enumerate(BYTES_323):
        family = families[n % 2]
        data = edit_bytes(render(declaration(600 + n, family)))
        corpus.append(
            Expected(f"{stage}-{case}", data, TYPES[family, "323"] if typed else None, stage, codes)
        )
    return corpus


CORPUS = build_corpus()
ZIP_MEMBERS = [0, 1, 17, 30, 45]  # indexes into CORPUS: valid and invalid messages of several kinds
ZIP_POSITION = 20  # the archive sorts among the files at this position


@dataclass(frozen=True)
class Line:
    source: str
    message_type: str | None
    valid: bool
    stage: str | None
    codes: list[str]


def expected_line(source: str, e: Expected) -> Line:
    return Line(source, e.message_type, e.valid, e.stage, sorted(e.codes))


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Line]]:
    """The corpus on disk (``NNN_<case>.xml`` plus one ZIP) and the expected output lines, in order."""
    directory = tmp_path_factory.mktemp("corpus")
    expected: list[Line] = []
    position = 0
    for entry in CORPUS:
        if position == ZIP_POSITION:
            name = f"{position:03d}_batch.zip"
            members = [(f"m{k}_{CORPUS[k].case}.xml", CORPUS[k].data) for k in ZIP_MEMBERS]
            (directory / name).write_bytes(zip_bytes(members))
            for (member, _), k in zip(members, ZIP_MEMBERS, strict=True):
                expected.append(expected_line(f"{directory}/{name}!{member}", CORPUS[k]))
            position += 1
        name = f"{position:03d}_{entry.case}.xml"
        (directory / name).write_bytes(entry.data)
        expected.append(expected_line(f"{directory}/{name}", entry))
        position += 1
    return directory, expected


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "validate", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def parse_lines(stdout: str) -> list[Line]:
    """Every stdout line is one JSON object with exactly the contract's keys."""
    lines = []
    for text in stdout.splitlines():
        record = json.loads(text)
        assert isinstance(record, dict)
        assert set(record) == KEYS
        for error in record["errors"]:
            assert set(error) == {"code", "retourcode", "path", "message"}
        lines.append(
            Line(
                record["source"],
                record["message_type"],
                record["valid"],
                record["stage"],
                sorted(e["code"] for e in record["errors"]),
            )
        )
    return lines


@pytest.fixture(scope="module")
def runs(corpus_dir: tuple[Path, list[Line]]) -> dict[int, subprocess.CompletedProcess[str]]:
    """The CLI over the corpus directory with 2 workers (process pool) and with 1 worker."""
    directory, _ = corpus_dir
    return {workers: run_cli("--json", "--workers", str(workers), str(directory)) for workers in (2, 1)}


def test_corpus_size(corpus_dir: tuple[Path, list[Line]]) -> None:
    """The corpus is about 60 files (enough for the worker pool) and covers every stage and both families."""
    directory, expected = corpus_dir
    assert 55 <= len(list(directory.iterdir())) <= 70
    assert {e.stage for e in expected} == {None, "transport", "schema", "rules"}
    assert {e.message_type for e in expected} == {None, "JW323", "JW325", "WMO323", "WMO325"}


@pytest.mark.parametrize("workers", [2, 1])
def test_every_line_is_as_expected(
    workers: int, runs: dict[int, subprocess.CompletedProcess[str]], corpus_dir: tuple[Path, list[Line]]
) -> None:
    """Each message: source, type, validity, stage and the exact sorted error codes, in input order."""
    _, expected = corpus_dir
    result = runs[workers]
    assert result.returncode == 1
    assert result.stderr == ""
    actual = parse_lines(result.stdout)
    assert [line.source for line in actual] == [line.source for line in expected]
    assert actual == expected


def test_worker_count_does_not_change_the_output(runs: dict[int, subprocess.CompletedProcess[str]]) -> None:
    """--workers 2 and --workers 1 print byte-identical output."""
    assert runs[2].stdout == runs[1].stdout
    assert runs[2].stdout.count("\n") == len(CORPUS) + len(ZIP_MEMBERS)


def test_error_details_follow_the_contract(runs: dict[int, subprocess.CompletedProcess[str]]) -> None:
    """Transport/schema errors have no retourcode; rule errors carry a 4-character retourcode (or none)."""
    for text in runs[1].stdout.splitlines():
        record = json.loads(text)
        for error in record["errors"]:
            assert error["message"]
            if record["stage"] in ("transport", "schema"):
                assert error["retourcode"] is None
            if record["stage"] == "transport":
                assert error["path"] is None
            if record["stage"] in ("schema", "rules") and error["path"] is not None:
                assert error["path"].startswith("/")
            if record["stage"] == "rules":
                assert error["retourcode"] is None or len(error["retourcode"]) == 4
                assert error["path"].startswith("/Bericht/")


def test_valid_only_directory_exits_zero(tmp_path: Path) -> None:
    """A directory of valid messages only: exit 0, every line valid with no errors."""
    valid = [e for e in CORPUS if e.valid][:6]
    for n, entry in enumerate(valid):
        (tmp_path / f"{n:03d}_{entry.case}.xml").write_bytes(entry.data)
    result = run_cli("--json", str(tmp_path))
    assert result.returncode == 0
    assert result.stderr == ""
    lines = parse_lines(result.stdout)
    assert [line.source for line in lines] == [
        f"{tmp_path}/{n:03d}_{e.case}.xml" for n, e in enumerate(valid)
    ]
    assert all(line.valid and line.stage is None and line.codes == [] for line in lines)
    assert [line.message_type for line in lines] == [e.message_type for e in valid]


def test_missing_path_exits_two(tmp_path: Path) -> None:
    """A path that does not exist: exit 2, a message on stderr naming it, nothing on stdout."""
    missing = tmp_path / "no-such-dir"
    result = run_cli("--json", str(missing))
    assert result.returncode == 2
    assert result.stdout == ""
    assert str(missing) in result.stderr


def test_missing_path_among_good_ones_exits_two_before_any_output(tmp_path: Path) -> None:
    """One unreadable path among readable ones is a usage error: exit 2 and nothing on stdout."""
    good = tmp_path / "good.xml"
    good.write_bytes(CORPUS[0].data)
    result = run_cli("--json", str(good), str(tmp_path / "absent.xml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "absent.xml" in result.stderr
