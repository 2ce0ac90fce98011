"""The HMAC key: configured, or generated once into the data directory (owner-only, warned, never logged)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.stores.keys import KEY_FILE, KeyFileError, key_check, read_key_file, resolve_key


def test_configured_key_wins(tmp_path: Path) -> None:
    """A configured key is used as is; nothing is written."""
    assert resolve_key(b"configured-key-0123456789", tmp_path) == b"configured-key-0123456789"
    assert not (tmp_path / KEY_FILE).exists()


def test_generated_once_owner_only_and_warned(tmp_path: Path) -> None:
    """Without configuration a random key is generated, stored with mode 0600, and a warning logged."""
    data = tmp_path / "data"
    with capture_logs() as events:
        key = resolve_key(None, data)
        again = resolve_key(None, data)
    assert key is not None
    assert len(key) == 32
    assert again == key
    path = data / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert [e["event"] for e in events] == ["hmac_key_generated"]
    assert events[0]["log_level"] == "warning"
    logged = repr(events)
    assert key.hex() not in logged
    assert str(path) in logged


def test_no_create(tmp_path: Path) -> None:
    """With create=False and no key file, there is no key (and no file is made)."""
    assert resolve_key(None, tmp_path, create=False) is None
    assert not (tmp_path / KEY_FILE).exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("zz-not-hex", "hexadecimal"), ("abcd", "shorter than 16")],
    ids=["not-hex", "short"],
)
def test_bad_key_file(tmp_path: Path, content: str, expected: str) -> None:
    """A key file that is not a usable key is an error naming the file, never its content."""
    path = tmp_path / KEY_FILE
    path.write_text(content, encoding="ascii")
    with pytest.raises(KeyFileError) as info:
        read_key_file(path)
    assert expected in str(info.value)
    assert content not in str(info.value)


def test_loose_permissions_warned(tmp_path: Path) -> None:
    """A key file readable by others is used, with a warning to tighten it."""
    path = tmp_path / KEY_FILE
    path.write_text("ab" * 32, encoding="ascii")
    os.chmod(path, 0o644)
    with capture_logs() as events:
        assert read_key_file(path) == bytes.fromhex("ab" * 32)
    assert [e["event"] for e in events] == ["hmac_key_file_permissions"]


def test_key_check_separates_keys() -> None:
    """The fingerprint differs per key and does not contain the key."""
    a, b = b"a" * 32, b"b" * 32
    assert key_check(a) != key_check(b)
    assert a.hex() not in key_check(a)
