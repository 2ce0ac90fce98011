"""The restricted store keeps the originals encrypted at rest (issue item 4b); reads are logged.

AES-256-GCM with a configured key (``JWMO_RESTRICTED_KEY`` or ``JWMO_RESTRICTED_KEY_FILE``), else a key
generated next to the store. The database file (and its journal) never holds the BSN or the withheld code
in clear; a wrong key, a tampered value or a value moved to another row is refused, never returned garbled.
"""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import structlog

from gateway.cli import main
from gateway.logs import configure_logging
from gateway.stores.optouts import SqliteOptoutRegister
from gateway.stores.restricted import (
    KEY_FILE,
    AesGcmCipher,
    CipherError,
    RestrictedLine,
    SqliteRestrictedStore,
    cipher_from_env,
    key_id_of,
    parse_key,
)
from gateway.stores.sqlite import StoreError
from tests.security.common import CANARY_BSN, CANARY_DSM, DISORDER_CODE, planted_declaration
from tests.security.tally import record

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def line(reference: str = "R1", bsn: str = CANARY_BSN) -> RestrictedLine:
    return RestrictedLine(
        message_type="JW323",
        message_id="M0001",
        sender_agb="12345678",
        municipality="0384",
        declaration_number="DN0001",
        reference=reference,
        rules=("optout-disorder-restrict",),
        policy_version="1.0.0",
        original=json.dumps({"client_bsn": bsn, "product_code": DISORDER_CODE, "dsm": CANARY_DSM}),
        fragment=f"<Prestatie><Bsn>{bsn}</Bsn><ProductCode>{DISORDER_CODE}</ProductCode></Prestatie>",
    )


def raw_bytes(path: Path) -> bytes:
    """The database file and any journal next to it, as stored on disk."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteRestrictedStore]:
    s = SqliteRestrictedStore(tmp_path / "restricted.sqlite3", cipher=AesGcmCipher(KEY))
    yield s
    s.close()


def test_originals_are_encrypted_on_disk_and_readable_with_the_key(store: SqliteRestrictedStore) -> None:
    """After storing, neither the BSN, the DSM code nor the withheld product code is in the file; the read
    returns the original exactly and is logged with who and why."""
    assert store.put([line("R1"), line("R2")], actor="gateway", purpose="minimise") == 2
    on_disk = raw_bytes(store.path)
    for value in (CANARY_BSN, CANARY_DSM, DISORDER_CODE):
        assert value.encode() not in on_disk
    assert b"DN0001" in on_disk  # control: the index columns (no personal data) stay searchable
    found = store.get("12345678", "DN0001", "R2", actor="medical-adviser", purpose="question 12")
    assert found is not None
    assert found.original == line("R2").original
    assert found.fragment == line("R2").fragment
    assert [(r.action, r.actor, r.purpose) for r in store.access_log()] == [
        ("store", "gateway", "minimise"),
        ("store", "gateway", "minimise"),
        ("read", "medical-adviser", "question 12"),
    ]
    assert CANARY_BSN not in json.dumps([r.detail for r in store.access_log()])
    record("privacy.restricted.encrypted_rows", 2)


def test_another_key_is_refused_not_garbled(tmp_path: Path) -> None:
    """A store written with one key and opened with another refuses the read (naming both key ids)."""
    path = tmp_path / "restricted.sqlite3"
    with SqliteRestrictedStore(path, cipher=AesGcmCipher(KEY)) as first:
        first.put([line()], actor="gateway", purpose="minimise")
    with SqliteRestrictedStore(path, cipher=AesGcmCipher(OTHER_KEY)) as second:
        with pytest.raises(CipherError, match="another key") as caught:
            second.get("12345678", "DN0001", "R1", actor="adviser", purpose="test")
        assert key_id_of(KEY) in str(caught.value)
        assert KEY.hex() not in str(caught.value)
        assert [r.action for r in second.access_log()] == ["store", "read"]  # the attempt is logged


@pytest.mark.parametrize("how", ["flip-a-byte", "swap-rows", "swap-columns"])
def test_tampered_or_moved_values_do_not_decrypt(store: SqliteRestrictedStore, how: str) -> None:
    """A changed ciphertext, or one copied into another row or column, is refused (authenticated data)."""
    store.put([line("R1"), line("R2", bsn="999900018")], actor="gateway", purpose="minimise")
    db = sqlite3.connect(store.path)
    rows = dict(db.execute("SELECT reference, original FROM restricted_line").fetchall())
    if how == "flip-a-byte":
        token = bytearray(base64.b64decode(rows["R1"].split(":", 1)[1]))
        token[-1] ^= 1
        value = "aesgcm1:" + base64.b64encode(bytes(token)).decode()
        db.execute("UPDATE restricted_line SET original = ? WHERE reference = 'R1'", (value,))
    elif how == "swap-rows":
        db.execute("UPDATE restricted_line SET original = ? WHERE reference = 'R1'", (rows["R2"],))
    else:
        db.execute("UPDATE restricted_line SET original = fragment WHERE reference = 'R1'")
    db.commit()
    db.close()
    with pytest.raises(CipherError):
        store.get("12345678", "DN0001", "R1", actor="adviser", purpose="test")
    record("privacy.restricted.tamper_refused")


def test_rows_from_before_encryption_stay_readable(tmp_path: Path) -> None:
    """A store created before encryption at rest (no kid column) is migrated; its plain rows still read."""
    path = tmp_path / "restricted.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE restricted_line (id INTEGER PRIMARY KEY, stored_at TEXT NOT NULL,
            message_type TEXT NOT NULL, message_id TEXT NOT NULL, sender_agb TEXT NOT NULL,
            municipality TEXT NOT NULL, declaration_number TEXT NOT NULL, reference TEXT NOT NULL,
            rules TEXT NOT NULL,
            policy_version TEXT NOT NULL, original TEXT NOT NULL, fragment TEXT NOT NULL,
            UNIQUE (sender_agb, message_type, message_id, reference));
        INSERT INTO restricted_line VALUES (1, '2025-01-01T00:00:00+00:00', 'JW323', 'M0', '12345678', '0384',
            'DN0', 'R0', '[]', '1.0.0', '{"client_bsn": "999900006"}', '<old/>');
        """
    )
    db.close()
    with SqliteRestrictedStore(path, cipher=AesGcmCipher(KEY)) as store:
        old = store.get("12345678", "DN0", "R0", actor="adviser", purpose="test")
        assert old is not None
        assert old.fields["client_bsn"] == "999900006"
        store.put([line()], actor="gateway", purpose="minimise")
        new = store.get("12345678", "DN0001", "R1", actor="adviser", purpose="test")
        assert new is not None
        assert new.original == line().original


# ---- key configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [KEY.hex(), KEY.hex().upper(), base64.b64encode(KEY).decode(), base64.urlsafe_b64encode(KEY).decode()],
)
def test_key_from_the_environment_in_hex_or_base64(tmp_path: Path, written: str) -> None:
    """JWMO_RESTRICTED_KEY in hex or (URL-safe) base64 gives the same key id; no key file is generated."""
    cipher = cipher_from_env(tmp_path, {"JWMO_RESTRICTED_KEY": written})
    assert cipher.key_id == key_id_of(KEY)
    assert not (tmp_path / KEY_FILE).exists()


def test_key_from_a_file(tmp_path: Path) -> None:
    """JWMO_RESTRICTED_KEY_FILE (a mounted secret) is read; a loose file mode is warned about."""
    path = tmp_path / "secret.key"
    path.write_text(KEY.hex() + "\n")
    path.chmod(0o600)
    assert cipher_from_env(tmp_path, {"JWMO_RESTRICTED_KEY_FILE": str(path)}).key_id == key_id_of(KEY)


@pytest.mark.parametrize("bad", ["short", "00" * 31, "zz" * 32, base64.b64encode(b"x" * 16).decode()])
def test_unusable_keys_are_refused_without_quoting_them(tmp_path: Path, bad: str) -> None:
    """A key of the wrong length or alphabet is refused; the message names the variable, never the value."""
    with pytest.raises(CipherError, match="JWMO_RESTRICTED_KEY must hold") as caught:
        cipher_from_env(tmp_path, {"JWMO_RESTRICTED_KEY": bad})
    assert bad not in str(caught.value)
    with pytest.raises(CipherError, match="cannot be read"):
        cipher_from_env(tmp_path, {"JWMO_RESTRICTED_KEY_FILE": str(tmp_path / "absent.key")})
    assert issubclass(CipherError, StoreError)  # callers that handle store errors handle these


def test_generated_key_is_owner_only_stable_and_announced_without_the_key(tmp_path: Path) -> None:
    """Without configuration a key is generated once next to the store (mode 0600); the warning names the
    file, never the key; a second store on the same directory uses the same key."""
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging("INFO", stream=stream)
    try:
        first = cipher_from_env(tmp_path, {})
        second = cipher_from_env(tmp_path, {})
    finally:
        structlog.configure(**saved)
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.key_id == second.key_id
    key_text = key_file.read_text().strip()
    log = stream.getvalue()
    assert "restricted_key_generated" in log
    assert log.count("restricted_key_generated") == 1
    assert key_text not in log
    assert parse_key(key_text, "file") not in log.encode()


def test_key_hygiene_key_ids_differ_and_reprs_hide_keys() -> None:
    """Checklist 39: another key gives another key id; the id and the repr reveal nothing of the key."""
    assert key_id_of(KEY) != key_id_of(OTHER_KEY)
    cipher = AesGcmCipher(KEY)
    assert KEY.hex() not in repr(cipher)
    assert key_id_of(KEY) in repr(cipher)
    assert KEY.hex()[:12] not in key_id_of(KEY)


def test_minimise_cli_stores_encrypted_originals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: ``minimise --restricted-db`` with an opt-out writes the restricted line encrypted."""
    hmac_key = "restricted-cli-hmac-key-0123456789"
    monkeypatch.setenv("JWMO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JWMO_HMAC_KEY", hmac_key)
    monkeypatch.setenv("JWMO_RESTRICTED_KEY", KEY.hex())
    register = tmp_path / "optouts.sqlite3"
    with SqliteOptoutRegister(register, hmac_key.encode()) as optouts:
        optouts.add(CANARY_BSN, "12345678", date(2025, 1, 1), actor="test")
    message = tmp_path / "m.xml"
    message.write_bytes(planted_declaration("E0001"))
    database = tmp_path / "restricted.sqlite3"
    code = main(
        [
            "minimise",
            "--json",
            "--workers",
            "1",
            "--optouts",
            str(register),
            "--restricted-db",
            str(database),
            str(message),
        ]
    )
    assert code == 0
    on_disk = raw_bytes(database)
    assert CANARY_BSN.encode() not in on_disk
    assert DISORDER_CODE.encode() not in on_disk
    with SqliteRestrictedStore(database) as store:  # the key again from JWMO_RESTRICTED_KEY
        found = store.get("12345678", "DN0001", "R1", actor="adviser", purpose="test")
    assert found is not None
    assert found.fields["client_bsn"] == CANARY_BSN
