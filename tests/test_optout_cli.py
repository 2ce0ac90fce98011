"""``jwmo-gateway optout add|revoke|list|import``: exit codes, outputs, and never a BSN on any output."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.cli import main
from gateway.stores.optouts import SqliteOptoutRegister

BSN, BSN_2, BAD_BSN = "999900006", "999900018", "999900007"
AGB = "12345678"
KEY = "optout-cli-test-key-0123456789ab"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("JWMO_DATA_DIR", str(directory))
    monkeypatch.setenv("JWMO_HMAC_KEY", KEY)
    return directory


def optout(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["optout", *args])
    out, err = capsys.readouterr()
    for text in (out, err):
        assert BSN not in text
        assert BSN_2 not in text
        assert BAD_BSN not in text
    return code, out, err


class TestCommands:
    def test_add_list_revoke(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """add registers, list shows the hash prefix, revoke ends it the day before; nothing shows a BSN."""
        code, out, _ = optout(
            ["add", "--bsn", BSN, "--agb", AGB, "--from", "2025-01-01", "--source", "S-17"], capsys
        )
        assert code == 0
        assert out.startswith("added #1 client ")
        code, out, _ = optout(["list"], capsys)
        assert code == 0
        assert "from 2025-01-01 until open, source S-17" in out
        assert out.splitlines()[-1] == "1 opt-out(s)"
        code, out, _ = optout(["revoke", "--bsn", BSN, "--agb", AGB, "--on", "2025-07-01"], capsys)
        assert code == 0
        assert "until 2025-06-30" in out
        _, out, _ = optout(["list", "--json"], capsys)
        (entry,) = [json.loads(line) for line in out.splitlines()]
        assert entry["until"] == "2025-06-30"
        assert len(entry["client"]) == 12
        assert set(entry) == {"id", "client", "agb", "valid_from", "until", "source", "created_at"}
        assert stat.S_IMODE((data / "optouts.sqlite3").stat().st_mode) == 0o600
        with SqliteOptoutRegister(data / "optouts.sqlite3", KEY.encode()) as register:
            assert [a.action for a in register.audit_log()] == ["add", "revoke"]

    def test_revoke_without_entry_exits_1(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Nothing to revoke is exit 1 (with and without a register file)."""
        code, _, err = optout(["revoke", "--bsn", BSN, "--agb", AGB, "--on", "2025-07-01"], capsys)
        assert code == 1
        assert "nothing to revoke" in err
        optout(["add", "--bsn", BSN_2, "--agb", AGB, "--from", "2025-01-01"], capsys)
        code, _, err = optout(["revoke", "--bsn", BSN, "--agb", AGB, "--on", "2025-07-01"], capsys)
        assert code == 1
        assert "no opt-out" in err

    def test_bad_arguments_exit_2_without_echo(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A BSN failing the eleven-test or a bad AGB is exit 2; the message never repeats the value."""
        code, _, err = optout(["add", "--bsn", BAD_BSN, "--agb", AGB, "--from", "2025-01-01"], capsys)
        assert code == 2
        assert "eleven-test" in err
        code, _, err = optout(["add", "--bsn", BSN, "--agb", "12", "--from", "2025-01-01"], capsys)
        assert code == 2
        assert "AGB" in err

    def test_bad_date_is_usage_error(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A malformed date is rejected by argument parsing (exit 2)."""
        with pytest.raises(SystemExit) as info:
            main(["optout", "add", "--bsn", BSN, "--agb", AGB, "--from", "01-01-2025"])
        assert info.value.code == 2
        assert "YYYY-MM-DD" in capsys.readouterr().err

    def test_list_empty_creates_nothing(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """list on a missing register prints an empty list and creates no file or key."""
        code, out, _ = optout(["list"], capsys)
        assert (code, out) == (0, "0 opt-out(s)\n")
        assert not data.exists()

    def test_import(self, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """import reports per row; a bad row is named by number and makes the exit status 1."""
        csv_path = tmp_path / "in.csv"
        csv_path.write_text(
            f"bsn,agb,from,until,source\n{BSN},{AGB},2025-01-01,,A\n{BAD_BSN},{AGB},2025-01-01,,B\n"
            f"{BSN_2},{AGB},2025-02-01,2025-12-31,C\n",
            encoding="utf-8",
        )
        code, out, _ = optout(["import", str(csv_path)], capsys)
        lines = out.splitlines()
        assert code == 1
        assert lines[0].startswith("row 2: added opt-out #1")
        assert lines[1] == "row 3: error: the BSN must be 9 digits that pass the eleven-test"
        assert lines[2].startswith("row 4: added opt-out #2")
        assert lines[3] == "3 row(s): 2 added, 1 failed"

    def test_import_all_good_exits_0(
        self, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An import without failures exits 0 (a BOM from a spreadsheet export is tolerated)."""
        csv_path = tmp_path / "in.csv"
        csv_path.write_text(f"\ufeffbsn,agb,from\n{BSN},{AGB},2025-01-01\n", encoding="utf-8")
        code, out, _ = optout(["import", str(csv_path)], capsys)
        assert code == 0
        assert out.splitlines()[-1] == "1 row(s): 1 added, 0 failed"

    def test_import_bad_header_exit_2(
        self, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file without the required columns is exit 2 and adds nothing."""
        csv_path = tmp_path / "in.csv"
        csv_path.write_text(f"client,agb\n{BSN},{AGB}\n", encoding="utf-8")
        code, _, err = optout(["import", str(csv_path)], capsys)
        assert code == 2
        assert "missing: bsn, from" in err

    def test_unreadable_import_file(
        self, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An import file that cannot be read is exit 2."""
        code, _, err = optout(["import", str(tmp_path / "absent.csv")], capsys)
        assert code == 2
        assert "cannot read" in err


class TestKey:
    def test_generated_key_warns_on_stderr(
        self, data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without JWMO_HMAC_KEY the first add generates the key file (0600) warns; later runs reuse it."""
        monkeypatch.delenv("JWMO_HMAC_KEY")
        with capture_logs() as events:
            code, out, _ = optout(["add", "--bsn", BSN, "--agb", AGB, "--from", "2025-01-01"], capsys)
        assert code == 0
        assert "hmac_key_generated" in [e["event"] for e in events]
        key_file = data / "hmac.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().strip() not in out + json.dumps(events, default=str)
        code, out, _ = optout(["list"], capsys)
        assert code == 0
        assert "1 opt-out(s)" in out

    def test_key_change_refused(
        self, data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Opening the register with another key is refused (exit 2) instead of silently missing."""
        optout(["add", "--bsn", BSN, "--agb", AGB, "--from", "2025-01-01"], capsys)
        monkeypatch.setenv("JWMO_HMAC_KEY", "another-key-0123456789abcdef0123")
        code, _, err = optout(["list"], capsys)
        assert code == 2
        assert "does not match" in err

    def test_logs_carry_no_bsn(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The log events of add and revoke name the entry and hash prefix, never the BSN."""
        with capture_logs() as events:
            optout(["add", "--bsn", BSN, "--agb", AGB, "--from", "2025-01-01"], capsys)
            optout(["revoke", "--bsn", BSN, "--agb", AGB, "--on", "2025-02-01"], capsys)
        assert [e["event"] for e in events] == ["optout_added", "optout_revoked"]
        assert BSN not in json.dumps(events, default=str)
