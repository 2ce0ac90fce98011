"""The opt-out register: activity dates, revocation, BSN only hashed, audit trail, key guard, CSV import."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.stores.optouts import (
    MemoryOptouts,
    NothingToRevoke,
    OptoutError,
    SqliteOptoutRegister,
    import_csv,
    import_report_lines,
    subject_hash,
)
from gateway.stores.sqlite import StoreError

KEY = b"test-key-0123456789abcdef0123456"
BSN, BSN_2 = "999900006", "999900018"
AGB, AGB_2 = "12345678", "87654321"


def clock() -> datetime:
    return datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def register(tmp_path: Path) -> Iterator[SqliteOptoutRegister]:
    reg = SqliteOptoutRegister(tmp_path / "optouts.sqlite3", KEY, now=clock)
    yield reg
    reg.close()


class TestActive:
    def test_from_and_until_inclusive(self, register: SqliteOptoutRegister) -> None:
        """Active when valid_from <= D <= until (both ends inclusive), per client and provider."""
        register.add(BSN, AGB, date(2025, 3, 1), until=date(2025, 6, 30), actor="t")
        assert not register.is_active(BSN, AGB, date(2025, 2, 28))
        assert register.is_active(BSN, AGB, date(2025, 3, 1))
        assert register.is_active(BSN, AGB, date(2025, 6, 30))
        assert not register.is_active(BSN, AGB, date(2025, 7, 1))
        assert not register.is_active(BSN, AGB_2, date(2025, 4, 1))
        assert not register.is_active(BSN_2, AGB, date(2025, 4, 1))

    def test_open_ended(self, register: SqliteOptoutRegister) -> None:
        """Without until the statement applies from its start onwards."""
        register.add(BSN, AGB, date(2025, 3, 1), actor="t")
        assert register.is_active(BSN, AGB, date(2040, 1, 1))

    def test_revoke_sets_the_day_before(self, register: SqliteOptoutRegister) -> None:
        """revoke --on D ends the entry on D - 1: active on D - 1, not on D."""
        register.add(BSN, AGB, date(2025, 3, 1), actor="t")
        (entry,) = register.revoke(BSN, AGB, date(2025, 9, 1), actor="t")
        assert entry.until == date(2025, 8, 31)
        assert register.is_active(BSN, AGB, date(2025, 8, 31))
        assert not register.is_active(BSN, AGB, date(2025, 9, 1))

    def test_revoke_nothing_open(self, register: SqliteOptoutRegister) -> None:
        """Revoking when nothing is open on or after D is reported (and changes nothing)."""
        register.add(BSN, AGB, date(2025, 3, 1), until=date(2025, 4, 30), actor="t")
        with pytest.raises(NothingToRevoke):
            register.revoke(BSN, AGB, date(2025, 9, 1), actor="t")
        assert [e.until for e in register.entries()] == [date(2025, 4, 30)]

    def test_memory_register_same_semantics(self) -> None:
        """The in-memory register answers exactly like the SQLite one."""
        memory = MemoryOptouts()
        memory.add(BSN, AGB, date(2025, 3, 1), date(2025, 6, 30))
        assert memory.is_active(BSN, AGB, date(2025, 6, 30))
        assert not memory.is_active(BSN, AGB, date(2025, 7, 1))
        assert not memory.is_active(BSN, AGB_2, date(2025, 4, 1))


class TestPrivacy:
    def test_bsn_never_stored(self, tmp_path: Path) -> None:
        """Neither the register file nor its audit holds the BSN; entries show a hash prefix."""
        path = tmp_path / "optouts.sqlite3"
        with SqliteOptoutRegister(path, KEY, now=clock) as reg:
            entry = reg.add(BSN, AGB, date(2025, 3, 1), source="statement 2025-17", actor="clerk")
            reg.revoke(BSN, AGB, date(2025, 9, 1), actor="clerk")
            audit = reg.audit_log()
        raw = path.read_bytes()
        assert BSN.encode() not in raw
        assert entry.client == subject_hash(KEY, BSN)[:12]
        assert [a.action for a in audit] == ["add", "revoke"]
        assert all(BSN not in repr(a) for a in audit)
        assert audit[0].actor == "clerk"
        assert audit[0].client == entry.client
        assert '"valid_from": "2025-03-01"' in audit[0].detail

    def test_file_is_owner_only(self, tmp_path: Path) -> None:
        """The register file is created readable by its owner only."""
        path = tmp_path / "sub" / "optouts.sqlite3"
        SqliteOptoutRegister(path, KEY).close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    @pytest.mark.parametrize(
        ("bsn", "agb", "source", "expected"),
        [
            ("999900007", AGB, None, "eleven-test"),
            ("12345", AGB, None, "eleven-test"),
            (BSN, "1234", None, "AGB code must be 8 digits"),
            (BSN, AGB, f"letter about {BSN}", "must not contain a BSN"),
            (BSN, AGB, "x" * 201, "longer than 200"),
        ],
    )
    def test_bad_input_never_echoed(
        self, register: SqliteOptoutRegister, bsn: str, agb: str, source: str | None, expected: str
    ) -> None:
        """Bad input is refused with a message that names the problem, never the value."""
        with pytest.raises(OptoutError) as info:
            register.add(bsn, agb, date(2025, 1, 1), source=source, actor="t")
        assert expected in str(info.value)
        assert bsn not in str(info.value)

    def test_end_before_start(self, register: SqliteOptoutRegister) -> None:
        """An end date before the start date is refused."""
        with pytest.raises(OptoutError, match="before the start"):
            register.add(BSN, AGB, date(2025, 3, 1), until=date(2025, 2, 1), actor="t")

    def test_duplicate_refused(self, register: SqliteOptoutRegister) -> None:
        """The same client, provider and start date cannot be registered twice."""
        register.add(BSN, AGB, date(2025, 3, 1), actor="t")
        with pytest.raises(OptoutError, match="already exists"):
            register.add(BSN, AGB, date(2025, 3, 1), actor="t")


class TestKey:
    def test_other_key_refused(self, tmp_path: Path) -> None:
        """A register opened with another key is refused (lookups would silently miss)."""
        path = tmp_path / "optouts.sqlite3"
        SqliteOptoutRegister(path, KEY).close()
        with pytest.raises(OptoutError, match="does not match"):
            SqliteOptoutRegister(path, b"another-key-0123456789abcdef0123")

    def test_short_key_refused(self, tmp_path: Path) -> None:
        """A key shorter than 16 bytes is refused."""
        with pytest.raises(OptoutError, match="16 bytes"):
            SqliteOptoutRegister(tmp_path / "o.sqlite3", b"short")

    def test_readonly_lookup(self, tmp_path: Path) -> None:
        """A read-only register answers lookups and refuses changes; a missing file is an error."""
        path = tmp_path / "optouts.sqlite3"
        with SqliteOptoutRegister(path, KEY) as reg:
            reg.add(BSN, AGB, date(2025, 3, 1), actor="t")
        with SqliteOptoutRegister(path, KEY, readonly=True) as ro:
            assert ro.is_active(BSN, AGB, date(2025, 3, 1))
            with pytest.raises(sqlite3.OperationalError):
                ro.add(BSN_2, AGB, date(2025, 3, 1), actor="t")
        with pytest.raises(StoreError, match="does not exist"):
            SqliteOptoutRegister(tmp_path / "absent.sqlite3", KEY, readonly=True)


class TestImport:
    def test_rows_reported_by_number(self, register: SqliteOptoutRegister) -> None:
        """Good rows are added, bad rows reported by row number (header = row 1), never with the BSN."""
        text = (
            "bsn,agb,from,until,source\n"
            f"{BSN},{AGB},2025-01-01,,statement 1\n"
            f"999900007,{AGB},2025-01-01,,\n"
            f"{BSN_2},{AGB},2025-02-30,,\n"
            f"{BSN_2},{AGB},2025-02-01,2025-12-31,\n"
            f"{BSN_2},{AGB},2025-03-01,,,surplus\n"
        )
        reports = import_csv(register, text, actor="t")
        assert [(r.row, r.ok) for r in reports] == [(2, True), (3, False), (4, False), (5, True), (6, False)]
        lines = list(import_report_lines(reports))
        assert lines[1] == "row 3: error: the BSN must be 9 digits that pass the eleven-test"
        assert "from is not a date" in lines[2]
        assert "more fields than the header" in lines[4]
        assert all(BSN not in line and BSN_2 not in line and "999900007" not in line for line in lines)
        assert register.is_active(BSN_2, AGB, date(2025, 12, 31))

    def test_bad_header_adds_nothing(self, register: SqliteOptoutRegister) -> None:
        """A file without the required columns is refused as a whole."""
        with pytest.raises(OptoutError, match="missing: from"):
            import_csv(register, f"bsn,agb\n{BSN},{AGB}\n", actor="t")
        with pytest.raises(OptoutError, match="unknown: name"):
            import_csv(register, f"bsn,agb,from,name\n{BSN},{AGB},2025-01-01,x\n", actor="t")
        assert register.entries() == ()

    def test_header_case_and_spaces_tolerated(self, register: SqliteOptoutRegister) -> None:
        """Header names are matched case-insensitively and without surrounding spaces."""
        reports = import_csv(register, f"BSN, AGB ,From\n{BSN},{AGB},2025-01-01\n", actor="t")
        assert [r.ok for r in reports] == [True]
