"""Caller identity for the HTTP intake: configuration from the environment and the decisions it makes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from starlette.datastructures import Headers

from gateway.config import ConfigError
from gateway.service.auth import AuthConfig, Denial, Identity
from tests.service.test_http import API_KEY, OTHER_AGB, OWN_AGB, SUBJECT, write_keys, write_subjects


def headers(**values: str) -> Headers:
    return Headers({k.replace("_", "-"): v for k, v in values.items()})


def test_no_configuration_is_open_local_mode() -> None:
    """Without any variable authentication is off (open local mode)."""
    config = AuthConfig.from_env({})
    assert not config.enabled
    assert config.methods == ()


def test_api_keys_from_toml_with_plain_and_hashed_entries(tmp_path: Path) -> None:
    """Plain keys and sha256: entries both authenticate; the identity carries the mapped AGB."""
    hashed = "sha256:" + hashlib.sha256(b"a-second-key-only-stored-hashed").hexdigest()
    path = write_keys(tmp_path / "keys.toml", {API_KEY: OWN_AGB, hashed: OTHER_AGB})
    config = AuthConfig.from_env({"JWMO_API_KEYS_FILE": str(path)})
    assert config.enabled
    assert config.methods == ("api_key",)
    first = config.authenticate(headers(authorization=f"Bearer {API_KEY}"), "203.0.113.5")
    second = config.authenticate(headers(x_api_key="a-second-key-only-stored-hashed"), None)
    assert isinstance(first, Identity)
    assert first.agb == OWN_AGB
    assert first.method == "api_key"
    assert isinstance(second, Identity)
    assert second.agb == OTHER_AGB
    assert first.key_id != second.key_id
    assert API_KEY not in first.key_id


def test_api_keys_from_json_flat_mapping(tmp_path: Path) -> None:
    """A JSON file (chosen by suffix) may be a flat mapping; two keys may share an AGB (rotation)."""
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({API_KEY: OWN_AGB, "rotated-key-for-the-same-agb": OWN_AGB}))
    config = AuthConfig.from_env({"JWMO_API_KEYS_FILE": str(path)})
    for key in (API_KEY, "rotated-key-for-the-same-agb"):
        identity = config.authenticate(headers(authorization=f"bearer {key}"), None)
        assert isinstance(identity, Identity)
        assert identity.agb == OWN_AGB


@pytest.mark.parametrize(
    ("request_headers", "reason"),
    [
        ({}, "missing"),
        ({"authorization": "Bearer wrong-key-of-enough-length"}, "unknown_key"),
        ({"x-api-key": API_KEY + "x"}, "unknown_key"),
        ({"authorization": f"Basic {API_KEY}"}, "missing"),
    ],
)
def test_api_key_denials(tmp_path: Path, request_headers: dict[str, str], reason: str) -> None:
    """Missing, unknown or wrongly presented keys are denied with a reason for the log."""
    config = AuthConfig.from_env(
        {"JWMO_API_KEYS_FILE": str(write_keys(tmp_path / "k.toml", {API_KEY: OWN_AGB}))}
    )
    assert config.authenticate(Headers(request_headers), "127.0.0.1") == Denial(reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('"short" = "12345678"\n', "entry 1"),
        (f'"{API_KEY}" = "1234"\n', "8-digit AGB"),
        (f'"{API_KEY}" = 12345678\n', "must map strings"),
        ("not toml at all = = =\n", "not a valid TOML or JSON"),
        ("", "no entries"),
    ],
)
def test_bad_key_files_are_refused_without_quoting_them(tmp_path: Path, content: str, message: str) -> None:
    """A key file that is unusable stops start-up; the message never contains a key."""
    path = tmp_path / "keys.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        AuthConfig.from_env({"JWMO_API_KEYS_FILE": str(path)})
    assert message in str(info.value)
    assert API_KEY not in str(info.value)


def test_missing_key_file_is_refused(tmp_path: Path) -> None:
    """A key file that cannot be read stops start-up, naming the variable."""
    with pytest.raises(ConfigError, match="JWMO_API_KEYS_FILE"):
        AuthConfig.from_env({"JWMO_API_KEYS_FILE": str(tmp_path / "absent.toml")})


def trusted_env(tmp_path: Path, proxies: str = "192.0.2.7, 10.1.0.0/16, ::1") -> dict[str, str]:
    return {
        "JWMO_TRUSTED_HEADER": "X-SSL-Client-S-DN",
        "JWMO_TRUSTED_PROXIES": proxies,
        "JWMO_CERT_AGB_MAP": str(write_subjects(tmp_path / "subjects.json", {SUBJECT: OWN_AGB})),
    }


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("192.0.2.7", True),
        ("10.1.200.3", True),
        ("::1", True),
        ("::ffff:192.0.2.7", True),  # IPv4-mapped form of a trusted proxy
        ("192.0.2.8", False),
        ("10.2.0.1", False),
        ("testclient", False),
        (None, False),
    ],
)
def test_trusted_proxy_addresses(tmp_path: Path, peer: str | None, trusted: bool) -> None:
    """Addresses and networks in JWMO_TRUSTED_PROXIES, nothing else, may set the trusted header."""
    config = AuthConfig.from_env(trusted_env(tmp_path))
    assert config.is_trusted_proxy(peer) is trusted
    outcome = config.authenticate(headers(x_ssl_client_s_dn=SUBJECT), peer)
    assert (outcome == Denial("forged_header")) is not trusted


def test_trusted_header_decisions(tmp_path: Path) -> None:
    """Known subject -> identity; unknown -> denied; repeated header -> denied; absent -> missing."""
    config = AuthConfig.from_env(trusted_env(tmp_path))
    proxy = "192.0.2.7"
    identity = config.authenticate(headers(x_ssl_client_s_dn=f"  {SUBJECT} "), proxy)
    assert isinstance(identity, Identity)
    assert identity.agb == OWN_AGB
    assert identity.method == "certificate"
    assert config.authenticate(headers(x_ssl_client_s_dn="CN=Other"), proxy) == Denial("unknown_subject")
    twice = Headers(raw=[(b"x-ssl-client-s-dn", SUBJECT.encode()), (b"x-ssl-client-s-dn", b"CN=Other")])
    assert config.authenticate(twice, proxy) == Denial("ambiguous")
    assert config.authenticate(headers(), proxy) == Denial("missing")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JWMO_TRUSTED_HEADER": "X-SSL-Client-S-DN"}, "JWMO_TRUSTED_PROXIES"),
        (
            {"JWMO_TRUSTED_HEADER": "X-SSL-Client-S-DN", "JWMO_TRUSTED_PROXIES": "192.0.2.7"},
            "JWMO_CERT_AGB_MAP",
        ),
        ({"JWMO_TRUSTED_PROXIES": "192.0.2.7"}, "need JWMO_TRUSTED_HEADER"),
        ({"JWMO_TRUSTED_HEADER": "Bad Header:", "JWMO_TRUSTED_PROXIES": "192.0.2.7"}, "header name"),
        ({"JWMO_TRUSTED_HEADER": "X-A", "JWMO_TRUSTED_PROXIES": "proxy.example"}, "IP addresses"),
    ],
)
def test_incomplete_trusted_header_configuration_is_refused(env: dict[str, str], message: str) -> None:
    """Half a trusted-header configuration is a start-up error, not a silently open door."""
    with pytest.raises(ConfigError, match=message):
        AuthConfig.from_env(env)


def test_repr_hides_key_digests(tmp_path: Path) -> None:
    """The configuration's repr shows counts, not keys or their digests."""
    config = AuthConfig.from_env(
        {"JWMO_API_KEYS_FILE": str(write_keys(tmp_path / "k.toml", {API_KEY: OWN_AGB}))}
    )
    text = repr(config)
    assert "api_keys=1" in text
    assert API_KEY not in text
    assert hashlib.sha256(API_KEY.encode()).hexdigest()[:16] not in text
