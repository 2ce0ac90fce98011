"""Streaming reader of fixed-width EI files: bytes -> transport checks -> records -> canonical XML tree.

Transport (stage ``transport``, legacy-formats.md B.1/B.6; the message type is still reported):

======  =====================================================================================
EI001   a byte outside printable ASCII (``0x20``-``0x7E``) inside a record, or a byte-order mark
EI002   a bare LF or a bare CR (records end with CR LF)
EI003   empty, or the first record is not the header of a known EI type (type unknown)
EI004   larger than the size limit
======  =====================================================================================

Records (stage ``schema``), found while the tree is built: EI010 a record that is not ``record_length``
characters long (it gets no field checks), EI011 an unknown record type, EI016 the numbering of the detail
records or of the comment lines after a line record. Everything else about the records (order, formats,
blanks, domains) is the XSD's job (:mod:`gateway.fixedwidth.xsd`).

The file is read one record at a time; the only thing built is the tree itself. Paths follow B.6:
``/JW321/R04[5]/FIELD`` where 5 is the record's line number in the file. No message quotes the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import AnyStr, NamedTuple
from xml.sax.saxutils import escape

from lxml import etree

from gateway.fixedwidth.layout import Layout
from gateway.fixedwidth.xsd import record_path
from gateway.results import Finding

__all__ = [
    "BOM",
    "MAX_FINDINGS_PER_CODE",
    "Parsed",
    "looks_like_ei",
    "parse_records",
    "transport_findings",
]

BOM = b"\xef\xbb\xbf"
#: Findings reported per code at most (a file of garbage would otherwise give one per record).
MAX_FINDINGS_PER_CODE = 100
_CRLF = b"\r\n"
_ALLOWED = bytes(range(0x20, 0x7F)) + b"\r\n"  # deleted by translate(): what is left is not allowed

# How a field's text becomes the element's text (see gateway.fixedwidth.xsd for the canonical form).
_KEEP, _DATE, _TEXT, _OPTIONAL = range(4)


def looks_like_ei(data: bytes) -> bool:
    """True when the content is EI-like: its first five bytes (after an optional UTF-8 byte-order mark)
    are ASCII digits, as every EI header record's type and message code are (section E)."""
    head = data[len(BOM) : len(BOM) + 5] if data.startswith(BOM) else data[:5]
    return len(head) == 5 and head.isdigit()


def _lines(body: AnyStr, crlf: AnyStr) -> Iterator[tuple[int, AnyStr]]:
    """(line number, record) split on CR LF; a final CR LF does not start another record."""
    pos, number, size = 0, 0, len(body)
    while pos < size or number == 0:
        end = body.find(crlf, pos)
        number += 1
        if end < 0:
            yield number, body[pos:]
            return
        yield number, body[pos:end]
        pos = end + 2


class _Collector:
    """Findings with their line, capped per code."""

    def __init__(self) -> None:
        self.items: list[tuple[int, Finding]] = []
        self._counts: dict[str, int] = {}

    def add(self, line: int, code: str, path: str, message: str) -> None:
        count = self._counts.get(code, 0)
        if count < MAX_FINDINGS_PER_CODE:
            self._counts[code] = count + 1
            self.items.append((line, Finding(code, None, path, message)))


def _where(layout: Layout, record: bytes, line: int) -> str:
    kind = layout.type_field
    rtype = record[kind.offset : kind.offset + kind.length].decode("ascii", "replace")
    if rtype in layout.records:
        return record_path(layout.message, rtype, line)
    return f"/{layout.message}"


def transport_findings(data: bytes, layout: Layout) -> tuple[Finding, ...]:
    """EI001 / EI002 of a file whose type ``layout`` was detected (the size is checked by the caller)."""
    found = _Collector()
    body = data
    if body.startswith(BOM):
        found.add(0, "EI001", f"/{layout.message}", "the file starts with a byte-order mark")
        body = body[len(BOM) :]
    crlf = body.count(_CRLF)
    if not body.translate(None, _ALLOWED) and body.count(b"\r") == crlf and body.count(b"\n") == crlf:
        return tuple(f for _line, f in found.items)
    for line, record in _lines(body, _CRLF):
        if b"\r" in record or b"\n" in record:
            found.add(
                line,
                "EI002",
                _where(layout, record, line),
                f"line {line}: a bare LF or CR; records must end with CR LF",
            )
        if record.translate(None, _ALLOWED):
            found.add(
                line,
                "EI001",
                _where(layout, record, line),
                f"line {line}: a byte outside printable ASCII (0x20-0x7E)",
            )
    return tuple(f for _line, f in found.items)


class Parsed(NamedTuple):
    """The canonical tree plus the record-level findings (EI010, EI011, EI016) with their lines, and the
    lines of the records that got no field checks (EI010)."""

    root: etree._Element
    findings: list[tuple[int, Finding]]
    unread: frozenset[int]


class _Plan(NamedTuple):
    tag: str  # local name of the record element (R04)
    fields: tuple[tuple[str, str, int, int, int], ...]  # (start tag, end tag, offset, end, how)
    detail: tuple[int, int] | None
    comment: tuple[int, int] | None  # the comment-number field, on the comment record only
    is_comment: bool


@lru_cache(maxsize=16)
def _plans(layout: Layout) -> dict[str, _Plan]:
    plans = {}
    for rtype, record in layout.records.items():
        fields = []
        for f in record.fields:
            if f.type == "N":
                how = _KEEP
            elif f.type == "D":
                how = _DATE
            else:
                how = _TEXT if f.use == "mandatory" else _OPTIONAL
            fields.append((f"<{f.name}>", f"</{f.name}>", f.offset, f.offset + f.length, how))
        detail = record.by_name.get(layout.detail_field)
        comment = record.by_name.get(layout.comment_field) if record.role == "comment" else None
        plans[rtype] = _Plan(
            record.tag,
            tuple(fields),
            (detail.offset, detail.offset + detail.length) if detail is not None else None,
            (comment.offset, comment.offset + comment.length) if comment is not None else None,
            record.role == "comment",
        )
    return plans


def _date_text(raw: str) -> str:
    """``YYYY-MM-DD`` for a real calendar date, else the characters as found (no xs:date accepts them)."""
    if raw.isascii() and raw.isdigit():
        try:
            date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
        except ValueError:
            return raw
        return f"{raw[:4]}-{raw[4:6]}-{raw[6:8]}"
    return raw


class _Numbering:
    """B.3 numbering: the n-th numbered record carries n (1, 2, 3 ... in file order, without gaps)."""

    def __init__(self) -> None:
        self.expected = 1

    def check(self, raw: str) -> int | None:
        """The expected number when ``raw`` holds another number; None when right or not digits (a
        format error, EI013). Either way the next record is expected to carry the next number."""
        expected = self.expected
        self.expected = expected + 1
        if raw.isascii() and raw.isdigit() and int(raw) != expected:
            return expected
        return None


def _record_xml(record: str, plan: _Plan, line: int) -> str:
    """The XML of one record's element (values escaped where the record holds a markup character)."""
    markup = "&" in record or "<" in record or ">" in record
    parts = [f'<{plan.tag} line="{line}">']
    append = parts.append
    for start_tag, end_tag, start, stop, how in plan.fields:
        raw = record[start:stop]
        if how == _KEEP:
            value = raw
        elif how == _DATE:
            value = _date_text(raw)
        else:
            value = raw.rstrip(" ")
            if not value and how == _OPTIONAL:
                continue
        if markup:
            value = escape(value)
        append(start_tag)
        append(value)
        append(end_tag)
    append(f"</{plan.tag}>")
    return "".join(parts)


def _tree_parser() -> etree.XMLParser:
    """Parses the XML this module writes (never input): no DTD, entities or network all the same."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class _Numbers:
    """The two numberings of B.3 (EI016): detail records, and comment lines after each line record."""

    def __init__(self, layout: Layout, found: _Collector) -> None:
        self.layout, self.found = layout, found
        self.details, self.comments = _Numbering(), _Numbering()

    def skip(self, plan: _Plan) -> None:
        """A record that cannot be read (EI010) still takes its place in the numbering."""
        if plan.detail is not None:
            self.details.expected += 1
        if plan.is_comment:
            self.comments.expected += 1

    def check(self, record: str, plan: _Plan, rtype: str, line: int) -> None:
        layout = self.layout
        if plan.detail is not None:
            wanted = self.details.check(record[plan.detail[0] : plan.detail[1]])
            if wanted is not None:
                self.found.add(
                    line,
                    "EI016",
                    record_path(layout.message, rtype, line, layout.detail_field),
                    f"{layout.detail_field} breaks the numbering of the detail records; expected {wanted}",
                )
        if plan.comment is not None:
            wanted = self.comments.check(record[plan.comment[0] : plan.comment[1]])
            if wanted is not None:
                self.found.add(
                    line,
                    "EI016",
                    record_path(layout.message, rtype, line, layout.comment_field),
                    f"{layout.comment_field} breaks the numbering of the comments after a line; "
                    f"expected {wanted}",
                )


def parse_records(text: str, layout: Layout) -> Parsed:
    """Build the canonical tree of a file that passed the transport checks (printable ASCII, CR LF).

    Streaming: each record is turned into its element's XML and fed to lxml's incremental parser as soon
    as it is read, so nothing but the tree is built."""
    message = layout.message
    builder = _tree_parser()
    builder.feed(f'<{message} xmlns="{layout.namespace}">')
    plans = _plans(layout)
    found = _Collector()
    numbers = _Numbers(layout, found)
    unread: set[int] = set()
    length = layout.record_length
    kind = layout.type_field
    type_start, type_end = kind.offset, kind.offset + kind.length
    for line, record in _lines(text, "\r\n"):
        rtype = record[type_start:type_end]
        plan = plans.get(rtype)
        if plan is None:
            if len(record) != length:
                problem = f"line {line}: the record is not {length} characters long"
                found.add(line, "EI010", f"/{message}", problem)
            else:
                found.add(line, "EI011", f"/{message}", f"line {line}: unknown record type")
            continue
        if not plan.is_comment:
            numbers.comments.expected = 1
        if len(record) != length:
            # The record keeps its place for the order check (an element without fields) but gets no
            # field checks: its XSD errors are dropped by line (gateway.fixedwidth.xsd).
            builder.feed(f'<{plan.tag} line="{line}"/>')
            found.add(
                line,
                "EI010",
                record_path(message, rtype, line),
                f"the record is {len(record)} characters long; expected {length}",
            )
            unread.add(line)
            numbers.skip(plan)
            continue
        builder.feed(_record_xml(record, plan, line))
        numbers.check(record, plan, rtype, line)
    builder.feed(f"</{message}>")
    return Parsed(builder.close(), found.items, frozenset(unread))
