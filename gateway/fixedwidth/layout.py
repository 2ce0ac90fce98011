"""Record layouts of the fixed-width EI files (JW321, JW322) as data, checked when loaded.

The layouts are TOML files (``gateway/fixedwidth/layouts/jw321.toml``, ``jw322.toml``), **reconstructed** from
legacy-formats.md B.4/B.5, not the official Vektis definition. An operator replaces one by putting a file
with the same name in an override directory (``JWMO_TABLE_DIR``, then ``JWMO_SCHEMA_DIR``; see
:func:`filters.codetables.definition_dirs`). Every layout is checked when first loaded: the fields of each
record are contiguous and cover 1..``record_length``, names are unique, types and attributes are known;
a violation raises :class:`LayoutError` naming the file, the record and the field. ``LayoutError`` is a
:class:`~gateway.registry.SchemaLoadError`, so the command line reports it as a configuration problem.

Field names (``DBC_PRESTATIECODE``, ...) and record roles (header, client, line, comment, trailer) are the
keys the code uses; positions, lengths, domains and patterns come only from the layout.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from filters.codetables import TableError, definition_dirs, find_definition
from gateway.registry import SchemaLoadError

__all__ = [
    "EI_MESSAGES",
    "SHIPPED_LAYOUTS",
    "DefinitionError",
    "Field",
    "FieldType",
    "Layout",
    "LayoutError",
    "RecordLayout",
    "Role",
    "Use",
    "layout_file_name",
    "load_layout",
]

SHIPPED_LAYOUTS = Path(__file__).resolve().parent / "layouts"
EI_MESSAGES = ("JW321", "JW322")

FieldType = Literal["N", "AN", "D"]
Use = Literal["mandatory", "optional", "reserve"]
Role = Literal["header", "client", "line", "comment", "trailer"]
_TYPES: tuple[FieldType, ...] = get_args(FieldType)
_USES: tuple[Use, ...] = get_args(Use)
ROLES: tuple[Role, ...] = get_args(Role)

#: Code tables a field may take its domain from (``table = ...``) and tables with a pattern.
_DOMAIN_TABLES = frozenset({"type_verwijzer", "afsluitreden", "zorgtypes", "productgroepen"})
_PATTERN_TABLES = frozenset({"dsm4_groups"})
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_RECORD_TYPE = re.compile(r"[0-9A-Z]+")
_FIELD_KEYS = frozenset(
    {"name", "start", "length", "type", "use", "pattern", "pattern_table", "domain", "table", "not_zero"}
)


class DefinitionError(SchemaLoadError):
    """An EI definition (layout or code table) cannot be used. The command line reports it as a
    configuration problem (exit status 2), like an XSD that does not load."""


class LayoutError(DefinitionError):
    """A layout file is missing, unreadable or inconsistent; the message names file, record and field."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record: 1-based ``start``, ``length`` characters."""

    name: str
    start: int
    length: int
    type: FieldType
    use: Use = "mandatory"
    pattern: str | None = None
    pattern_table: str | None = None
    domain: tuple[str, ...] | None = None
    table: str | None = None
    not_zero: bool = False

    @property
    def offset(self) -> int:
        """0-based index of the first character."""
        return self.start - 1

    @property
    def end(self) -> int:
        """1-based position of the last character (inclusive)."""
        return self.start + self.length - 1


@dataclass(frozen=True, slots=True, eq=False)
class RecordLayout:
    type: str
    role: Role
    name: str
    fields: tuple[Field, ...]
    by_name: Mapping[str, Field]

    @property
    def tag(self) -> str:
        """Local name of the record's element in the canonical tree (``R04``)."""
        return f"R{self.type}"

    def field(self, name: str) -> Field:
        return self.by_name[name]


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """The layout of one message type; identity-hashable (cached per file) so it can key caches."""

    message: str
    bericht_code: str
    namespace: str
    layout_version: str
    status: str
    record_length: int
    detail_field: str
    comment_field: str
    records: Mapping[str, RecordLayout]  # by record type, in file order
    path: Path
    shipped: bool

    @property
    def type_field(self) -> Field:
        """The record-type field (the first field of every record, same place in all)."""
        return next(iter(self.records.values())).fields[0]

    def role(self, role: Role) -> RecordLayout:
        return next(r for r in self.records.values() if r.role == role)

    def identifies(self, head: bytes) -> bool:
        """True when ``head`` (the start of a file) is this type's header record (type and BERICHTCODE)."""
        header = self.role("header")
        kind, code = self.type_field, header.field("BERICHTCODE")
        return (
            head[kind.offset : kind.offset + kind.length] == header.type.encode()
            and head[code.offset : code.offset + code.length] == self.bericht_code.encode()
        )


def layout_file_name(message: str) -> str:
    return f"{message.lower()}.toml"


# --------------------------------------------------------------------------------------------------
# Checking


def _fail(path: Path, where: str, problem: str) -> LayoutError:
    return LayoutError(f"layout {path}, {where}: {problem}")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _field(raw: object, path: Path, record: str, index: int) -> Field:
    where = f"record {record}, field {index + 1}"
    if not isinstance(raw, dict):
        raise _fail(path, where, "must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise _fail(path, where, "'name' must be upper-case letters, digits and _")
    where = f"record {record}, field {name}"
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise _fail(path, where, f"unknown key(s) {', '.join(sorted(unknown))}")
    start, length = _int(raw.get("start")), _int(raw.get("length"))
    if start is None or length is None or start < 1 or length < 1:
        raise _fail(path, where, "'start' and 'length' must be positive integers")
    kind, use = raw.get("type"), raw.get("use", "mandatory")
    if kind not in _TYPES:
        raise _fail(path, where, "'type' must be N, AN or D")
    if use not in _USES:
        raise _fail(path, where, "'use' must be mandatory, optional or reserve")
    if kind != "AN" and use != "mandatory":
        raise _fail(path, where, f"a {kind} field is always mandatory (only AN fields may be blank)")
    if kind == "D" and length != 8:
        raise _fail(path, where, "a D field has length 8 (YYYYMMDD)")
    domain = raw.get("domain")
    if domain is not None and (
        not isinstance(domain, list) or not domain or not all(isinstance(v, str) for v in domain)
    ):
        raise _fail(path, where, "'domain' must be a non-empty list of strings")
    field = Field(
        name=name,
        start=start,
        length=length,
        type=cast("FieldType", kind),
        use=cast("Use", use),
        pattern=raw.get("pattern"),
        pattern_table=raw.get("pattern_table"),
        domain=tuple(domain) if domain is not None else None,
        table=raw.get("table"),
        not_zero=raw.get("not_zero", False),
    )
    _check_pattern(field, path, where)
    _check_values(field, path, where)
    return field


def _check_pattern(f: Field, path: Path, where: str) -> None:
    if f.pattern is None and f.pattern_table is None:
        return
    if f.type != "AN" or f.use == "reserve":
        raise _fail(path, where, "only AN fields that are not reserves take a pattern")
    if f.pattern is not None and f.pattern_table is not None:
        raise _fail(path, where, "give 'pattern' or 'pattern_table', not both")
    if f.pattern_table is not None and f.pattern_table not in _PATTERN_TABLES:
        raise _fail(path, where, f"'pattern_table' must be one of {', '.join(sorted(_PATTERN_TABLES))}")
    if f.pattern is not None:
        if not isinstance(f.pattern, str):
            raise _fail(path, where, "'pattern' must be a string")
        try:
            re.compile(f.pattern)
        except re.error as exc:
            raise _fail(path, where, f"'pattern' does not compile: {exc}") from None


def _check_values(f: Field, path: Path, where: str) -> None:
    """Domain, table and not_zero."""
    if f.domain is not None and f.table is not None:
        raise _fail(path, where, "give 'domain' or 'table', not both")
    for value in f.domain or ():
        if f.type == "N" and (len(value) != f.length or not value.isdigit()):
            raise _fail(path, where, f"domain values of an N field are {f.length} digits")
        if (f.type == "AN" and not 0 < len(value) <= f.length) or value != value.strip():
            raise _fail(path, where, "domain values must fit the field, without surrounding spaces")
    if f.table is not None and f.table not in _DOMAIN_TABLES:
        raise _fail(path, where, f"'table' must be one of {', '.join(sorted(_DOMAIN_TABLES))}")
    if not isinstance(f.not_zero, bool) or (f.not_zero and f.type != "N"):
        raise _fail(path, where, "'not_zero' is true or false, and only for N fields")


def _record(raw: object, path: Path, index: int, record_length: int) -> RecordLayout:
    if not isinstance(raw, dict):
        raise _fail(path, f"record {index + 1}", "must be a table")
    rtype = raw.get("type")
    if not isinstance(rtype, str) or _RECORD_TYPE.fullmatch(rtype) is None:
        raise _fail(path, f"record {index + 1}", "'type' must be digits or capitals (e.g. 04)")
    role = raw.get("role")
    if role not in ROLES:
        raise _fail(path, f"record {rtype}", f"'role' must be one of {', '.join(ROLES)}")
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, list) or not fields_raw:
        raise _fail(path, f"record {rtype}", "'fields' must be a non-empty list")
    fields = tuple(_field(f, path, rtype, i) for i, f in enumerate(fields_raw))
    position = 1
    names: dict[str, Field] = {}
    for f in fields:
        if f.name in names:
            raise _fail(path, f"record {rtype}, field {f.name}", "name occurs twice in the record")
        names[f.name] = f
        if f.start != position:
            raise _fail(
                path,
                f"record {rtype}, field {f.name}",
                f"starts at {f.start}, expected {position} (fields must be contiguous, in order)",
            )
        position = f.end + 1
    if position - 1 != record_length:
        raise _fail(
            path,
            f"record {rtype}, field {fields[-1].name}",
            f"the fields end at {position - 1}, expected {record_length} (they must cover the record)",
        )
    first = fields[0]
    if first.domain != (rtype,) or len(rtype) != first.length:
        raise _fail(path, f"record {rtype}, field {first.name}", "the first field holds the record type")
    return RecordLayout(rtype, cast("Role", role), str(raw.get("name", "")), fields, MappingProxyType(names))


def _records(raw_records: object, path: Path, record_length: int) -> dict[str, RecordLayout]:
    top = "top level"
    if not isinstance(raw_records, list) or not raw_records:
        raise _fail(path, top, "'record' must be a non-empty list of record tables")
    records: dict[str, RecordLayout] = {}
    for i, raw in enumerate(raw_records):
        record = _record(raw, path, i, record_length)
        if record.type in records:
            raise _fail(path, f"record {record.type}", "record type occurs twice")
        records[record.type] = record
    roles = [r.role for r in records.values()]
    for role in ROLES:
        if roles.count(role) != 1:
            raise _fail(path, top, f"exactly one record must have role {role!r}")
    first_fields = {(r.fields[0].name, r.fields[0].start, r.fields[0].length) for r in records.values()}
    if len(first_fields) != 1:
        raise _fail(path, top, "every record must start with the same record-type field")
    return records


def _numbering(data: Mapping[str, Any], path: Path, records: Mapping[str, RecordLayout]) -> tuple[str, str]:
    numbering = data.get("numbering")
    if not isinstance(numbering, dict):
        raise _fail(path, "top level", "'numbering' must be a table with 'detail' and 'comment'")
    detail, comment = numbering.get("detail"), numbering.get("comment")
    comment_record = next(r for r in records.values() if r.role == "comment")
    if not isinstance(detail, str) or not any(detail in r.by_name for r in records.values()):
        raise _fail(path, "numbering", "'detail' must name a field of the layout")
    if not isinstance(comment, str) or comment not in comment_record.by_name:
        raise _fail(path, "numbering", "'comment' must name a field of the comment record")
    for r in records.values():
        for name in (detail, comment):
            f = r.by_name.get(name)
            if f is not None and f.type != "N":
                raise _fail(path, f"record {r.type}, field {name}", "a numbering field must be N")
    return detail, comment


def _check(data: Mapping[str, Any], path: Path, message: str, shipped: bool) -> Layout:
    top = "top level"
    if data.get("message") != message:
        raise _fail(path, top, f"'message' must be {message!r}")
    code = data.get("bericht_code")
    if not isinstance(code, str) or re.fullmatch(r"[0-9]{3}", code) is None:
        raise _fail(path, top, "'bericht_code' must be 3 digits")
    for key in ("namespace", "layout_version", "status"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise _fail(path, top, f"{key!r} must be a non-empty string")
    record_length = _int(data.get("record_length"))
    if record_length is None or record_length < 1:
        raise _fail(path, top, "'record_length' must be a positive integer")
    records = _records(data.get("record"), path, record_length)
    header = next(r for r in records.values() if r.role == "header")
    bericht = header.by_name.get("BERICHTCODE")
    if bericht is None or bericht.domain != (code,):
        raise _fail(path, f"record {header.type}, field BERICHTCODE", f"must exist with domain [{code!r}]")
    detail, comment = _numbering(data, path, records)
    return Layout(
        message=message,
        bericht_code=code,
        namespace=str(data["namespace"]),
        layout_version=str(data["layout_version"]),
        status=str(data["status"]),
        record_length=record_length,
        detail_field=detail,
        comment_field=comment,
        records=MappingProxyType(records),
        path=path,
        shipped=shipped,
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise LayoutError(f"cannot read layout {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LayoutError(f"layout {path} is not valid TOML: {exc}") from None


@lru_cache(maxsize=16)
def _load(message: str, override_dirs: tuple[Path, ...]) -> Layout:
    try:
        path, shipped = find_definition(layout_file_name(message), SHIPPED_LAYOUTS, override_dirs)
    except TableError as exc:
        raise LayoutError(str(exc)) from None
    return _check(_read(path), path, message, shipped)


def load_layout(message: str, override_dirs: Sequence[Path | str] | None = None) -> Layout:
    """The checked layout of ``message`` (``JW321`` / ``JW322``), loaded once per set of directories.

    ``override_dirs`` None means the environment's directories; ``()`` means the shipped layout only.
    """
    dirs = definition_dirs() if override_dirs is None else tuple(Path(d) for d in override_dirs)
    return _load(message, dirs)
