"""``jwmo-gateway validate`` on JW321/JW322 files: type, stage and codes per file, directories, ZIPs and
worker processes, and the shipped examples."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.batch import POOL_THRESHOLD
from gateway.cli import main
from gateway.testing.builders_ei import render_ei, replace_field
from tests.fixedwidth.base import EXAMPLES, generated, generated_answer, records, with_records


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, object]], str]:
    code = main(["validate", "--json", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def summary(obj: dict[str, object]) -> tuple[object, object, object, list[object]]:
    errors = obj["errors"]
    assert isinstance(errors, list)
    return obj["message_type"], obj["valid"], obj["stage"], [e["code"] for e in errors]


def corpus(directory: Path) -> dict[str, tuple[object, object, object, list[object]]]:
    """Generated files, valid and broken, of both types; returns the expected summary per file name."""
    decl, ans = generated(11), generated_answer(11)
    jw321, jw322 = render_ei(decl), render_ei(ans)
    parts = records(jw321)
    # A new BSN in the first 02 record fails the eleven-test, and every line of that client now differs.
    bad_bsn_codes: list[object] = ["CS002", *["EI101"] * len(decl.clients[0].lines)]
    files: dict[str, tuple[bytes, tuple[object, object, object, list[object]]]] = {
        "a-valid.txt": (jw321, ("JW321", True, None, [])),
        "b-valid-retour.txt": (jw322, ("JW322", True, None, [])),
        "c-short-record.txt": (
            with_records([parts[0], parts[1][:309], *parts[2:]]),
            ("JW321", False, "schema", ["EI010"]),
        ),
        "d-wrong-counts.txt": (
            render_ei(replace(decl, counts=(9, 9, 9, 9))),
            ("JW321", False, "rules", ["EI111", "EI111", "EI111", "EI111"]),
        ),
        "e-wrong-total.txt": (
            render_ei(replace(decl, total=(1, "C"))),
            ("JW321", False, "rules", ["EI112", "EI112"]),
        ),
        "f-bad-bsn.txt": (
            replace_field(jw321, 2, "BSN", "123456789"),
            ("JW321", False, "rules", bad_bsn_codes),
        ),
        "g-unix-line-ends.txt": (jw321.replace(b"\r\n", b"\n"), ("JW321", False, "transport", ["EI002"])),
        "h-retour-total.txt": (
            render_ei(replace(ans, total_granted=(0, "D"))),
            ("JW322", False, "rules", ["EI122"]),
        ),
        "i-retour-tab.txt": (jw322.replace(b" ", b"\t", 1), ("JW322", False, "transport", ["EI001"])),
        "j-retour-blank-code.txt": (
            replace_field(jw322, 1, "RETOURCODE_01", "", message="JW322"),
            ("JW322", False, "schema", ["EI014"]),
        ),
    }
    for name, (data, _expected) in files.items():
        (directory / name).write_bytes(data)
    return {name: expected for name, (_data, expected) in files.items()}


def test_directory_of_valid_and_broken_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One JSON object per file in name order, with the right type, stage and codes; exit status 1."""
    expected = corpus(tmp_path)
    code, objs, err = run(["--workers", "1", str(tmp_path)], capsys)
    assert (code, err) == (1, "")
    assert [Path(str(o["source"])).name for o in objs] == sorted(expected)
    for obj in objs:
        assert summary(obj) == expected[Path(str(obj["source"])).name], obj["source"]
        assert all(e["retourcode"] is None for e in obj["errors"])  # type: ignore[attr-defined]


def test_zip_of_ei_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """EI files inside a ZIP are validated member by member, in archive order."""
    expected = corpus(tmp_path)
    archive = tmp_path.parent / f"{tmp_path.name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in sorted(expected, reverse=True):
            zf.write(tmp_path / name, name)
    code, objs, _err = run(["--workers", "1", str(archive)], capsys)
    assert code == 1
    assert [str(o["source"]).split("!")[1] for o in objs] == sorted(expected, reverse=True)
    assert [summary(o) for o in objs] == [expected[n] for n in sorted(expected, reverse=True)]


def test_worker_processes_give_the_same_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Enough files for the process pool: verdicts and order are those of the in-process run."""
    for i in range(POOL_THRESHOLD):
        data = render_ei(generated(i)) if i % 2 else render_ei(generated_answer(i))
        (tmp_path / f"{i:02d}.txt").write_bytes(data)
    code, objs, _err = run(["--workers", "2", str(tmp_path)], capsys)
    assert code == 0
    assert [o["message_type"] for o in objs] == [
        "JW322" if i % 2 == 0 else "JW321" for i in range(POOL_THRESHOLD)
    ]


def test_shipped_examples_validate(capsys: pytest.CaptureFixture[str]) -> None:
    """jwmo-gateway validate examples/ei: both examples valid, human output names the type, exit 0."""
    assert main(["validate", "--workers", "1", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("JW321.txt: JW321 valid")
    assert out[1].endswith("JW322.txt: JW322 valid")
    assert out[2] == "2 message(s): 2 valid, 0 invalid"


def test_human_output_of_a_broken_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The human line names type, stage, code and the B.6 path."""
    path = tmp_path / "broken.txt"
    path.write_bytes(render_ei(replace(generated(3), total=(1, "C"))))
    assert main(["validate", "--workers", "1", str(path)]) == 1
    line = capsys.readouterr().out.splitlines()[0]
    assert "JW321 INVALID (rules) EI112 at /JW321/R99[" in line
