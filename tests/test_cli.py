"""The ``validate`` command: outputs, ordering, inputs (files, directories, ZIPs, stdin), exit codes."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.testing.builders import answer_for, random_declaration, render
from tests.helpers import BASE


def write_corpus(directory: Path, count: int, *, broken: frozenset[int] = frozenset()) -> list[Path]:
    """``count`` generated declarations; those in ``broken`` get a wrong total (TR358)."""
    paths = []
    for i in range(count):
        decl = random_declaration(random.Random(i), family="ijw" if i % 2 else "iwmo")
        if i in broken:
            decl = replace(decl, total=(10**9, "D"))
        path = directory / f"{i:03d}.xml"
        path.write_bytes(render(decl))
        paths.append(path)
    return paths


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


class TestJsonOutput:
    def test_one_object_per_message_in_order(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A directory is read in name order; one JSON object per file; exit 1 when one is invalid."""
        write_corpus(tmp_path, 5, broken=frozenset({3}))
        code, lines, err = run(["validate", "--json", str(tmp_path)], capsys)
        objs = [json.loads(line) for line in lines]
        assert [Path(o["source"]).name for o in objs] == [f"{i:03d}.xml" for i in range(5)]
        assert [o["valid"] for o in objs] == [True, True, True, False, True]
        assert objs[3]["stage"] == "rules"
        assert [e["code"] for e in objs[3]["errors"]] == ["TR358"]
        assert set(objs[0]) == {"source", "message_type", "valid", "stage", "errors"}
        assert (code, err) == (1, "")

    def test_all_valid_exits_zero(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Exit status 0 when every message is valid."""
        paths = write_corpus(tmp_path, 2)
        code, lines, _ = run(["validate", "--json", *map(str, paths)], capsys)
        assert code == 0
        assert [json.loads(x)["source"] for x in lines] == [str(p) for p in paths]

    def test_zip_members_in_archive_order(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Each ZIP member is one message, named ``archive.zip!member``, in archive order."""
        paths = write_corpus(tmp_path, 3, broken=frozenset({0}))
        archive = tmp_path / "batch.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in reversed(paths):
                zf.write(p, p.name)
        code, lines, _ = run(["validate", "--json", str(archive)], capsys)
        sources = [json.loads(x)["source"] for x in lines]
        assert sources == [f"{archive}!002.xml", f"{archive}!001.xml", f"{archive}!000.xml"]
        assert code == 1

    def test_standard_input(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``-`` reads one message from standard input; its source is ``-``."""
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(render(BASE))))
        code, lines, _ = run(["validate", "--json", "-"], capsys)
        assert code == 0
        assert json.loads(lines[0])["source"] == "-"

    def test_oversize_file_refused_unread(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A file over --max-message-bytes is a TOO_LARGE transport result."""
        path = write_corpus(tmp_path, 1)[0]
        code, lines, _ = run(["validate", "--json", "--max-message-bytes", "100", str(path)], capsys)
        obj = json.loads(lines[0])
        assert (obj["stage"], obj["errors"][0]["code"], obj["message_type"]) == (
            "transport",
            "TOO_LARGE",
            None,
        )
        assert code == 1

    def test_declaration_option_adds_echo_rules(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``--declaration`` checks each 325 against that 323 (TR376 on a changed number)."""
        decl = tmp_path / "d.xml"
        decl.write_bytes(render(BASE))
        good = answer_for(BASE, message_date=date(2025, 10, 20))
        assert good.body is not None
        bad = replace(good, body=replace(good.body, number="DN9"))
        (tmp_path / "a1.xml").write_bytes(render(good))
        (tmp_path / "a2.xml").write_bytes(render(bad))
        args = [
            "validate",
            "--json",
            "--declaration",
            str(decl),
            str(tmp_path / "a1.xml"),
            str(tmp_path / "a2.xml"),
        ]
        code, lines, _ = run(args, capsys)
        objs = [json.loads(x) for x in lines]
        assert [o["valid"] for o in objs] == [True, False]
        assert [e["code"] for e in objs[1]["errors"]] == ["TR376"]
        assert code == 1
        # Without --declaration the same 325 is fine on its own.
        code, lines, _ = run(["validate", "--json", str(tmp_path / "a2.xml")], capsys)
        assert code == 0


class TestHumanOutput:
    def test_lines_and_summary(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --json: a line per message (type, verdict, first errors) and a summary line."""
        write_corpus(tmp_path, 3, broken=frozenset({1}))
        code, lines, _ = run(["validate", str(tmp_path)], capsys)
        assert code == 1
        assert len(lines) == 4
        assert lines[1].endswith(
            "TR358/0001 at /Bericht/Declaratie/TotaalIngediendBedrag: "
            "total does not equal the sum of the lines"
        )
        assert " INVALID (rules) " in lines[1]
        assert lines[0].endswith("valid")
        assert lines[-1] == "3 message(s): 2 valid, 1 invalid"


class TestUsageErrors:
    def test_missing_path(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An unreadable path is exit 2 with a message on stderr and nothing on stdout."""
        code, lines, err = run(["validate", "--json", str(tmp_path / "missing.xml")], capsys)
        assert (code, lines) == (2, [])
        assert "cannot read" in err

    def test_declaration_that_is_not_a_323(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``--declaration`` must name a schema-valid 323."""
        bad = tmp_path / "x.xml"
        bad.write_bytes(b"<x/>")
        code, lines, err = run(["validate", "--declaration", str(bad), str(bad)], capsys)
        assert (code, lines) == (2, [])
        assert "is not a JW323/WMO323" in err

    def test_bad_schema_dir(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing --schema-dir is a usage error."""
        path = write_corpus(tmp_path, 1)[0]
        code, _, err = run(["validate", "--schema-dir", str(tmp_path / "nope"), str(path)], capsys)
        assert code == 2
        assert "does not exist" in err

    def test_bad_size_setting(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A non-numeric JWMO_MAX_MESSAGE_BYTES is a usage error naming the variable."""
        monkeypatch.setenv("JWMO_MAX_MESSAGE_BYTES", "lots")
        path = write_corpus(tmp_path, 1)[0]
        code, _, err = run(["validate", str(path)], capsys)
        assert code == 2
        assert "JWMO_MAX_MESSAGE_BYTES" in err

    def test_no_paths(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``validate`` without a path is an argparse usage error (exit 2)."""
        with pytest.raises(SystemExit) as exc:
            main(["validate"])
        assert exc.value.code == 2


class TestWorkers:
    def test_pool_output_equals_in_process_output(self, tmp_path: Path) -> None:
        """With enough files to use worker processes, output is identical to one process, in order."""
        write_corpus(tmp_path, 24, broken=frozenset({2, 17}))
        cmd = [sys.executable, "-m", "gateway", "validate", "--json", str(tmp_path)]
        one = subprocess.run([*cmd, "--workers", "1"], capture_output=True, check=False, timeout=120)
        two = subprocess.run([*cmd, "--workers", "2"], capture_output=True, check=False, timeout=120)
        assert one.returncode == two.returncode == 1
        assert one.stdout == two.stdout
        assert len(one.stdout.splitlines()) == 24
        assert two.stderr == b""

    def test_schema_dir_from_environment(self, tmp_path: Path, reference_dir: Path) -> None:
        """JWMO_SCHEMA_DIR is honoured like --schema-dir (official files in place of ours)."""
        xsd = tmp_path / "xsd"
        xsd.mkdir()
        for f in (reference_dir / "xsd" / "iwmo-3.2").iterdir():
            shutil.copy(f, xsd / f.name)
        env = {**os.environ, "JWMO_SCHEMA_DIR": str(xsd)}
        example = reference_dir / "examples" / "WMO323.xml"
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "validate", "--json", str(example)],
            capture_output=True,
            check=False,
            timeout=60,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["message_type"] == "WMO323"
        bad = subprocess.run(
            [sys.executable, "-m", "gateway", "validate", str(example)],
            capture_output=True,
            check=False,
            timeout=60,
            env={**env, "JWMO_SCHEMA_DIR": str(tmp_path / "no")},
        )
        assert bad.returncode == 2
