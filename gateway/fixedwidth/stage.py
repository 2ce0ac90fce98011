"""The validation stages of a fixed-width EI file (JW321 / JW322), for :class:`gateway.validation.Validator`.

    bytes -> type from the header record (section E) -> transport (EI004 size, EI003 type, EI001 bytes,
          EI002 line ends) -> canonical tree (EI010, EI011, EI016) -> XSD (EI012-EI015)
          -> records -> rules of release ei-2.0 (CS002, EI101-EI112, EI121-EI123)

The verdict carries the message type from the first record even when transport fails (except EI003, where
the type is unknown). Every finding's ``retourcode`` is None (clarifications item 3).

Definitions (layouts and code tables) are loaded once per set of override directories; when none is
overridden the shipped XSD of the catalogue is used (compiled once by the registry), otherwise the XSD is
generated from the overriding definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

from lxml import etree

from filters.codetables import CodeTables, TableError, definition_dirs, load_tables
from gateway.fixedwidth.layout import EI_MESSAGES, DefinitionError, Layout, load_layout
from gateway.fixedwidth.parser import (
    BOM,
    MAX_FINDINGS_PER_CODE,
    looks_like_ei,
    parse_records,
    transport_findings,
)
from gateway.fixedwidth.records import EiMessage, read_message, subject_of
from gateway.fixedwidth.xsd import compiled_schema, map_schema_errors
from gateway.model import Context
from gateway.registry import MessageSpec
from gateway.results import Finding, Stage, Verdict
from gateway.rules import run_rules
from gateway.rules.jw321 import CODE_TABLES
from gateway.rules.registry import Kind

if TYPE_CHECKING:
    from gateway.validation import Checked, Validator

__all__ = ["RELEASE", "Definitions", "check_ei", "load_definitions", "looks_like_ei"]

RELEASE = "ei-2.0"
# Used only when the catalogue lacks the type (a registry built from another catalogue).
_KINDS: dict[str, Kind] = {"JW321": "declaration", "JW322": "answer"}


@dataclass(frozen=True, slots=True, eq=False)
class Definitions:
    """The layouts of every EI type and the code tables, as loaded from one set of directories."""

    layouts: tuple[Layout, ...]
    tables: CodeTables

    def detect(self, body: bytes) -> Layout | None:
        """The layout whose header record starts ``body`` (the file without a byte-order mark)."""
        return next((layout for layout in self.layouts if layout.identifies(body)), None)

    def shipped(self, layout: Layout) -> bool:
        return layout.shipped and self.tables.shipped


@lru_cache(maxsize=8)
def _definitions(dirs: tuple[Path, ...]) -> Definitions:
    try:
        tables = load_tables(dirs)
    except TableError as exc:
        raise DefinitionError(str(exc)) from None
    return Definitions(tuple(load_layout(name, dirs) for name in EI_MESSAGES), tables)


def load_definitions(override_dirs: Sequence[Path | str] | None = None) -> Definitions:
    """Layouts and tables (checked); ``None`` = the environment's override directories."""
    dirs = definition_dirs() if override_dirs is None else tuple(Path(d) for d in override_dirs)
    return _definitions(dirs)


def _sorted_capped(items: Iterable[tuple[int, Finding]]) -> tuple[Finding, ...]:
    """By line (file-level findings, line 0, last), at most MAX_FINDINGS_PER_CODE per code."""
    counts: dict[str, int] = {}
    out = []
    for _line, finding in sorted(items, key=lambda item: item[0] or float("inf")):
        count = counts.get(finding.code, 0)
        if count < MAX_FINDINGS_PER_CODE:
            counts[finding.code] = count + 1
            out.append(finding)
    return tuple(out)


def _schema(
    validator: Validator, spec: MessageSpec | None, layout: Layout, d: Definitions
) -> etree.XMLSchema:
    if spec is not None and d.shipped(layout):
        return validator.registry.schema(spec)
    return compiled_schema(layout, d.tables)


def check_ei(
    validator: Validator,
    data: bytes,
    source: str,
    *,
    today: date,
    definitions: Definitions | None = None,
) -> Checked:
    """Every stage for one EI file; returns the :class:`~gateway.validation.Checked` of the validator."""
    from gateway.validation import Checked  # noqa: PLC0415 - gateway.validation imports this module

    d = definitions if definitions is not None else load_definitions()
    body = data[len(BOM) :] if data.startswith(BOM) else data
    layout = d.detect(body)
    name = layout.message if layout is not None else None
    spec = validator.registry.spec_named(name) if name is not None else None

    def failed(stage: Stage, errors: Sequence[Finding], root: etree._Element | None = None) -> Checked:
        return Checked(Verdict(source, name, False, stage, tuple(errors)), spec, root, None)

    limit = validator.limits.max_message_bytes
    if len(data) > limit:
        where = f"/{name}" if name is not None else None
        return failed(
            Stage.TRANSPORT, (Finding("EI004", None, where, f"the file is larger than {limit} bytes"),)
        )
    if layout is None:
        what = "the first record is not the header of a supported EI message (JW321 or JW322)"
        if not body.strip(b"\r\n"):
            what = "the file is empty"
        return failed(Stage.TRANSPORT, (Finding("EI003", None, None, what),))
    transport = transport_findings(data, layout)
    if transport:
        return failed(Stage.TRANSPORT, transport)

    parsed = parse_records(body.decode("ascii"), layout)
    items = list(parsed.findings)
    schema = _schema(validator, spec, layout, d)
    if not schema.validate(parsed.root):
        entries = cast("Iterable[etree._LogEntry]", schema.error_log)
        mapped = map_schema_errors(parsed.root, entries, layout, parsed.unread)
        if not mapped and not items:  # invalid, yet libxml2 left no usable entry: still invalid
            mapped = [(0, Finding("EI012", None, f"/{name}", "the records do not conform to the layout"))]
        items += mapped
    if items:
        return failed(Stage.SCHEMA, _sorted_capped(items), parsed.root)

    message: EiMessage = read_message(parsed.root, layout)
    kind: Kind = spec.kind if spec is not None else _KINDS[layout.message]
    release = spec.release if spec is not None else RELEASE
    token = CODE_TABLES.set(d.tables)
    try:
        findings = run_rules(kind, release, subject_of(message), Context(today=today))
    finally:
        CODE_TABLES.reset(token)
    verdict = Verdict(source, name, not findings, Stage.RULES if findings else None, findings)
    return Checked(verdict, spec, parsed.root, message)
