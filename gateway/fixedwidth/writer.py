"""Writing fixed-width EI files: records or the canonical tree -> bytes (``record_length`` characters per
record, CR LF after each).

The inverse of :mod:`gateway.fixedwidth.parser`: for a file the parser read into a tree, :func:`write_tree`
gives back the same bytes (property-tested). The minimisation engine edits a canonical tree (or builds
records) and writes it with these functions; builders use :func:`format_record` to render test files.

Values per field type: N takes an ``int`` (zero-padded) or a string of digits (shorter strings are
zero-padded); D takes a :class:`~datetime.date`, ``YYYY-MM-DD`` or ``YYYYMMDD``; AN takes a string that is
padded with spaces (None or missing = blank). A value that does not fit raises :class:`WriteError`, naming
the record and the field but never the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from lxml import etree

from gateway.fixedwidth.layout import Field, Layout, RecordLayout

__all__ = ["Value", "WriteError", "format_record", "format_value", "write_records", "write_tree"]

Value = str | int | date | None
_CRLF = "\r\n"


class WriteError(ValueError):
    """A value cannot be written into its field (the message names record and field, never the value)."""


def format_value(record: RecordLayout, field: Field, value: Value) -> str:
    """The ``field.length`` characters of one field."""
    where = f"record {record.type}, field {field.name}"
    if value is None or value == "":
        if field.type != "AN":
            raise WriteError(f"{where}: a field of type {field.type} cannot be blank")
        return " " * field.length
    if isinstance(value, bool):
        raise WriteError(f"{where}: not a field value")
    if isinstance(value, int):
        if field.type != "N" or value < 0:
            raise WriteError(f"{where}: a number goes only into an N field, and is not negative")
        text = str(value).zfill(field.length)
    elif isinstance(value, date):
        if field.type != "D":
            raise WriteError(f"{where}: a date goes only into a D field")
        text = f"{value.year:04d}{value.month:02d}{value.day:02d}"
    elif field.type == "N":
        text = value.zfill(field.length) if value.isascii() and value.isdigit() else value
    elif field.type == "D":
        text = value.replace("-", "") if len(value) == 10 and value[4] == value[7] == "-" else value
    else:
        text = value.ljust(field.length)
    if len(text) != field.length:
        raise WriteError(f"{where}: the value does not fit the field ({field.length} characters)")
    if not (text.isascii() and text.isprintable()):
        raise WriteError(f"{where}: only printable ASCII characters can be written")
    return text


def format_record(record: RecordLayout, values: Mapping[str, Value]) -> str:
    """One record (without line end). The record-type field is filled in when ``values`` lacks it."""
    unknown = set(values) - set(record.by_name)
    if unknown:
        raise WriteError(f"record {record.type}: unknown field(s) {', '.join(sorted(unknown))}")
    type_field = record.fields[0].name
    parts = []
    for field in record.fields:
        value = values.get(field.name, record.type if field.name == type_field else None)
        parts.append(format_value(record, field, value))
    return "".join(parts)


def write_records(
    layout: Layout, records: Iterable[tuple[str, Mapping[str, Value]]], *, final_crlf: bool = True
) -> bytes:
    """``(record type, field values)`` pairs -> the file's bytes."""
    out: list[str] = []
    for rtype, values in records:
        record = layout.records.get(rtype)
        if record is None:
            raise WriteError(f"record type {rtype} is not in the layout of {layout.message}")
        out.append(format_record(record, values))
    text = _CRLF.join(out) + (_CRLF if final_crlf and out else "")
    return text.encode("ascii")


def _records_of(root: etree._Element) -> Iterable[tuple[str, dict[str, Value]]]:
    for element in root:
        tag = element.tag
        local = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        yield local[1:], {str(child.tag).rpartition("}")[2]: child.text or "" for child in element}


def write_tree(root: etree._Element, layout: Layout, *, final_crlf: bool = True) -> bytes:
    """The canonical tree of a file (as built by the parser, possibly edited) -> the file's bytes."""
    return write_records(layout, _records_of(root), final_crlf=final_crlf)
