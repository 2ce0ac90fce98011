"""Canary tests: no output of ``validate`` ever contains a submitted value of a person (interfaces.md).

Canary BSNs (eleven-test valid and invalid), names, birth dates and diagnosis-like codes are planted in every
place a sender controls: element values that fail the XSD or a rule, comments, processing instructions, CDATA,
foreign element and attribute names and values, ``xsi:nil``/``xsi:type``, namespace URIs, the XML declaration,
DOCTYPEs, 325 answers and ZIP member names. Each message is run through the CLI (in-process and as a
subprocess), with human and JSON output, and neither standard output nor standard error may contain a canary.

Files are named without canaries (the ``source`` field legitimately echoes the path), except in the ZIP
member-name test, where the canary may appear only inside the ``source`` value. Assertion messages name the
canary kind, never the canary.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.results import Stage
from gateway.testing.builders import Answer, Client, answer_for, bsn_is_valid, render
from tests.helpers import BASE, LINE_A, LINE_B, LINE_C, LINE_D, TODAY, validator

BSN_OK = "111222333"  # passes the eleven-test
BSN_BAD = "246813570"  # fails the eleven-test
NAME = "Jansen"
NAME_2 = "Pietersen-de Vries"
BIRTH = "1987-03-14"
BIRTH_NL = "14-03-1987"
DIAG = "F90.0"
DIAG_2 = "F32.1"

# Looked for in every output: (kind shown on failure, text, case-insensitive?)
CANARIES: tuple[tuple[str, str, bool], ...] = (
    ("bsn-valid", BSN_OK, False),
    ("bsn-invalid", BSN_BAD, False),
    ("name", NAME, True),
    ("name-2", "Pietersen", True),
    ("name-2-tail", "Vries", True),
    ("birth-date", BIRTH, False),
    ("birth-date-nl", BIRTH_NL, False),
    ("birth-month", "1987-03", False),
    ("birth-date-nl-part", "14-03", False),
    ("diagnosis", DIAG, False),
    ("diagnosis-2", DIAG_2, False),
    ("diagnosis-stem", "F90", False),
    ("diagnosis-2-stem", "F32", False),
)


def leaked(text: str) -> list[str]:
    """The kinds of canary found in ``text`` (never the canary itself, so failures print no personal data)."""
    lowered = text.lower()
    return [
        kind for kind, canary, fold in CANARIES if (canary.lower() in lowered if fold else canary in text)
    ]


# --------------------------------------------------------------------------------------------------
# The planted messages

# The base declaration with a canary (eleven-test valid) BSN for the first client: valid as it stands.
PBASE = replace(BASE, clients=(Client(BSN_OK, (LINE_A, LINE_B)), Client("999900018", (LINE_C, LINE_D))))
PBASE_XML = render(PBASE)
BSN_ELEMENT = f"<jw323:Bsn>{BSN_OK}</jw323:Bsn>".encode()
AFZENDER = b"<jw323:Afzender>12345678</jw323:Afzender>"
XSI = b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def edit(old: bytes, new: bytes, data: bytes = PBASE_XML) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def with_clients(*clients: Client) -> bytes:
    return render(replace(PBASE, clients=clients))


def answer(**changes: object) -> Answer:
    """A JW325 rejecting line R2 of PBASE (so the canary client is returned)."""
    base = answer_for(PBASE, message_date=date(2025, 10, 20), rejected={"R1": ("9346",)})
    return replace(base, **changes)  # type: ignore[arg-type]


def answer_with_body(**changes: object) -> bytes:
    base = answer()
    assert base.body is not None
    return render(replace(base, body=replace(base.body, **changes)))  # type: ignore[arg-type]


def returned_client(bsn: str) -> Client:
    """The client returned in the 325, with another BSN."""
    body = answer().body
    assert body is not None
    return replace(body.clients[0], bsn=bsn)


def period(day: str) -> tuple[date, date]:
    d = date.fromisoformat(day)
    return (d, d)


CANARY_TEXT = f"{NAME_2} {BSN_OK} {BIRTH} {DIAG}"


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    stage: Stage | None  # where the message stops (None: valid, the canary must vanish anyway)


CASES: list[Case] = [
    # --- values of the message's own elements
    Case(
        "bsn-fails-eleven-test",
        with_clients(Client(BSN_BAD, (LINE_A, LINE_B)), PBASE.clients[1]),
        Stage.RULES,
    ),
    Case("bsn-ten-digits", edit(BSN_ELEMENT, f"<jw323:Bsn>{BSN_OK}4</jw323:Bsn>".encode()), Stage.SCHEMA),
    Case("bsn-letters", edit(BSN_ELEMENT, f"<jw323:Bsn>{NAME}</jw323:Bsn>".encode()), Stage.SCHEMA),
    Case("bsn-with-spaces", edit(BSN_ELEMENT, f"<jw323:Bsn> {BSN_OK} </jw323:Bsn>".encode()), Stage.SCHEMA),
    Case("bsn-twice", with_clients(PBASE.clients[0], Client(BSN_OK, (LINE_C, LINE_D))), Stage.RULES),
    Case(
        "bsn-invalid-twice",
        with_clients(Client(BSN_BAD, (LINE_A, LINE_B)), Client(BSN_BAD, (LINE_C, LINE_D))),
        Stage.RULES,
    ),
    Case(
        "reference-name-duplicated",
        with_clients(
            Client(BSN_OK, (replace(LINE_A, reference=NAME), LINE_B)),
            Client("999900018", (replace(LINE_C, reference=NAME), LINE_D)),
        ),
        Stage.RULES,
    ),
    Case(
        "reference-too-long",
        with_clients(Client(BSN_OK, (replace(LINE_A, reference=CANARY_TEXT * 3), LINE_B)), PBASE.clients[1]),
        Stage.SCHEMA,
    ),
    Case(
        "previous-reference-on-debit",
        with_clients(Client(BSN_OK, (replace(LINE_A, previous_reference=DIAG), LINE_B)), PBASE.clients[1]),
        Stage.RULES,
    ),
    Case("declaration-number-diagnosis", render(replace(PBASE, number=DIAG)), Stage.SCHEMA),
    Case("declaration-number-name", render(replace(PBASE, number=f"{NAME_2}")), Stage.SCHEMA),
    Case(
        "product-code-diagnosis-too-long",
        with_clients(Client(BSN_OK, (replace(LINE_A, code=f"{DIAG} {NAME}"), LINE_B)), PBASE.clients[1]),
        Stage.SCHEMA,
    ),
    Case(
        "product-category-diagnosis",
        with_clients(Client(BSN_OK, (replace(LINE_A, category=DIAG_2), LINE_B)), PBASE.clients[1]),
        Stage.SCHEMA,
    ),
    Case(
        "product-code-diagnosis-with-rule-error",
        with_clients(Client(BSN_BAD, (replace(LINE_A, code=DIAG), LINE_B)), PBASE.clients[1]),
        Stage.RULES,
    ),
    Case("identificatie", render(replace(PBASE, message_id=f"{NAME}-{BSN_OK}-{DIAG}")), Stage.SCHEMA),
    Case("afzender-bsn", edit(AFZENDER, f"<jw323:Afzender>{BSN_OK}</jw323:Afzender>".encode()), Stage.SCHEMA),
    Case(
        "date-dutch-format",
        edit(
            b">2025-10-06</jw323:DeclaratieDagtekening>",
            f">{BIRTH_NL}</jw323:DeclaratieDagtekening>".encode(),
        ),
        Stage.SCHEMA,
    ),
    Case(
        "date-impossible",
        edit(b">2025-10-06</jw323:DeclaratieDagtekening>", b">1987-02-30</jw323:DeclaratieDagtekening>"),
        Stage.SCHEMA,
    ),
    Case(
        "birth-date-as-product-period",
        with_clients(Client(BSN_OK, (replace(LINE_A, period=period(BIRTH)), LINE_B)), PBASE.clients[1]),
        Stage.RULES,
    ),
    Case("birth-date-as-message-date", render(replace(PBASE, message_date=date(1987, 3, 14))), Stage.RULES),
    Case(
        "text-in-container",
        edit(b"<jw323:Clienten>", f"<jw323:Clienten>{CANARY_TEXT}".encode()),
        Stage.SCHEMA,
    ),
    Case("bsn-in-header", edit(AFZENDER, AFZENDER + BSN_ELEMENT), Stage.SCHEMA),
    # --- comments, processing instructions, CDATA
    Case("comment-valid", edit(BSN_ELEMENT, f"<!-- {CANARY_TEXT} {DIAG_2} -->".encode() + BSN_ELEMENT), None),
    Case(
        "comment-with-error",
        edit(AFZENDER, f"<!-- {CANARY_TEXT} --><jw323:Afzender>1</jw323:Afzender>".encode()),
        Stage.SCHEMA,
    ),
    Case("pi-valid", edit(BSN_ELEMENT, f"<?diagnose {CANARY_TEXT} {DIAG_2}?>".encode() + BSN_ELEMENT), None),
    Case(
        "pi-inside-bsn",
        edit(BSN_ELEMENT, f"<jw323:Bsn>{BSN_BAD[:4]}<?x {NAME}?>{BSN_BAD[4:]}</jw323:Bsn>".encode()),
        Stage.RULES,
    ),
    Case(
        "cdata-invalid-bsn",
        edit(BSN_ELEMENT, f"<jw323:Bsn><![CDATA[{BSN_BAD}]]></jw323:Bsn>".encode()),
        Stage.RULES,
    ),
    Case(
        "cdata-long-bsn",
        edit(BSN_ELEMENT, f"<jw323:Bsn><![CDATA[{CANARY_TEXT}]]></jw323:Bsn>".encode()),
        Stage.SCHEMA,
    ),
    # --- foreign elements and attributes
    Case(
        "foreign-element-name",
        edit(AFZENDER, f"<jw323:X{BSN_OK}>{NAME}</jw323:X{BSN_OK}>".encode() + AFZENDER),
        Stage.SCHEMA,
    ),
    Case(
        "foreign-element-namespace",
        edit(
            AFZENDER, f'<{DIAG} xmlns="urn:diagnose:{DIAG_2}:{BSN_OK}">{NAME_2}</{DIAG}>'.encode() + AFZENDER
        ),
        Stage.SCHEMA,
    ),
    Case(
        "foreign-element-prefix",
        edit(AFZENDER, f'<{NAME}:X{BSN_BAD} xmlns:{NAME}="urn:{BIRTH}"/>'.encode() + AFZENDER),
        Stage.SCHEMA,
    ),
    Case(
        "foreign-element-in-leaf",
        edit(BSN_ELEMENT, f"<jw323:Bsn><jw323:{NAME}/>{BSN_OK}</jw323:Bsn>".encode()),
        Stage.SCHEMA,
    ),
    Case(
        "foreign-attribute-on-bsn",
        edit(BSN_ELEMENT, f'<jw323:Bsn {NAME}="{BIRTH}" {DIAG}="{BSN_BAD}">{BSN_OK}</jw323:Bsn>'.encode()),
        Stage.SCHEMA,
    ),
    Case(
        "foreign-attribute-on-root",
        edit(b"<jw323:Bericht ", f'<jw323:Bericht X{BSN_OK}="{NAME_2}" '.encode()),
        Stage.SCHEMA,
    ),
    Case(
        "foreign-namespaced-attribute",
        edit(
            BSN_ELEMENT, f'<jw323:Bsn xmlns:d="urn:{DIAG}" d:{NAME}="{DIAG_2}">{BSN_OK}</jw323:Bsn>'.encode()
        ),
        Stage.SCHEMA,
    ),
    Case(
        "xsi-nil",
        edit(BSN_ELEMENT, f'<jw323:Bsn {XSI.decode()} xsi:nil="true">{BSN_OK}</jw323:Bsn>'.encode()),
        Stage.SCHEMA,
    ),
    Case(
        "xsi-type",
        edit(BSN_ELEMENT, f'<jw323:Bsn {XSI.decode()} xsi:type="jw323:{DIAG}">{BSN_OK}</jw323:Bsn>'.encode()),
        Stage.SCHEMA,
    ),
    Case(
        "xsi-type-foreign-namespace",
        edit(
            BSN_ELEMENT,
            f'<jw323:Bsn {XSI.decode()} xmlns:{NAME}="urn:{BSN_OK}" xsi:type="{NAME}:X{BIRTH_NL}">'
            f"{BSN_OK}</jw323:Bsn>".encode(),
        ),
        Stage.SCHEMA,
    ),
    # --- namespaces, XML declaration, DOCTYPE, root
    Case(
        "extra-namespace-uri",
        edit(
            b"<jw323:Bericht ",
            f'<jw323:Bericht xmlns:{NAME}="urn:{DIAG}:{BSN_OK}:{BIRTH}" '.encode(),
            with_clients(Client(BSN_BAD, (LINE_A, LINE_B)), PBASE.clients[1]),
        ),
        Stage.RULES,
    ),
    Case(
        "root-namespace-uri",
        PBASE_XML.replace(
            b"http://www.istandaarden.nl/ijw/3_2/jw323/schema", f"urn:{NAME}:{BSN_OK}:{DIAG}".encode()
        ),
        Stage.TRANSPORT,
    ),
    Case(
        "root-name-known-namespace",
        PBASE_XML.replace(b"jw323:Bericht", f"jw323:{NAME}{BSN_OK}".encode()),
        Stage.SCHEMA,
    ),
    Case("root-name-no-namespace", f"<{NAME}{BSN_OK}>{DIAG}</{NAME}{BSN_OK}>".encode(), Stage.TRANSPORT),
    Case(
        "many-namespaces",
        edit(
            b"<jw323:Bericht ",
            b"<jw323:Bericht "
            + b" ".join(f'xmlns:{NAME}{k}="urn:{BSN_OK}:{k}"'.encode() for k in range(40))
            + b" ",
        ),
        Stage.TRANSPORT,
    ),
    Case(
        "xml-declaration-encoding", edit(b'encoding="UTF-8"', f'encoding="{DIAG}"'.encode()), Stage.TRANSPORT
    ),
    Case("xml-declaration-version", edit(b'version="1.0"', f'version="{BIRTH}"'.encode()), Stage.TRANSPORT),
    Case(
        "xml-declaration-standalone",
        edit(b'encoding="UTF-8"', f'encoding="UTF-8" standalone="{NAME}"'.encode()),
        Stage.TRANSPORT,
    ),
    Case(
        "doctype",
        edit(b"<jw323:Bericht ", f'<!DOCTYPE {NAME} [<!ENTITY {DIAG} "{BSN_OK}">]><jw323:Bericht '.encode()),
        Stage.TRANSPORT,
    ),
    Case(
        "doctype-system",
        edit(b"<jw323:Bericht ", f'<!DOCTYPE {NAME} SYSTEM "{BSN_OK}.dtd"><jw323:Bericht '.encode()),
        Stage.TRANSPORT,
    ),
    Case("byte-order-mark", b"\xef\xbb\xbf" + PBASE_XML, Stage.TRANSPORT),
    Case(
        "latin-1",
        edit(AFZENDER, f"<jw323:X>{NAME_2}\xe9</jw323:X>".encode("latin-1") + AFZENDER),
        Stage.TRANSPORT,
    ),
    Case(
        "mismatched-tag", edit(BSN_ELEMENT, f"<jw323:Bsn>{BSN_OK}</jw323:{NAME}>".encode()), Stage.TRANSPORT
    ),
    Case(
        "undefined-entity",
        edit(BSN_ELEMENT, f"<jw323:Bsn>&{NAME};{BSN_OK}</jw323:Bsn>".encode()),
        Stage.TRANSPORT,
    ),
    Case(
        "deep-nesting",
        edit(AFZENDER, f"<{NAME}>".encode() * 300 + f"</{NAME}>".encode() * 300),
        Stage.TRANSPORT,
    ),
    Case("plain-text", f"{BSN_OK};{NAME_2};{BIRTH};{DIAG}\n".encode(), Stage.TRANSPORT),
    # --- 325 answers
    Case("answer-valid-with-canary-client", render(answer()), None),
    Case(
        "answer-bsn-fails-eleven-test",
        answer_with_body(clients=(returned_client(BSN_BAD),)),
        Stage.RULES,
    ),
    Case(
        "answer-bsn-ten-digits",
        answer_with_body(clients=(returned_client(BSN_OK + "1"),)),
        Stage.SCHEMA,
    ),
    Case("answer-declaration-number", answer_with_body(number=DIAG), Stage.RULES),
    Case(
        "answer-identificatie",
        render(answer(declaration_id=(f"{NAME}{BSN_OK}", date(2025, 10, 6)))),
        Stage.SCHEMA,
    ),
    Case("answer-granted-wrong", answer_with_body(total_granted=(1987, "D")), Stage.RULES),
    Case(
        "answer-comment",
        edit(
            b"<jw325:Bsn>",
            f"<!-- {CANARY_TEXT} --><jw325:Bsn>".encode(),
            answer_with_body(total_granted=(1, "D")),
        ),
        Stage.RULES,
    ),
]

CASE_BY_NAME = {c.name: c for c in CASES}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``jwmo-gateway validate ARGS`` in-process; return (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = main(["validate", "--workers", "1", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWMO_MAX_MESSAGE_BYTES", "JWMO_SCHEMA_DIR"):
        monkeypatch.delenv(name, raising=False)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}


def test_canaries_are_what_they_claim() -> None:
    """Control: the BSN canaries pass/fail the eleven-test as intended and the base message is valid."""
    assert bsn_is_valid(BSN_OK)
    assert not bsn_is_valid(BSN_BAD)
    verdict = validator().validate(PBASE_XML, "p.xml", today=TODAY)
    assert verdict.valid
    assert leaked(PBASE_XML.decode()) == ["bsn-valid"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_carries_a_canary_and_stops_where_planned(case: Case) -> None:
    """Each planted message holds a canary and fails at the planned stage (so error paths are exercised)."""
    assert leaked(case.data.decode("utf-8", "replace"))
    verdict = validator().validate(case.data, "p.xml", today=TODAY)
    assert verdict.stage is case.stage
    assert verdict.valid is (case.stage is None)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_output_never_contains_a_canary(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON and human output of one planted message: no canary on stdout or stderr."""
    path = tmp_path / "message.xml"
    path.write_bytes(case.data)
    status, out, err = cli(capsys, "--json", str(path))
    assert status == (0 if case.stage is None else 1)
    record = json.loads(out)
    assert record["stage"] == (None if case.stage is None else case.stage.value)
    assert leaked(out) == []
    assert leaked(err) == []
    status, out, err = cli(capsys, str(path))
    assert status == (0 if case.stage is None else 1)
    assert leaked(out) == []
    assert leaked(err) == []


@pytest.fixture(scope="module")
def planted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every planted message in one directory, under neutral names."""
    directory = tmp_path_factory.mktemp("planted")
    for number, case in enumerate(CASES, start=1):
        (directory / f"m{number:03d}.xml").write_bytes(case.data)
    return directory


def test_directory_run_in_process(planted_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole planted directory in one run: every verdict present, no canary in JSON or human output."""
    status, out, err = cli(capsys, "--json", str(planted_dir))
    assert status == 1
    lines = out.splitlines()
    assert len(lines) == len(CASES)
    assert [json.loads(line)["stage"] for line in lines] == [
        None if c.stage is None else c.stage.value for c in CASES
    ]
    assert leaked(out) == []
    assert leaked(err) == []
    status, out, err = cli(capsys, str(planted_dir))
    assert status == 1
    assert len(out.splitlines()) == len(CASES) + 1
    assert leaked(out) == []
    assert leaked(err) == []


def run_gateway(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "validate", *args],
        input=data,
        capture_output=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def test_directory_run_as_subprocess(planted_dir: Path) -> None:
    """`python -m gateway validate` (JSON with the worker pool, and human): no canary in stdout or stderr."""
    result = run_gateway("--json", "--workers", "2", str(planted_dir))
    assert result.returncode == 1
    out, err = result.stdout.decode(), result.stderr.decode()
    assert len(out.splitlines()) == len(CASES)
    assert leaked(out) == []
    assert leaked(err) == []
    result = run_gateway(str(planted_dir))
    assert result.returncode == 1
    assert leaked(result.stdout.decode()) == []
    assert leaked(result.stderr.decode()) == []


@pytest.mark.parametrize("name", ["bsn-fails-eleven-test", "foreign-attribute-on-bsn", "doctype"])
def test_standard_input_as_subprocess(name: str) -> None:
    """A planted message on standard input ('-'): reported with source '-' and no canary anywhere."""
    result = run_gateway("--json", "-", data=CASE_BY_NAME[name].data)
    assert result.returncode == 1
    assert json.loads(result.stdout)["source"] == "-"
    assert leaked(result.stdout.decode()) == []
    assert leaked(result.stderr.decode()) == []


def echo_answers() -> list[tuple[str, bytes]]:
    """325s that fail the echo rules against PBASE, each with a canary where the rule looks."""
    base = answer()
    body = base.body
    assert body is not None
    client = body.clients[0]
    renamed = replace(client, lines=(replace(client.lines[0], reference=NAME),))
    return [
        ("TR367", render(replace(base, body=replace(body, clients=(returned_client("999900018"),))))),
        ("TR366", render(replace(base, body=replace(body, clients=(renamed,))))),
        ("TR337", render(replace(base, declaration_id=(f"F{BSN_OK}", date(2025, 10, 6))))),
        ("TR376", render(replace(base, body=replace(body, number=f"F90{BSN_BAD}")))),
    ]


def test_echo_rules_never_quote_either_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--declaration: the echo rules (TR367, TR366, TR337, TR376) report without quoting 323 or 325 values."""
    declaration = tmp_path / "declaration.xml"
    declaration.write_bytes(PBASE_XML)
    answers = echo_answers()
    for number, (_, data) in enumerate(answers, start=1):
        (tmp_path / f"a{number}.xml").write_bytes(data)
    paths = [str(tmp_path / f"a{n}.xml") for n in range(1, len(answers) + 1)]
    status, out, err = cli(capsys, "--json", "--declaration", str(declaration), *paths)
    assert status == 1
    assert [[e["code"] for e in json.loads(line)["errors"]] for line in out.splitlines()] == [
        [code] for code, _ in answers
    ]
    assert leaked(out) == []
    assert leaked(err) == []
    status, out, err = cli(capsys, "--declaration", str(declaration), *paths)
    assert status == 1
    assert leaked(out + err) == []


# --------------------------------------------------------------------------------------------------
# ZIP member names

MEMBERS: list[tuple[str, bytes]] = [
    (f"{BSN_OK}_{NAME}_{DIAG}.xml", CASE_BY_NAME["bsn-fails-eleven-test"].data),
    (f"{NAME_2} {BIRTH}.xml", PBASE_XML),
    (f"{DIAG_2} {BSN_BAD} {BIRTH_NL}.xml", CASE_BY_NAME["foreign-attribute-on-bsn"].data),
    (f"{NAME}.txt", CASE_BY_NAME["mismatched-tag"].data),
]


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def strip_sources(out: str, sources: list[str]) -> str:
    """Human output with each line's leading 'SOURCE: ' removed (the source may echo a member name)."""
    kept = []
    lines = out.splitlines()
    assert len(lines) == len(sources) + 1  # one line per member and the summary
    for line, source in zip(lines, [*sources, ""], strict=True):
        prefix = f"{source}: " if source else ""
        starts = line.startswith(prefix)
        assert starts, "a human line does not start with its source"
        kept.append(line[len(prefix) :])
    return "\n".join(kept)


def check_zip_json(out: str, archive: Path) -> None:
    records = [json.loads(line) for line in out.splitlines()]
    sources = [f"{archive}!{name}" for name, _ in MEMBERS]
    assert len(records) == len(sources)
    wrong = [i for i, (r, source) in enumerate(zip(records, sources, strict=True)) if r["source"] != source]
    assert wrong == [], "sources differ from archive.zip!member (by index)"
    assert [r["valid"] for r in records] == [False, True, False, False]
    for record in records:
        rest = {k: v for k, v in record.items() if k != "source"}
        assert leaked(json.dumps(rest, ensure_ascii=False)) == []
    without_sources = out
    for source in sources:
        without_sources = without_sources.replace(json.dumps(source, ensure_ascii=False), '""')
    assert leaked(without_sources) == []


def test_zip_member_names_appear_only_in_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Canaries in ZIP member names show only in the `archive.zip!member` sources, never in errors."""
    archive = tmp_path / "batch.zip"
    archive.write_bytes(zip_of(MEMBERS))
    status, out, err = cli(capsys, "--json", str(archive))
    assert status == 1
    assert leaked(out)  # control: the names do appear (in the sources)
    check_zip_json(out, archive)
    assert leaked(err) == []
    status, out, err = cli(capsys, str(archive))
    assert status == 1
    assert leaked(strip_sources(out, [f"{archive}!{name}" for name, _ in MEMBERS])) == []
    assert leaked(err) == []


def test_zip_member_names_as_subprocess(tmp_path: Path) -> None:
    """The same archive through `python -m gateway validate --json`: canaries only inside the sources."""
    archive = tmp_path / "batch.zip"
    archive.write_bytes(zip_of(MEMBERS))
    result = run_gateway("--json", str(archive))
    assert result.returncode == 1
    check_zip_json(result.stdout.decode(), archive)
    assert leaked(result.stderr.decode()) == []


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([(f"../{BSN_OK}_{NAME}.xml", PBASE_XML)], id="dotdot-name"),
        pytest.param([(f"{DIAG}/{BSN_OK}.xml", PBASE_XML)], id="folder-in-name"),
        pytest.param([(f"{NAME}.xml", PBASE_XML), (f"{NAME}.xml", PBASE_XML)], id="duplicate-name"),
        pytest.param([(f"{BSN_OK}.zip", zip_of([("a.xml", PBASE_XML)]))], id="nested-archive"),
    ],
)
def test_refused_archive_never_names_its_members(
    members: list[tuple[str, bytes]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A whole-archive refusal is one transport result for the archive; no member name appears at all."""
    archive = tmp_path / "refused.zip"
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as z:
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate name we want
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name), data)
    archive.write_bytes(buffer.getvalue())
    status, out, err = cli(capsys, "--json", str(archive))
    assert status == 1
    record = json.loads(out)
    assert (record["source"], record["stage"], record["message_type"]) == (str(archive), "transport", None)
    assert record["errors"][0]["code"].startswith("ZIP_")
    assert leaked(out) == []
    assert leaked(err) == []
    status, out, err = cli(capsys, str(archive))
    assert leaked(out + err) == []


def test_unreadable_path_error_does_not_read_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing path is a usage error (exit 2) naming only the path given; nothing on stdout."""
    status, out, err = cli(capsys, "--json", str(tmp_path / "absent.xml"))
    assert status == 2
    assert out == ""
    assert "absent.xml" in err
