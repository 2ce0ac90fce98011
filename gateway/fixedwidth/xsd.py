"""The XSD of the canonical tree of an EI file, generated from its layout and the code tables, and the
mapping of its errors to the EI codes of legacy-formats.md B.6.

Canonical tree (built by :mod:`gateway.fixedwidth.parser`), in the layout's namespace
(``urn:jwmo-gateway:ei:jw321``)::

    <JW321><R01 line="1"><KENMERK_RECORD>01</KENMERK_RECORD><BERICHTCODE>434</BERICHTCODE>...</R01>
           <R02 line="2">...</R02><R04 line="3">...</R04><R98 line="4">...</R98>...
           <R99 line="9">...</R99></JW321>

One element per record (``R`` + record type) with its 1-based line number in the file, one child per field
in layout order. N fields keep their digits, D fields are ``YYYY-MM-DD`` when they hold a real date (else the
8 characters as found, which no xs:date accepts), AN fields their value without trailing spaces. A blank
optional AN field or reserve is left out; a blank mandatory AN field is an empty element.

The shipped ``schemas/ei/jw321/JW321.xsd`` and ``schemas/ei/jw322/JW322.xsd`` are this module's output for
the shipped layouts and tables (``python -m gateway.fixedwidth.xsd JW321 > schemas/ei/jw321/JW321.xsd``; a
test keeps them current). With an operator's layout or table override the stage compiles the XSD
generated from the overriding definitions instead, so domains and patterns always follow the data.

Error mapping (the element and facet that failed decide the code; libxml2's text, which quotes values, is
never passed on): record order -> EI012; on a field: mandatory and blank -> EI014, all zeros where the layout
says ``not_zero`` -> EI014, an enumeration (fixed domain, code table) -> EI015, anything else (digits, date,
pattern, leading space, non-blank reserve) -> EI013.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from xml.sax.saxutils import quoteattr

from lxml import etree

from filters.codetables import CodeTables, load_tables
from gateway.fixedwidth.layout import EI_MESSAGES, Field, Layout, LayoutError, RecordLayout, load_layout
from gateway.results import Finding

__all__ = ["compiled_schema", "map_schema_errors", "record_path", "schema_text"]

_NOT_ZERO = ".*[1-9].*"
_AN_TEXT = "[!-~]([ -~]*[!-~])?"  # printable ASCII, no leading or trailing space
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_EXPECTED_TAG = re.compile(r"\{[^}]*\}R([0-9A-Z]+)")


def record_path(message: str, record_type: str, line: int, field: str | None = None) -> str:
    """The B.6 path of a record (``/JW321/R04[5]``) or of one of its fields; ``line`` is the file line."""
    base = f"/{message}/R{record_type}[{line}]"
    return f"{base}/{field}" if field else base


# --------------------------------------------------------------------------------------------------
# Generation


def _base_type(f: Field) -> str:
    if f.use == "reserve":
        return "Reserve"
    if f.type == "D":
        return "Date"
    return f"{f.type}{f.length}"


def _facets(f: Field, tables: CodeTables) -> list[str]:
    """The extra facets of a field beyond its base type (one derivation step: they are ANDed)."""
    if f.domain is not None:
        return [f"<xs:enumeration value={quoteattr(v)}/>" for v in f.domain]
    if f.table is not None:
        return [f"<xs:enumeration value={quoteattr(v)}/>" for v in tables.codes(f.table)]
    if f.pattern_table is not None:
        return [f"<xs:pattern value={quoteattr(tables.dsm4_pattern.pattern)}/>"]
    if f.pattern is not None:
        return [f"<xs:pattern value={quoteattr(f.pattern)}/>"]
    if f.not_zero:
        return [f"<xs:pattern value={quoteattr(_NOT_ZERO)}/>"]
    return []


def _field_lines(f: Field, tables: CodeTables) -> list[str]:
    occurs = ' minOccurs="0"' if f.use != "mandatory" else ""
    note = f"<!-- {f.start}-{f.end} {f.type} {f.use} -->"
    facets = _facets(f, tables)
    if not facets:
        return [f'      <xs:element name="{f.name}" type="{_base_type(f)}"{occurs}/> {note}']
    return [
        f'      <xs:element name="{f.name}"{occurs}> {note}',
        f'        <xs:simpleType><xs:restriction base="{_base_type(f)}">{"".join(facets)}'
        "</xs:restriction></xs:simpleType>",
        "      </xs:element>",
    ]


def _record_lines(record: RecordLayout, tables: CodeTables) -> list[str]:
    lines = [
        f"  <!-- Record {record.type}: {record.name} ({record.role}) -->",
        f'  <xs:complexType name="{record.tag}">',
        "    <xs:sequence>",
    ]
    for f in record.fields:
        lines.extend(_field_lines(f, tables))
    lines += [
        "    </xs:sequence>",
        '    <xs:attribute name="line" type="xs:positiveInteger" use="required"/>',
        "  </xs:complexType>",
    ]
    return lines


def _simple_types(layout: Layout) -> list[str]:
    lengths = {(f.type, f.length) for r in layout.records.values() for f in r.fields if f.use != "reserve"}
    lines = [
        "  <!-- Field types (B.2). N: digits, zero-padded to the full length. AN: printable ASCII without",
        "       leading or trailing spaces (trailing padding is removed when the tree is built). -->",
    ]
    for kind, length in sorted(lengths, key=lambda t: (t[0], t[1])):
        if kind == "N":
            facets = f'<xs:pattern value="[0-9]{{{length}}}"/>'
        elif kind == "AN":
            facets = (
                f'<xs:minLength value="1"/><xs:maxLength value="{length}"/><xs:pattern value="{_AN_TEXT}"/>'
            )
        else:
            continue
        lines.append(
            f'  <xs:simpleType name="{kind}{length}"><xs:restriction base="xs:string">{facets}'
            "</xs:restriction></xs:simpleType>"
        )
    lines += [
        "  <!-- D: a real calendar date, written YYYY-MM-DD in the tree (YYYYMMDD in the file). -->",
        f'  <xs:simpleType name="Date"><xs:restriction base="xs:date"><xs:pattern value="{_DATE}"/>'
        "</xs:restriction></xs:simpleType>",
        "  <!-- A reserve is left out of the tree when it is all spaces: an element present is an error. -->",
        '  <xs:simpleType name="Reserve"><xs:restriction base="xs:string"><xs:maxLength value="0"/>'
        "</xs:restriction></xs:simpleType>",
    ]
    return lines


def schema_text(layout: Layout, tables: CodeTables) -> str:
    """The XSD (text) of the canonical tree of ``layout``; deterministic, so it can be compared."""
    header, client, line, comment, trailer = (
        layout.role("header"),
        layout.role("client"),
        layout.role("line"),
        layout.role("comment"),
        layout.role("trailer"),
    )
    used_tables = sorted(
        {f.table or f.pattern_table for r in layout.records.values() for f in r.fields} - {None},
        key=str,
    )
    versions = ", ".join(f"{t} {tables.info[str(t)].table_version}" for t in used_tables)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!--",
        f"  RECONSTRUCTED (not official): canonical XML form of the {layout.message} fixed-width EI",
        "  records, a reconstruction of jwmo-gateway (legacy-formats.md B), not an official",
        "  Vektis/Zorginstituut schema.",
        "",
        f"  Generated from the layout {layout.path.name} (version {layout.layout_version}) and the code",
        f"  tables {versions}",
        f"  by `python -m gateway.fixedwidth.xsd {layout.message}`. Do not edit by hand.",
        "",
        "  One element per record (R + record type) carrying its 1-based line number in the file, one child",
        "  per field in layout order. Blank optional fields and blank reserves are left out; a blank",
        "  mandatory field is an empty element. Record order (B.3): header, then per client its client",
        "  record followed by its lines, each line followed by its comments; the trailer last.",
        "-->",
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"',
        f'           xmlns="{layout.namespace}"',
        f'           targetNamespace="{layout.namespace}"',
        '           elementFormDefault="qualified"',
        f'           version="{layout.layout_version}">',
        "",
        f'  <xs:element name="{layout.message}">',
        "    <xs:complexType>",
        "      <xs:sequence>",
        f'        <xs:element name="{header.tag}" type="{header.tag}"/>',
        '        <xs:sequence maxOccurs="unbounded">',
        f'          <xs:element name="{client.tag}" type="{client.tag}"/>',
        '          <xs:sequence maxOccurs="unbounded">',
        f'            <xs:element name="{line.tag}" type="{line.tag}"/>',
        f'            <xs:element name="{comment.tag}" type="{comment.tag}"',
        '                        minOccurs="0" maxOccurs="unbounded"/>',
        "          </xs:sequence>",
        "        </xs:sequence>",
        f'        <xs:element name="{trailer.tag}" type="{trailer.tag}"/>',
        "      </xs:sequence>",
        "    </xs:complexType>",
        "  </xs:element>",
        "",
    ]
    for record in layout.records.values():
        lines += [*_record_lines(record, tables), ""]
    lines += [*_simple_types(layout), "</xs:schema>", ""]
    return "\n".join(lines)


@lru_cache(maxsize=8)
def _schema_document(layout: Layout, tables: CodeTables) -> etree._Element:
    try:
        return etree.fromstring(schema_text(layout, tables).encode("utf-8"))
    except etree.XMLSyntaxError as exc:  # pragma: no cover - the generator writes well-formed XML
        raise LayoutError(f"the XSD generated from layout {layout.path} is not well-formed: {exc}") from None


_thread = threading.local()


def compiled_schema(layout: Layout, tables: CodeTables) -> etree.XMLSchema:
    """The compiled XSD generated from (possibly overriding) definitions: generated once, compiled once
    per thread (lxml keeps a validation's errors on the schema object, so threads must not share one)."""
    cache: dict[tuple[Layout, CodeTables], etree.XMLSchema] | None = getattr(_thread, "schemas", None)
    if cache is None:
        cache = _thread.schemas = {}
    schema = cache.get((layout, tables))
    if schema is None:
        try:
            schema = etree.XMLSchema(_schema_document(layout, tables))
        except etree.XMLSchemaParseError as exc:
            raise LayoutError(
                f"the XSD generated from layout {layout.path} does not compile (check its patterns): {exc}"
            ) from None
        cache[(layout, tables)] = schema
    return schema


# --------------------------------------------------------------------------------------------------
# Error mapping


def _resolve(root: etree._Element, records: list[etree._Element], libxml_path: str) -> etree._Element | None:
    """The element of a libxml2 path like ``/*/*[5]/*[3]`` (default namespace: positions count every
    element sibling)."""
    segments = libxml_path.strip("/").split("/")
    if not segments or segments[0] != "*" or len(segments) > 3:
        return None
    positions = []
    for segment in segments[1:]:
        match = re.fullmatch(r"\*(?:\[(\d+)\])?", segment)
        if match is None:
            return None
        positions.append(int(match.group(1) or 1) - 1)
    node = root
    for depth, index in enumerate(positions):
        siblings = records if depth == 0 else list(node)
        if index >= len(siblings):
            return None
        node = siblings[index]
    return node


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _expected(message: str) -> str:
    """The record types libxml2 names after "Expected is" (our own element names, never input)."""
    _before, found, after = message.partition("Expected is")
    types = list(dict.fromkeys(_EXPECTED_TAG.findall(after))) if found else []
    return " or ".join(types)


def _format_problem(field: Field, text: str) -> str:
    """What is wrong with the format of a field (EI013), by its definition; never the value."""
    name = field.name
    if field.use == "reserve":
        return f"{name} is a reserve and must be spaces"
    if field.type == "N":
        return f"{name} must be {field.length} digits"
    if field.type == "D":
        return f"{name} is not a real date in the form YYYYMMDD"
    if text.startswith(" "):
        return f"{name} must not start with a space"
    return f"{name} does not have the required format"


def _field_finding(field: Field | None, element: etree._Element, type_name: str) -> tuple[str, str]:
    """(code, message) of an XSD error on a field element: the facet that failed and the field's
    definition decide (B.6)."""
    text = element.text or ""
    if field is None:
        return "EI013", f"{_local(element.tag)}: field not expected in this record"
    if field.use == "mandatory" and text == "":
        code, message = "EI014", f"{field.name} is mandatory but blank"
    elif type_name == "SCHEMAV_CVC_ENUMERATION_VALID":
        code, message = "EI015", f"{field.name} holds a value outside its domain"
    elif field.not_zero and text and text.strip("0") == "":
        code, message = "EI014", f"{field.name} must not be all zeros"
    else:
        code, message = "EI013", _format_problem(field, text)
    return code, message


def map_schema_errors(
    root: etree._Element,
    entries: Iterable[etree._LogEntry],
    layout: Layout,
    unread: frozenset[int],
) -> list[tuple[int, Finding]]:
    """EI012-EI015 findings of the XSD errors, each with the line it belongs to (file-level: 0).

    Errors inside a record that already has an EI010 (wrong length: ``unread``) are dropped, since that
    record gets no field checks. One finding per path and code.
    """
    message = layout.message
    records = list(root)
    out: list[tuple[int, Finding]] = []
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        element = _resolve(root, records, entry.path or "")
        text = entry.message or ""
        if element is None or element is root:
            expected = _expected(text)
            what = (
                "records are missing at the end of the file"
                if "Missing child" in text
                else ("the records are not in the order of B.3")
            )
            line, code, path = 0, "EI012", f"/{message}"
            msg = f"{what}; expected record type {expected}" if expected else what
        elif element.getparent() is root:
            line = int(element.get("line") or 0)
            rtype = _local(element.tag)[1:]
            path = record_path(message, rtype, line)
            if "not expected" in text:
                code = "EI012"
                expected = _expected(text)
                msg = f"record type {rtype} is not allowed here" + (
                    f"; expected record type {expected}" if expected else ""
                )
            elif line in unread:
                continue  # EI010 already reported: the record gets no field checks
            else:
                code, msg = "EI013", f"record type {rtype} does not have the fields of its layout"
        else:
            record = element.getparent()
            assert record is not None  # noqa: S101 - a field element always has its record
            line = int(record.get("line") or 0)
            if line in unread:
                continue
            rtype = _local(record.tag)[1:]
            layout_record = layout.records.get(rtype)
            name = _local(element.tag)
            field = layout_record.by_name.get(name) if layout_record is not None else None
            code, msg = _field_finding(field, element, entry.type_name)
            path = record_path(message, rtype, line, name)
        if (path, code) not in seen:
            seen.add((path, code))
            out.append((line, Finding(code, None, path, msg)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gateway.fixedwidth.xsd JW321``: print the XSD of the shipped layout and tables."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in EI_MESSAGES:
        sys.stderr.write(f"usage: python -m gateway.fixedwidth.xsd {'|'.join(EI_MESSAGES)}\n")
        return 2
    sys.stdout.write(schema_text(load_layout(args[0], ()), load_tables(())))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
