"""Who is calling the HTTP intake, and as which AGB code they may send.

Two ways to authenticate a caller, configured by environment variables (both may be active at once):

* **API keys** (``JWMO_API_KEYS_FILE``): a TOML or JSON file mapping each key to the AGB code it may send
  as. A key is either written as itself (at least 16 characters) or, better, as ``sha256:<64 hex digits>``
  of the key, so the file holds no usable secret. Two keys may map to the same AGB code (rotation).
  Callers present a key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Keys are compared as
  SHA-256 digests with :func:`hmac.compare_digest` over every entry (no early exit) and never logged.
* **A trusted header** set by the TLS-terminating proxy (``JWMO_TRUSTED_HEADER``, e.g.
  ``X-SSL-Client-S-DN``): the proxy verifies the client certificate and puts its subject (or fingerprint)
  in the header. Only peers listed in ``JWMO_TRUSTED_PROXIES`` (IP addresses or networks, comma-separated)
  may set it; the header arriving from any other peer is a forgery and the request is refused (401), even
  if it also carries a valid API key. ``JWMO_CERT_AGB_MAP`` is a TOML or JSON file mapping each subject
  string, exactly as the proxy sends it, to an AGB code.

File layout (TOML shown; JSON is the same mapping, chosen by a ``.json`` suffix)::

    [keys]                       # JWMO_API_KEYS_FILE (the table name is optional)
    "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b" = "12345678"

    [subjects]                   # JWMO_CERT_AGB_MAP (the table name is optional)
    "CN=Zorg BV,O=Zorg BV,C=NL" = "12345678"

Without any of these variables the gateway runs in *open local mode* (see ``serve``). A configuration that
is only half there (a trusted header without proxies or map, or the reverse) is refused at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gateway.config import ConfigError

__all__ = ["AuthConfig", "Denial", "Identity"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_AGB = re.compile(r"\A\d{8}\Z")
_HASHED = re.compile(r"\Asha256:([0-9a-fA-F]{64})\Z")
_MIN_KEY_LENGTH = 16
_MAX_KEY_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller: the AGB code it may send as, how it proved it, and a log-safe id."""

    agb: str
    method: Literal["api_key", "certificate"]
    key_id: str  # a short digest: identifies the credential in logs without revealing it


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a caller was not authenticated (logged; the caller only sees a generic 401)."""

    reason: Literal["missing", "unknown_key", "unknown_subject", "forged_header", "ambiguous"]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _key_id(digest: bytes) -> str:
    # base32 rather than hex: the log redaction would mask a hex id that happens to hold 8 digits in a row
    return base64.b32encode(digest).decode()[:12].lower()


def _load_mapping(variable: str, path: Path, table: str) -> dict[str, str]:
    """A flat string-to-string mapping from a TOML or JSON file (optionally under ``table``)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    try:
        data: object = (
            json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
        )
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError and TOMLDecodeError are ValueErrors
        # Never quote the parser's message: it may contain a key.
        raise ConfigError(f"{variable}: {path} is not a valid TOML or JSON file") from None
    if isinstance(data, dict) and set(data) == {table} and isinstance(data[table], dict):
        data = data[table]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(f"{variable}: {path} must map strings to AGB codes (strings of 8 digits)")
    for value in data.values():
        if not _AGB.match(value):
            raise ConfigError(
                f"{variable}: {path} maps an entry to something that is not an 8-digit AGB code"
            )
    if not data:
        raise ConfigError(f"{variable}: {path} has no entries")
    return dict(data)


def _load_keys(path: Path) -> tuple[tuple[bytes, str], ...]:
    entries: list[tuple[bytes, str]] = []
    for position, (key, agb) in enumerate(_load_mapping("JWMO_API_KEYS_FILE", path, "keys").items(), 1):
        hashed = _HASHED.match(key)
        if hashed:
            entries.append((bytes.fromhex(hashed.group(1)), agb))
        elif _MIN_KEY_LENGTH <= len(key) <= _MAX_KEY_LENGTH:
            entries.append((_digest(key), agb))
        else:
            raise ConfigError(
                f"JWMO_API_KEYS_FILE: entry {position} of {path} is neither sha256:<64 hex digits> nor a key "
                f"of {_MIN_KEY_LENGTH} to {_MAX_KEY_LENGTH} characters"
            )
    return tuple(entries)


def _load_proxies(raw: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(
                "JWMO_TRUSTED_PROXIES must be a comma-separated list of IP addresses or networks"
            ) from None
    return tuple(networks)


def _peer_address(peer: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not peer:
        return None
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """The caller-identity configuration; empty (the default) means open local mode."""

    api_keys: tuple[tuple[bytes, str], ...] = ()  # (SHA-256 digest of the key, AGB)
    trusted_header: str | None = None  # lower-case header name
    trusted_proxies: tuple[IPNetwork, ...] = ()
    subjects: Mapping[str, str] = field(default_factory=dict)  # certificate subject -> AGB

    def __repr__(self) -> str:  # never show key digests
        return (
            f"AuthConfig(api_keys={len(self.api_keys)}, trusted_header={self.trusted_header!r}, "
            f"trusted_proxies={[str(n) for n in self.trusted_proxies]}, subjects={len(self.subjects)})"
        )

    @property
    def enabled(self) -> bool:
        """True when callers must authenticate (otherwise: open local mode)."""
        return bool(self.api_keys) or self.trusted_header is not None

    @property
    def methods(self) -> tuple[str, ...]:
        out = []
        if self.api_keys:
            out.append("api_key")
        if self.trusted_header is not None:
            out.append("trusted_header")
        return tuple(out)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthConfig:
        """Read ``JWMO_API_KEYS_FILE``, ``JWMO_TRUSTED_HEADER``, ``JWMO_TRUSTED_PROXIES`` and
        ``JWMO_CERT_AGB_MAP``; ConfigError when they are unusable or only partly set."""
        env = os.environ if env is None else env
        keys_file = env.get("JWMO_API_KEYS_FILE", "").strip()
        header = env.get("JWMO_TRUSTED_HEADER", "").strip()
        proxies = env.get("JWMO_TRUSTED_PROXIES", "").strip()
        cert_map = env.get("JWMO_CERT_AGB_MAP", "").strip()
        api_keys = _load_keys(Path(keys_file)) if keys_file else ()
        if not header:
            if proxies or cert_map:
                raise ConfigError(
                    "JWMO_TRUSTED_PROXIES and JWMO_CERT_AGB_MAP need JWMO_TRUSTED_HEADER (the header the "
                    "proxy sets)"
                )
            return cls(api_keys=api_keys)
        if not re.fullmatch(r"[A-Za-z0-9-]{1,100}", header):
            raise ConfigError("JWMO_TRUSTED_HEADER must be an HTTP header name (letters, digits, '-')")
        networks = _load_proxies(proxies)
        if not networks:
            raise ConfigError(
                "JWMO_TRUSTED_HEADER needs JWMO_TRUSTED_PROXIES: the addresses of the proxies that may set it"
            )
        if not cert_map:
            raise ConfigError(
                "JWMO_TRUSTED_HEADER needs JWMO_CERT_AGB_MAP: the certificate subject -> AGB file"
            )
        subjects = _load_mapping("JWMO_CERT_AGB_MAP", Path(cert_map), "subjects")
        return cls(
            api_keys=api_keys,
            trusted_header=header.lower(),
            trusted_proxies=networks,
            subjects={k.strip(): v for k, v in subjects.items()},
        )

    def is_trusted_proxy(self, peer: str | None) -> bool:
        address = _peer_address(peer)
        return address is not None and any(address in network for network in self.trusted_proxies)

    def _lookup_key(self, presented: str) -> Identity | None:
        digest = _digest(presented)
        found: str | None = None
        for stored, agb in self.api_keys:  # every entry: the time taken does not depend on the match
            if hmac.compare_digest(digest, stored):
                found = agb
        return None if found is None else Identity(found, "api_key", _key_id(digest))

    def authenticate(self, headers: Mapping[str, str], peer: str | None) -> Identity | Denial:
        """The caller's identity from the request headers and the TCP peer address.

        ``headers`` must be case-insensitive (Starlette ``Headers``); ``peer`` is the real TCP peer (the
        server runs without proxy-header rewriting, so this is the proxy's address behind a proxy).
        """
        if self.trusted_header is not None:
            values = _all_values(headers, self.trusted_header)
            if values:
                if not self.is_trusted_proxy(peer):
                    return Denial("forged_header")
                if len(values) != 1:
                    return Denial("ambiguous")
                subject = values[0].strip()
                agb = self.subjects.get(subject)
                if agb is None:
                    return Denial("unknown_subject")
                return Identity(agb, "certificate", _key_id(_digest(subject)))
        if self.api_keys:
            presented = _presented_key(headers)
            if presented is not None:
                identity = self._lookup_key(presented)
                return identity if identity is not None else Denial("unknown_key")
        return Denial("missing")


def _all_values(headers: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    values: list[str] = list(getlist(name)) if callable(getlist) else [headers.get(name, "")]
    return [v for v in values if v.strip()]


def _presented_key(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None
