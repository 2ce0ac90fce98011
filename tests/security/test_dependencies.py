"""Dependency floor (checklist 20): the parsers that see untrusted input are the versions the measurements
in security.md rely on, and nothing else parses it."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from lxml import etree

from gateway.intake.archive import read_archive
from tests.intake.test_archive import overlapped_bomb

PROJECT = Path(__file__).resolve().parents[2]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def test_lxml_is_at_least_6_1_and_built_without_network_fetching_surprises() -> None:
    """lxml >= 6.1.0 (CVE-2026-41066: iterparse/ETCompatXMLParser resolved entities before 6.1.0)."""
    assert etree.LXML_VERSION[:3] >= (6, 1, 0)
    assert version(importlib.metadata.version("lxml")) >= (6, 1, 0)


def test_encryption_at_rest_dependency_is_installed() -> None:
    """``cryptography`` (AES-GCM of the restricted store) is importable and a declared dependency."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    assert AESGCM.generate_key(bit_length=256)
    requires = importlib.metadata.requires("jwmo-gateway") or []
    assert any(r.startswith("cryptography") for r in requires)


def test_no_expat_based_parser_sees_input() -> None:
    """expat 2.5.0 (this CPython) is quadratic on huge tokens (CVE-2023-52425); so no shipped module imports
    xml.etree, xml.dom, xml.sax (but its escaping helpers), pyexpat, defusedxml or xmlschema (a test-only
    oracle here)."""
    forbidden = ("xml.etree", "xml.dom", "xml.sax", "pyexpat", "defusedxml", "xmlschema")
    offenders = []
    for path in sorted([*(PROJECT / "gateway").rglob("*.py"), *(PROJECT / "filters").rglob("*.py")]):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if "xml.sax.saxutils" in stripped:  # string escaping helpers, not a parser
                continue
            if stripped.startswith(("import ", "from ")) and any(f in stripped for f in forbidden):
                offenders.append(f"{path.relative_to(PROJECT)}: {stripped}")
    assert offenders == []


def test_zip_overlap_check_is_present() -> None:
    """CPython 3.11's zipfile lacks the overlapped-entries check (gh-109858); the gateway's reader has it."""
    result = read_archive(overlapped_bomb())
    assert result.error is not None
    assert result.error.code == "ZIP_OVERLAP"
