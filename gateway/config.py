"""Configuration from the environment (prefix ``JWMO_``); CLI options of the same name override it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.intake.transport import DEFAULT_MAX_MESSAGE_BYTES

__all__ = ["ConfigError", "Settings"]


class ConfigError(Exception):
    """A configuration value is unusable; the message names the variable, never a secret."""


@dataclass(frozen=True, slots=True)
class Settings:
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    schema_dirs: tuple[Path, ...] = ()

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
        return cls(max_message_bytes=max_bytes, schema_dirs=dirs)
