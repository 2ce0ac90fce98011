"""Per-municipality product-code table: which product codes name or imply a disorder.

Keyed by (municipality CBS code, ProductCategorie, ProductCode); an entry with municipality ``"*"``
applies to every municipality (e.g. the national product list) unless the municipality has its own entry.
Each entry says whether the code reveals a disorder, which neutral code (if any) the municipality defines
for it, and whether it marks the line as special-category data. See ``filters/municipal/products.toml``
for the format and documented examples.

Pure apart from :func:`load_products` (which reads one file); the table itself is immutable.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "EMPTY",
    "ProductInfo",
    "ProductTable",
    "ProductTableError",
    "default_products",
    "default_products_text",
    "load_products",
    "parse_products",
]

_MUNICIPALITY = re.compile(r"[0-9]{4}\Z")
_CATEGORY = re.compile(r"[0-9]{2}\Z")
# LDT_ProductCode: 1..5 characters, not all blank; kept to printable ASCII so it is safe in any output.
_CODE = re.compile(r"(?=.*\S)[!-~ ]{1,5}\Z")
_ENTRY_KEYS = frozenset(
    {
        "municipality",
        "category",
        "code",
        "name",
        "reveals_disorder",
        "neutral_code",
        "special_category",
        "source",
    }
)
ANY = "*"


class ProductTableError(ValueError):
    """The product table cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True, slots=True)
class ProductInfo:
    reveals_disorder: bool
    neutral_code: str | None
    special_category: bool


@dataclass(frozen=True, slots=True, eq=False)
class ProductTable:
    """Immutable lookup table. ``version`` is the table's ``table_version``."""

    version: str
    entries: MappingProxyType[tuple[str, str, str], ProductInfo]

    def lookup(self, municipality: str, category: str, code: str) -> ProductInfo | None:
        entries = self.entries
        found = entries.get((municipality, category, code))
        return found if found is not None else entries.get((ANY, category, code))

    def __len__(self) -> int:
        return len(self.entries)


EMPTY = ProductTable("empty", MappingProxyType({}))


def _entry(raw: Any, index: int, problems: list[str]) -> tuple[tuple[str, str, str], ProductInfo] | None:
    where = f"product #{index}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: each [[product]] must be a table")
        return None
    bad = [k for k in raw if k not in _ENTRY_KEYS]
    if bad:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(bad))}")
    municipality, category, code = raw.get("municipality"), raw.get("category"), raw.get("code")
    ok = True
    if not isinstance(municipality, str) or not (municipality == ANY or _MUNICIPALITY.match(municipality)):
        problems.append(f'{where}: municipality must be a 4-digit CBS code or "*"')
        ok = False
    if not isinstance(category, str) or not _CATEGORY.match(category):
        problems.append(f'{where}: category must be a 2-digit ProductCategorie (quoted: "45")')
        ok = False
    if not isinstance(code, str) or not _CODE.match(code):
        problems.append(f"{where}: code must be a ProductCode of 1 to 5 printable characters")
        ok = False
    reveals = raw.get("reveals_disorder")
    if not isinstance(reveals, bool):
        problems.append(f"{where}: reveals_disorder must be true or false")
        ok = False
    neutral = raw.get("neutral_code")
    if neutral is not None and (not isinstance(neutral, str) or not _CODE.match(neutral)):
        problems.append(f"{where}: neutral_code must be a ProductCode of 1 to 5 printable characters")
        ok = False
    special = raw.get("special_category", reveals)
    if not isinstance(special, bool):
        problems.append(f"{where}: special_category must be true or false")
        ok = False
    for text_key in ("name", "source"):
        if not isinstance(raw.get(text_key, ""), str):
            problems.append(f"{where}: {text_key} must be a string")
            ok = False
    if not ok:
        return None
    return (str(municipality), str(category), str(code)), ProductInfo(bool(reveals), neutral, bool(special))


def parse_products(text: str, *, name: str = "<products>") -> ProductTable:
    """Parse and check a product table; raise :class:`ProductTableError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProductTableError(f"product table {name} is not valid TOML: {exc}") from None
    problems: list[str] = []
    bad_top = [k for k in data if k not in ("table_version", "description", "product")]
    if bad_top:
        problems.append(f"top level: unknown key(s) {', '.join(sorted(bad_top))}")
    version = data.get("table_version")
    if not isinstance(version, str) or not version.strip():
        problems.append("top level: table_version is required (a non-empty string)")
        version = ""
    raw_entries = data.get("product", [])
    if not isinstance(raw_entries, list):
        problems.append("top level: product must be an array of tables ([[product]])")
        raw_entries = []
    entries: dict[tuple[str, str, str], ProductInfo] = {}
    for index, raw in enumerate(raw_entries, start=1):
        parsed = _entry(raw, index, problems)
        if parsed is None:
            continue
        key, info = parsed
        if key in entries:
            problems.append(f"product #{index}: the same municipality, category and code are listed earlier")
            continue
        entries[key] = info
    if problems:
        raise ProductTableError(f"product table {name} is not usable: " + "; ".join(problems))
    return ProductTable(str(version), MappingProxyType(entries))


def load_products(path: Path | str) -> ProductTable:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProductTableError(f"cannot read product table {p}: {exc}") from None
    return parse_products(text, name=p.name)


def default_products_text() -> str:
    """The text of the shipped example table ``filters/municipal/products.toml``."""
    return (resources.files("filters") / "municipal" / "products.toml").read_text(encoding="utf-8")


def default_products() -> ProductTable:
    return parse_products(default_products_text(), name="products.toml")
