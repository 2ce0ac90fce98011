"""The restricted store: originals stored once, every access logged with who and why, owner-only file."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.stores.restricted import RestrictedLine, SqliteRestrictedStore
from gateway.stores.sqlite import StoreError

BSN = "999900006"


def line(reference: str = "R1") -> RestrictedLine:
    return RestrictedLine(
        message_type="JW323",
        message_id="M0001",
        sender_agb="12345678",
        municipality="0384",
        declaration_number="DN0001",
        reference=reference,
        rules=("optout-disorder-restrict",),
        policy_version="1.0.0",
        original=json.dumps({"client_bsn": BSN, "product_code": "45D01", "reference": reference}),
        fragment="<Prestatie>45D01</Prestatie>",
    )


def clock() -> datetime:
    return datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteRestrictedStore]:
    s = SqliteRestrictedStore(tmp_path / "restricted.sqlite3", now=clock)
    yield s
    s.close()


def test_put_is_idempotent(store: SqliteRestrictedStore) -> None:
    """Storing the same line twice (a redelivered message) stores it once."""
    assert store.put([line("R1"), line("R2")], actor="gateway", purpose="minimise") == 2
    assert store.put([line("R1")], actor="gateway", purpose="minimise") == 0
    keys = store.keys(actor="auditor", purpose="count")
    assert [k.reference for k in keys] == ["R1", "R2"]


def test_reads_are_logged(store: SqliteRestrictedStore) -> None:
    """Reading an original logs who, why, when and which line; a miss is logged too."""
    store.put([line()], actor="gateway", purpose="minimise")
    found = store.get("12345678", "DN0001", "R1", actor="medical-adviser", purpose="provider question 17")
    missing = store.get("12345678", "DN0001", "R9", actor="medical-adviser", purpose="provider question 18")
    assert found is not None
    assert found.fields["product_code"] == "45D01"
    assert found.fragment == "<Prestatie>45D01</Prestatie>"
    assert missing is None
    log = store.access_log()
    assert [(r.action, r.actor) for r in log] == [
        ("store", "gateway"),
        ("read", "medical-adviser"),
        ("read", "medical-adviser"),
    ]
    assert log[1].purpose == "provider question 17"
    assert log[1].line_id is not None
    assert log[2].line_id is None
    assert log[1].at == clock().isoformat()
    assert all(BSN not in r.detail for r in log)


def test_actor_and_purpose_required(store: SqliteRestrictedStore) -> None:
    """No access without saying who and why."""
    with pytest.raises(StoreError, match="actor and a purpose"):
        store.get("12345678", "DN0001", "R1", actor="", purpose="x")
    with pytest.raises(StoreError, match="actor and a purpose"):
        store.put([line()], actor="gateway", purpose=" ")


def test_owner_only_and_private_repr(tmp_path: Path) -> None:
    """The store file is owner-only; a stored line's repr never shows the original."""
    path = tmp_path / "restricted.sqlite3"
    SqliteRestrictedStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = repr(line())
    assert BSN not in text
    assert "45D01" not in text
