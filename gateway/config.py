"""Configuration from the environment (prefix ``JWMO_``); CLI options of the same name override it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.intake.transport import DEFAULT_MAX_MESSAGE_BYTES

__all__ = ["ConfigError", "Settings", "default_data_dir"]

APP = "jwmo-gateway"


class ConfigError(Exception):
    """A configuration value is unusable; the message names the variable, never a secret."""


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The platform's per-user data directory for the gateway (clarifications item 18)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "win32":  # pragma: no cover - not exercised on the CI platform
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":  # pragma: no cover
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / APP


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the adapters read from the environment. Secrets are kept out of ``repr``."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    schema_dirs: tuple[Path, ...] = ()
    data_dir: Path = Path()
    policy: Path | None = None
    hmac_key: bytes | None = None
    kafka_bootstrap: str | None = None

    def __repr__(self) -> str:
        key = "set" if self.hmac_key else "unset"
        return (
            f"Settings(max_message_bytes={self.max_message_bytes}, schema_dirs={self.schema_dirs}, "
            f"data_dir={self.data_dir}, policy={self.policy}, hmac_key={key}, "
            f"kafka_bootstrap={self.kafka_bootstrap})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw_max = env.get("JWMO_MAX_MESSAGE_BYTES", "").strip()
        max_bytes = DEFAULT_MAX_MESSAGE_BYTES
        if raw_max:
            try:
                max_bytes = int(raw_max)
            except ValueError:
                raise ConfigError("JWMO_MAX_MESSAGE_BYTES must be a whole number of bytes") from None
            if max_bytes <= 0:
                raise ConfigError("JWMO_MAX_MESSAGE_BYTES must be positive")
        raw_dirs = env.get("JWMO_SCHEMA_DIR", "")
        dirs = tuple(Path(p) for p in raw_dirs.split(os.pathsep) if p.strip())
        data_dir = (
            Path(env["JWMO_DATA_DIR"]) if env.get("JWMO_DATA_DIR", "").strip() else default_data_dir(env)
        )
        policy = Path(env["JWMO_POLICY"]) if env.get("JWMO_POLICY", "").strip() else None
        raw_key = env.get("JWMO_HMAC_KEY", "")
        key_file = env.get("JWMO_HMAC_KEY_FILE", "").strip()
        if not raw_key and key_file:  # a secret mounted as a file (containers)
            try:
                raw_key = Path(key_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"JWMO_HMAC_KEY_FILE cannot be read: {exc.strerror}") from None
        if raw_key and len(raw_key.encode()) < 16:
            raise ConfigError("JWMO_HMAC_KEY must be at least 16 bytes long")
        bootstrap = env.get("JWMO_KAFKA_BOOTSTRAP", "").strip() or None
        return cls(
            max_message_bytes=max_bytes,
            schema_dirs=dirs,
            data_dir=data_dir,
            policy=policy,
            hmac_key=raw_key.encode() if raw_key else None,
            kafka_bootstrap=bootstrap,
        )
