"""``jwmo-gateway serve`` start-up decisions: refusals happen before anything is bound or started."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import ConfigError
from gateway.service.serve import KAFKA_UNAVAILABLE, ServeOptions, is_loopback
from tests.service.test_http import API_KEY, OWN_AGB, write_keys

AUTH_VARIABLES = ("JWMO_API_KEYS_FILE", "JWMO_TRUSTED_HEADER", "JWMO_TRUSTED_PROXIES", "JWMO_CERT_AGB_MAP")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in (*AUTH_VARIABLES, "JWMO_KAFKA_BOOTSTRAP", "JWMO_HOST", "JWMO_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWMO_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "gateway.example"])  # noqa: S104
def test_open_local_mode_refuses_a_non_loopback_bind(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str, tmp_path: Path
) -> None:
    """Without authentication, any address but loopback is refused at start-up (exit 2, clear message)."""
    assert main(["serve", "--host", host, "--port", "1"]) == 2
    error = capsys.readouterr().err
    assert f"refusing to listen on {host} without authentication" in error
    assert "JWMO_API_KEYS_FILE" in error
    assert not (tmp_path / "data").exists()  # nothing was started


def test_non_loopback_from_jwmo_host_is_refused_too(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """JWMO_HOST is checked like --host."""
    clean_env.setenv("JWMO_HOST", "0.0.0.0")  # noqa: S104
    assert main(["serve"]) == 2
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err


def test_kafka_without_the_adapter_is_refused(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """JWMO_KAFKA_BOOTSTRAP in a build without gateway.service.kafka: a clear refusal, exit 2."""
    clean_env.setenv("JWMO_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    clean_env.setitem(sys.modules, "gateway.service.kafka", None)  # makes the import fail
    assert main(["serve", "--port", "1"]) == 2
    assert KAFKA_UNAVAILABLE in capsys.readouterr().err


def test_bad_authentication_configuration_stops_start_up(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A broken key file is a start-up error even on loopback."""
    (tmp_path / "keys.toml").write_text('"short" = "12345678"\n')
    clean_env.setenv("JWMO_API_KEYS_FILE", str(tmp_path / "keys.toml"))
    assert main(["serve", "--port", "1"]) == 2
    assert "JWMO_API_KEYS_FILE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWMO_HTTP_BODY_TIMEOUT", "soon"),
        ("JWMO_HTTP_BODY_TIMEOUT", "0"),
        ("JWMO_HTTP_LIMIT_CONCURRENCY", "0"),
        ("JWMO_PORT", "http"),
        ("JWMO_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_server_settings_are_usage_errors(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    """Unusable JWMO_HTTP_* / JWMO_PORT / JWMO_LOG_LEVEL values: exit 2 naming the variable."""
    clean_env.setenv(name, value)
    assert main(["serve"]) == 2
    assert name in capsys.readouterr().err


def test_server_options_from_arguments_and_environment() -> None:
    """CLI options win over JWMO_HOST/JWMO_PORT; the JWMO_HTTP_* variables fill the rest."""
    env = {
        "JWMO_HOST": "::1",
        "JWMO_PORT": "9000",
        "JWMO_HTTP_BODY_TIMEOUT": "12.5",
        "JWMO_HTTP_HEADER_TIMEOUT": "4",
        "JWMO_HTTP_KEEP_ALIVE": "3",
        "JWMO_HTTP_LIMIT_CONCURRENCY": "10",
        "JWMO_HTTP_MAX_HEADER_BYTES": "8192",
    }
    from_env = ServeOptions.from_args(argparse.Namespace(host=None, port=None, workers=3), env)
    assert (from_env.host, from_env.port, from_env.workers) == ("::1", 9000, 3)
    assert (from_env.body_timeout, from_env.header_timeout, from_env.keep_alive) == (12.5, 4.0, 3.0)
    assert (from_env.limit_concurrency, from_env.max_header_bytes) == (10, 8192)
    from_args = ServeOptions.from_args(argparse.Namespace(host="127.0.0.2", port=8081, workers=1), env)
    assert (from_args.host, from_args.port) == ("127.0.0.2", 8081)
    defaults = ServeOptions.from_args(argparse.Namespace(host=None, port=None, workers=None), {})
    assert (defaults.host, defaults.port, defaults.body_timeout) == ("127.0.0.1", 8080, 30.0)
    assert defaults.workers >= 1
    with pytest.raises(ConfigError):
        ServeOptions.from_args(argparse.Namespace(host=None, port=None, workers=0), {})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104
        ("::", False),
        ("10.0.0.1", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    """Only loopback addresses (and the name localhost) count as loopback."""
    assert is_loopback(host) is loopback


def test_authenticated_configuration_passes_the_bind_check(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With API keys configured a non-loopback address passes the open-mode check (then fails on Kafka)."""
    clean_env.setenv("JWMO_API_KEYS_FILE", str(write_keys(tmp_path / "keys.toml", {API_KEY: OWN_AGB})))
    clean_env.setenv("JWMO_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    clean_env.setitem(sys.modules, "gateway.service.kafka", None)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2  # noqa: S104
    error = capsys.readouterr().err
    assert "refusing to listen" not in error
    assert KAFKA_UNAVAILABLE in error
