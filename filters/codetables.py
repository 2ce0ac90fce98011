"""The JW321 code tables (legacy-formats.md C.1-C.9), loaded from TOML data files.

The tables are **reconstructed**, not the official Vektis/Zorginstituut/NZa definitions; each file says so in
its header and carries a ``table_version`` and the period it describes (``valid_from`` / ``valid_until``,
2015-01-01..2018-12-31: the DBC era of youth GGZ). The shipped files live in ``filters/tables/``; an operator
replaces one by putting a file with the same name in an override directory (the ``override_dirs``
parameter, else ``JWMO_TABLE_DIR``, then ``JWMO_SCHEMA_DIR``; several directories separated by
``os.pathsep``, the first that holds the file wins). Nothing in the code hard-wires a code value.

Shared by the validator (EI015 domains, EI109 triplets, EI110 DSM consistency) and the minimisation
engine. Pure apart from reading the files; every result is immutable and cached per set of directories:

>>> tables = load_tables()
>>> tables.dsm4_group("296.32"), tables.zorgtype("110").neutral, tables.productgroep_class("902")
('HG08', '101', 'basis')
>>> tables.line_class("301", "144"), tables.is_valid_triplet("diagnoseclassificatie", "017")
('crisis', False)

Module-level shortcuts (:func:`dsm4_group`, :func:`zorgtype`, :func:`productgroep_class`,
:func:`is_valid_triplet`, :func:`line_class`) use :func:`load_tables` with the environment's directories.

Privacy: exceptions raised for a bad *code* (e.g. a malformed DSM-IV code) never quote the code; errors in a
*table file* name the file and the entry (table files hold no personal data).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, cast, get_args

__all__ = [
    "ENV_SCHEMA_DIR",
    "ENV_TABLE_DIR",
    "LINE_CLASSES",
    "SHIPPED_DIR",
    "TABLE_NAMES",
    "TRIPLETS",
    "CodeTables",
    "DsmRule",
    "LineClass",
    "MainGroup",
    "NeutralValues",
    "Prestatiecode",
    "Productgroep",
    "TableError",
    "TableInfo",
    "Triplet",
    "TypeVerwijzer",
    "Zorgtype",
    "definition_dirs",
    "dsm4_group",
    "find_definition",
    "is_valid_triplet",
    "line_class",
    "load_tables",
    "productgroep_class",
    "zorgtype",
]

SHIPPED_DIR = Path(__file__).resolve().parent / "tables"
ENV_TABLE_DIR = "JWMO_TABLE_DIR"
ENV_SCHEMA_DIR = "JWMO_SCHEMA_DIR"

TABLE_NAMES = (
    "main_groups",
    "dsm4_groups",
    "zorgtypes",
    "diagnoseclassificatie",
    "zorgvraagzwaarte",
    "productgroepen",
    "type_verwijzer",
    "afsluitreden",
    "neutral_values",
)

#: The four triplets of a DBC_PRESTATIECODE, in order (positions 1-3, 4-6, 7-9, 10-12 of the code).
Triplet = Literal["zorgtype", "diagnoseclassificatie", "zorgvraagzwaarte", "productgroep"]
TRIPLETS: tuple[Triplet, ...] = get_args(Triplet)

#: The class of a declaration line the minimisation policy decides on (C.6).
LineClass = Literal["neutral", "diagnostiek", "crisis", "behandeling-kort", "other", "basis"]
LINE_CLASSES: tuple[LineClass, ...] = get_args(LineClass)

_TRIPLET_CODE = re.compile(r"[0-9]{3}")
_TWO_DIGITS = re.compile(r"[0-9]{2}")
_DSM_RULE_PATTERN = re.compile(r"\*|V\*|[0-9V][0-9.]*(\.\*|\*)?")


class TableError(ValueError):
    """A table file is missing, unreadable or inconsistent; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What a loaded table file is: its name, version, status, validity period and where it came from."""

    name: str
    table_version: str
    status: str
    valid_from: date
    valid_until: date
    path: Path
    shipped: bool

    def covers(self, day: date) -> bool:
        """True when ``day`` lies in the period the table describes (inclusive)."""
        return self.valid_from <= day <= self.valid_until


@dataclass(frozen=True, slots=True)
class MainGroup:
    """C.1: one group. ``is_main_group`` is false for ADJ, VCODE and NONE ("no main group")."""

    key: str
    triplet: str
    is_main_group: bool
    name_nl: str
    name_en: str


@dataclass(frozen=True, slots=True)
class DsmRule:
    """C.2: one rule of the ordered first-match list."""

    number: int
    group: str
    patterns: tuple[str, ...]

    def matches(self, code: str) -> bool:
        """True when one of the patterns matches a well-formed DSM-IV code (notation: dsm4_groups.toml)."""
        return any(_pattern_matches(p, code) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class Zorgtype:
    """C.3: ``neutral`` is the replacement of a judicial code, else the code itself."""

    code: str
    meaning: str
    judicial: bool
    neutral: str
    line_class: LineClass | None


@dataclass(frozen=True, slots=True)
class Productgroep:
    """C.6."""

    code: str
    name: str
    line_class: LineClass


@dataclass(frozen=True, slots=True)
class TypeVerwijzer:
    """C.7: ``neutral`` is the replacement of a judicial referrer (08 -> 07), else the code itself."""

    code: str
    meaning: str
    judicial: bool
    neutral: str


@dataclass(frozen=True, slots=True)
class NeutralValues:
    """C.9 (scalar values; the zorgtype and referrer replacements are in their own tables)."""

    diagnoseclassificatie: str
    zorgvraagzwaarte: str
    productgroep: str
    declaratiecode_restricted: str
    diagnosecode_dsm4: str


class Prestatiecode(NamedTuple):
    """The four triplets of a 12-digit DBC_PRESTATIECODE."""

    zorgtype: str
    diagnoseclassificatie: str
    zorgvraagzwaarte: str
    productgroep: str

    @classmethod
    def parse(cls, code: str) -> Prestatiecode | None:
        """Split a 12-digit code; None when it is not 12 digits."""
        if len(code) != 12 or not code.isascii() or not code.isdigit():
            return None
        return cls(code[0:3], code[3:6], code[6:9], code[9:12])

    def __str__(self) -> str:
        return "".join(self)


@dataclass(frozen=True, slots=True, eq=False)
class CodeTables:
    """Every table of C.1-C.9, read-only. Identity-hashable so it can key caches."""

    info: Mapping[str, TableInfo]
    main_groups: Mapping[str, MainGroup]  # by key (HG01..HG14, ADJ, VCODE, NONE)
    dsm4_pattern: re.Pattern[str]
    dsm4_rules: tuple[DsmRule, ...]
    dsm4_matcher: re.Pattern[str]  # the rules as one alternation: group ``r<n>`` is rule n
    zorgtypes: Mapping[str, Zorgtype]
    diagnoseclassificatie: Mapping[str, str]  # triplet -> group key
    zorgvraagzwaarte: Mapping[str, str]  # triplet -> meaning
    productgroepen: Mapping[str, Productgroep]
    type_verwijzer: Mapping[str, TypeVerwijzer]
    afsluitreden: Mapping[str, str]  # code -> meaning
    neutral: NeutralValues

    @property
    def shipped(self) -> bool:
        """True when every table is the shipped file (no operator override)."""
        return all(info.shipped for info in self.info.values())

    def is_dsm4_code(self, code: str) -> bool:
        """True when ``code`` has the form of C.2 (e.g. ``296.32``, ``311``, ``V61.20``)."""
        return self.dsm4_pattern.fullmatch(code) is not None

    def dsm4_group(self, code: str) -> str:
        """The group of a DSM-IV code by the first matching rule: ``HG01``..``HG14``, ``ADJ``, ``VCODE``,
        ``NONE``. Raises :class:`ValueError` (without quoting the code) for a malformed code."""
        if not self.is_dsm4_code(code):
            raise ValueError("not a well-formed DSM-IV code")
        match = self.dsm4_matcher.fullmatch(code)
        if match is None or match.lastgroup is None:
            raise ValueError("no rule of the DSM-IV table matches the code")  # shipped table ends with "*"
        return self.dsm4_rules[int(match.lastgroup[1:]) - 1].group

    def group_triplet(self, group: str) -> str:
        """The diagnoseclassificatie triplet of a group key (``HG08`` -> ``008``, ``NONE`` -> ``000``)."""
        return self.main_groups[group].triplet

    def group_of_triplet(self, triplet: str) -> str | None:
        """The group key a diagnoseclassificatie triplet stands for, or None when it is not in the table."""
        return self.diagnoseclassificatie.get(triplet)

    def main_group_of_triplet(self, triplet: str) -> str | None:
        """``HG01``..``HG14`` for a triplet of a main group; None for 000, 015, 016 and unknown values."""
        group = self.diagnoseclassificatie.get(triplet)
        return group if group is not None and self.main_groups[group].is_main_group else None

    def zorgtype(self, code: str) -> Zorgtype | None:
        return self.zorgtypes.get(code)

    def productgroep_class(self, code: str) -> LineClass | None:
        found = self.productgroepen.get(code)
        return found.line_class if found is not None else None

    def line_class(self, zorgtype: str, productgroep: str) -> LineClass | None:
        """C.6: the zorgtype's own class (301/302: crisis) if it has one, else the productgroep's class."""
        z = self.zorgtypes.get(zorgtype)
        if z is not None and z.line_class is not None:
            return z.line_class
        return self.productgroep_class(productgroep)

    def is_valid_triplet(self, triplet: Triplet, value: str) -> bool:
        """True when ``value`` is in the table of that triplet (C.3-C.6)."""
        if triplet == "zorgtype":
            return value in self.zorgtypes
        if triplet == "diagnoseclassificatie":
            return value in self.diagnoseclassificatie
        if triplet == "zorgvraagzwaarte":
            return value in self.zorgvraagzwaarte
        return value in self.productgroepen

    def invalid_triplets(self, prestatiecode: str) -> tuple[Triplet, ...]:
        """The triplets of a 12-digit code that are not in their table (all four for a malformed code)."""
        parts = Prestatiecode.parse(prestatiecode)
        if parts is None:
            return TRIPLETS
        return tuple(t for t, v in zip(TRIPLETS, parts, strict=True) if not self.is_valid_triplet(t, v))

    def codes(self, table: str) -> tuple[str, ...]:
        """The codes of a code list by table name, in table order (for domains: type_verwijzer, ...)."""
        lists: dict[str, Iterable[str]] = {
            "zorgtypes": self.zorgtypes,
            "diagnoseclassificatie": self.diagnoseclassificatie,
            "zorgvraagzwaarte": self.zorgvraagzwaarte,
            "productgroepen": self.productgroepen,
            "type_verwijzer": self.type_verwijzer,
            "afsluitreden": self.afsluitreden,
        }
        if table not in lists:
            raise KeyError(f"{table} is not a code list")
        return tuple(lists[table])


# --------------------------------------------------------------------------------------------------
# Locating files


def _split_dirs(value: str) -> list[Path]:
    return [Path(p) for p in value.split(os.pathsep) if p.strip()]


def definition_dirs(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The operator's override directories from the environment: ``JWMO_TABLE_DIR``, then
    ``JWMO_SCHEMA_DIR`` (legacy-formats.md 0.3: layout and table files there replace the shipped ones)."""
    env = os.environ if env is None else env
    return (*_split_dirs(env.get(ENV_TABLE_DIR, "")), *_split_dirs(env.get(ENV_SCHEMA_DIR, "")))


def _normalise_dirs(override_dirs: Sequence[Path | str] | Path | str | None) -> tuple[Path, ...]:
    if override_dirs is None:
        return definition_dirs()
    if isinstance(override_dirs, str | Path):
        return (Path(override_dirs),)
    return tuple(Path(d) for d in override_dirs)


def find_definition(file_name: str, shipped_dir: Path, override_dirs: Sequence[Path]) -> tuple[Path, bool]:
    """The file to use: the first override directory that holds ``file_name``, else the shipped one.

    Returns ``(path, shipped)``. A configured override directory that does not exist is an error (a typo
    in the configuration must not silently fall back to the shipped reconstruction).
    """
    for directory in override_dirs:
        if not directory.is_dir():
            raise TableError(f"override directory {directory} does not exist")
        candidate = directory / file_name
        if candidate.is_file():
            return candidate, False
    return shipped_dir / file_name, True


# --------------------------------------------------------------------------------------------------
# Reading and checking


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise TableError(f"cannot read table {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TableError(f"table {path} is not valid TOML: {exc}") from None


def _info(name: str, data: Mapping[str, Any], path: Path, shipped: bool) -> TableInfo:
    if data.get("table") != name:
        raise TableError(f"table {path}: key 'table' must be {name!r}")
    version, status = data.get("table_version"), data.get("status")
    valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
    if not isinstance(version, str) or not version:
        raise TableError(f"table {path}: 'table_version' must be a non-empty string")
    if not isinstance(status, str) or not status:
        raise TableError(f"table {path}: 'status' must be a non-empty string (e.g. reconstructed)")
    if not isinstance(valid_from, date) or not isinstance(valid_until, date) or valid_from > valid_until:
        raise TableError(f"table {path}: 'valid_from' and 'valid_until' must be dates, in that order")
    return TableInfo(name, version, status, valid_from, valid_until, path, shipped)


def _rows(data: Mapping[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    rows = data.get(key)
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise TableError(f"table {path}: {key!r} must be a non-empty list of tables")
    return cast("list[dict[str, Any]]", rows)


def _text(row: Mapping[str, Any], key: str, path: Path, where: str, *, default: str | None = None) -> str:
    value = row.get(key, default)
    if not isinstance(value, str):
        raise TableError(f"table {path}, {where}: {key!r} must be a string")
    return value


def _flag(row: Mapping[str, Any], key: str, path: Path, where: str) -> bool:
    value = row.get(key, False)
    if not isinstance(value, bool):
        raise TableError(f"table {path}, {where}: {key!r} must be true or false")
    return value


def _code(row: Mapping[str, Any], path: Path, index: int, form: re.Pattern[str], seen: set[str]) -> str:
    code = row.get("code")
    if not isinstance(code, str) or form.fullmatch(code) is None:
        raise TableError(f"table {path}, entry {index + 1}: 'code' must match {form.pattern}")
    if code in seen:
        raise TableError(f"table {path}, entry {index + 1}: code {code} occurs twice")
    seen.add(code)
    return code


def _line_class(value: object, path: Path, where: str) -> LineClass:
    if value not in LINE_CLASSES:
        raise TableError(f"table {path}, {where}: class must be one of {', '.join(LINE_CLASSES)}")
    return value


def _pattern_matches(pattern: str, code: str) -> bool:
    if pattern.endswith(".*"):
        base = pattern[:-2]
        return code == base or code.startswith(base + ".")
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


def _pattern_regex(pattern: str) -> str:
    """A rule pattern (notation of dsm4_groups.toml) as a regular expression."""
    if pattern.endswith(".*"):
        return re.escape(pattern[:-2]) + r"(?:\.[0-9]+)?"
    if pattern.endswith("*"):
        return re.escape(pattern[:-1]) + ".*"
    return re.escape(pattern)


def _dsm_matcher(rules: Sequence[DsmRule]) -> re.Pattern[str]:
    """One alternation in rule order; a full match takes the first rule that matches (``lastgroup``)."""
    return re.compile(
        "|".join(f"(?P<r{r.number}>{'|'.join(_pattern_regex(p) for p in r.patterns)})" for r in rules)
    )


def _main_groups(data: Mapping[str, Any], path: Path) -> dict[str, MainGroup]:
    groups: dict[str, MainGroup] = {}
    triplets: set[str] = set()
    for i, row in enumerate(_rows(data, "groups", path)):
        where = f"entry {i + 1}"
        key = _text(row, "key", path, where)
        triplet = _text(row, "triplet", path, where)
        if not key or key in groups:
            raise TableError(f"table {path}, {where}: key must be unique and non-empty")
        if _TRIPLET_CODE.fullmatch(triplet) is None or triplet in triplets:
            raise TableError(f"table {path}, {where} ({key}): 'triplet' must be 3 digits, unique")
        triplets.add(triplet)
        groups[key] = MainGroup(
            key,
            triplet,
            _flag(row, "main_group", path, where),
            _text(row, "name_nl", path, where, default=""),
            _text(row, "name_en", path, where, default=""),
        )
    return groups


def _dsm_rules(
    data: Mapping[str, Any], path: Path, groups: Mapping[str, MainGroup]
) -> tuple[re.Pattern[str], tuple[DsmRule, ...]]:
    raw_pattern = data.get("pattern")
    if not isinstance(raw_pattern, str):
        raise TableError(f"table {path}: 'pattern' must be a regular expression")
    try:
        pattern = re.compile(raw_pattern.removeprefix("^").removesuffix("$"))
    except re.error as exc:
        raise TableError(f"table {path}: 'pattern' does not compile: {exc}") from None
    rules = []
    for i, row in enumerate(_rows(data, "rule", path)):
        where = f"rule {i + 1}"
        group = _text(row, "group", path, where)
        if group not in groups:
            raise TableError(f"table {path}, {where}: group {group!r} is not in main_groups")
        patterns = row.get("patterns")
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
            raise TableError(f"table {path}, {where}: 'patterns' must be a non-empty list of strings")
        for p in patterns:
            exact = not p.endswith("*")
            if _DSM_RULE_PATTERN.fullmatch(p) is None or (exact and pattern.fullmatch(p) is None):
                raise TableError(f"table {path}, {where}: pattern {p!r} is not in the notation of the file")
        rules.append(DsmRule(i + 1, group, tuple(patterns)))
    return pattern, tuple(rules)


def _zorgtypes(data: Mapping[str, Any], path: Path) -> dict[str, Zorgtype]:
    out: dict[str, Zorgtype] = {}
    seen: set[str] = set()
    rows = _rows(data, "codes", path)
    for i, row in enumerate(rows):
        code = _code(row, path, i, _TRIPLET_CODE, seen)
        where = f"code {code}"
        judicial = _flag(row, "judicial", path, where)
        neutral = _text(row, "neutral", path, where, default=code)
        if judicial == (neutral == code):
            raise TableError(f"table {path}, {where}: a judicial code needs a different neutral code")
        klass = row.get("line_class")
        out[code] = Zorgtype(
            code,
            _text(row, "meaning", path, where, default=""),
            judicial,
            neutral,
            None if klass is None else _line_class(klass, path, where),
        )
    for z in out.values():
        target = out.get(z.neutral)
        if target is None or target.judicial:
            raise TableError(f"table {path}, code {z.code}: neutral code must be a listed non-judicial code")
    return out


def _simple(
    data: Mapping[str, Any], path: Path, form: re.Pattern[str], column: str
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for i, row in enumerate(_rows(data, "codes", path)):
        code = _code(row, path, i, form, seen)
        _text(row, column, path, f"code {code}", default="")
        out[code] = row
    return out


def _type_verwijzer(data: Mapping[str, Any], path: Path) -> dict[str, TypeVerwijzer]:
    out: dict[str, TypeVerwijzer] = {}
    for code, row in _simple(data, path, _TWO_DIGITS, "meaning").items():
        where = f"code {code}"
        judicial = _flag(row, "judicial", path, where)
        neutral = _text(row, "neutral", path, where, default=code)
        if judicial == (neutral == code):
            raise TableError(f"table {path}, {where}: a judicial code needs a different neutral code")
        out[code] = TypeVerwijzer(code, str(row.get("meaning", "")), judicial, neutral)
    for v in out.values():
        target = out.get(v.neutral)
        if target is None or target.judicial:
            raise TableError(f"table {path}, code {v.code}: neutral code must be a listed non-judicial code")
    return out


def _neutral(data: Mapping[str, Any], path: Path) -> NeutralValues:
    def value(key: str, form: str) -> str:
        text = data.get(key)
        if not isinstance(text, str) or re.fullmatch(form, text) is None:
            raise TableError(f"table {path}: {key!r} must match {form}")
        return text

    return NeutralValues(
        diagnoseclassificatie=value("diagnoseclassificatie", "[0-9]{3}"),
        zorgvraagzwaarte=value("zorgvraagzwaarte", "[0-9]{3}"),
        productgroep=value("productgroep", "[0-9]{3}"),
        declaratiecode_restricted=value("declaratiecode_restricted", "[0-9A-Z]{6}"),
        diagnosecode_dsm4=value("diagnosecode_dsm4", ""),
    )


def _build(files: Mapping[str, tuple[Path, bool]]) -> CodeTables:
    data = {name: _read(path) for name, (path, _shipped) in files.items()}
    info = {name: _info(name, data[name], *files[name]) for name in TABLE_NAMES}
    path = {name: files[name][0] for name in TABLE_NAMES}

    groups = _main_groups(data["main_groups"], path["main_groups"])
    dsm_pattern, dsm_rules = _dsm_rules(data["dsm4_groups"], path["dsm4_groups"], groups)
    classification = {
        code: str(row.get("group"))
        for code, row in _simple(
            data["diagnoseclassificatie"], path["diagnoseclassificatie"], _TRIPLET_CODE, "group"
        ).items()
    }
    for code, group in classification.items():
        if group not in groups or groups[group].triplet != code:
            raise TableError(
                f"table {path['diagnoseclassificatie']}, code {code}: group must be the main_groups key "
                "whose triplet is this code"
            )
    missing = [g.key for g in groups.values() if g.triplet not in classification]
    if missing:
        raise TableError(f"table {path['diagnoseclassificatie']}: no code for group(s) {', '.join(missing)}")
    pg_path = path["productgroepen"]
    productgroepen = {
        code: Productgroep(code, str(row.get("name", "")), _line_class(row.get("class"), pg_path, code))
        for code, row in _simple(data["productgroepen"], pg_path, _TRIPLET_CODE, "name").items()
    }
    neutral = _neutral(data["neutral_values"], path["neutral_values"])
    for triplet, table, value in (
        ("diagnoseclassificatie", classification, neutral.diagnoseclassificatie),
        ("productgroep", productgroepen, neutral.productgroep),
    ):
        if value not in table:
            raise TableError(f"table {path['neutral_values']}: neutral {triplet} is not in its code table")
    zvz = {
        code: str(row.get("meaning", ""))
        for code, row in _simple(
            data["zorgvraagzwaarte"], path["zorgvraagzwaarte"], _TRIPLET_CODE, "meaning"
        ).items()
    }
    if neutral.zorgvraagzwaarte not in zvz:
        raise TableError(f"table {path['neutral_values']}: neutral zorgvraagzwaarte is not in its code table")
    return CodeTables(
        info=MappingProxyType(info),
        main_groups=MappingProxyType(groups),
        dsm4_pattern=dsm_pattern,
        dsm4_rules=dsm_rules,
        dsm4_matcher=_dsm_matcher(dsm_rules),
        zorgtypes=MappingProxyType(_zorgtypes(data["zorgtypes"], path["zorgtypes"])),
        diagnoseclassificatie=MappingProxyType(classification),
        zorgvraagzwaarte=MappingProxyType(zvz),
        productgroepen=MappingProxyType(productgroepen),
        type_verwijzer=MappingProxyType(_type_verwijzer(data["type_verwijzer"], path["type_verwijzer"])),
        afsluitreden=MappingProxyType(
            {
                code: str(row.get("meaning", ""))
                for code, row in _simple(
                    data["afsluitreden"], path["afsluitreden"], _TWO_DIGITS, "meaning"
                ).items()
            }
        ),
        neutral=neutral,
    )


@lru_cache(maxsize=16)
def _load(override_dirs: tuple[Path, ...]) -> CodeTables:
    files = {name: find_definition(f"{name}.toml", SHIPPED_DIR, override_dirs) for name in TABLE_NAMES}
    return _build(files)


def load_tables(override_dirs: Sequence[Path | str] | Path | str | None = None) -> CodeTables:
    """Load (once per set of directories) and check every table; raises :class:`TableError`.

    ``override_dirs`` None means the environment's directories (:func:`definition_dirs`); ``()`` means the
    shipped tables only.
    """
    return _load(_normalise_dirs(override_dirs))


# Shortcuts on the tables of the environment's directories.


def dsm4_group(code: str) -> str:
    """See :meth:`CodeTables.dsm4_group`."""
    return load_tables().dsm4_group(code)


def zorgtype(code: str) -> Zorgtype | None:
    """See :meth:`CodeTables.zorgtype`."""
    return load_tables().zorgtype(code)


def productgroep_class(code: str) -> LineClass | None:
    """See :meth:`CodeTables.productgroep_class`."""
    return load_tables().productgroep_class(code)


def line_class(zorgtype_code: str, productgroep: str) -> LineClass | None:
    """See :meth:`CodeTables.line_class`."""
    return load_tables().line_class(zorgtype_code, productgroep)


def is_valid_triplet(triplet: Triplet, value: str) -> bool:
    """See :meth:`CodeTables.is_valid_triplet`."""
    return load_tables().is_valid_triplet(triplet, value)
