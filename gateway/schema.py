"""Stage 2 of the pipeline: XSD validation against the registered schema of the message type.

Every XSD failure is reported with the stable code ``XSD`` (retourcode ``None``: an XSD-invalid
declaration gets no 325), the canonical path of the offending element and a message built from the
kind of failure. libxml2's own message text is never passed on, because it quotes the offending value.
Element names that no registered schema declares are shown as ``*`` so that a sender-chosen name cannot
carry personal data into an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import cast

from lxml import etree

from gateway.results import Finding

__all__ = ["canonical_path", "schema_findings"]

_SEGMENT = re.compile(r"(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*|\*)(?:\[(\d+)\])?\Z")
_EXPECTED = re.compile(r"Expected is(?: one of)? \( ([^)]*) \)")
_QNAME = re.compile(r"\{[^}]*\}([A-Za-z_][\w.-]*)")

# What went wrong, by libxml2 error type; the element's name is put in front.
_MESSAGES: dict[str, str] = {
    "SCHEMAV_ELEMENT_CONTENT": "element not expected here",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": "a required child element is missing",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": "text is not allowed in this element",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": "attribute not allowed",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": "attribute not allowed",
    "SCHEMAV_CVC_COMPLEX_TYPE_4": "a required attribute is missing",
    "SCHEMAV_CVC_PATTERN_VALID": "value does not have the required format",
    "SCHEMAV_CVC_ENUMERATION_VALID": "value is not one of the allowed codes",
    "SCHEMAV_CVC_LENGTH_VALID": "value does not have the required length",
    "SCHEMAV_CVC_MINLENGTH_VALID": "value is shorter than allowed",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "value is longer than allowed",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "value is below the allowed minimum",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "value is above the allowed maximum",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "value is not valid for its data type",
    "SCHEMAV_CVC_TYPE_3_1_1": "element must not have attributes",
    "SCHEMAV_CVC_TYPE_3_1_2": "element must not have child elements",
    "SCHEMAV_CVC_ELT_1": "root element is not declared by the schema of this message type",
    "SCHEMAV_CVC_ELT_3_1": "element may not be nil",
    "SCHEMAV_CVC_ELT_4_3": "type substitution is not allowed",
    "SCHEMAV_CVC_ELT_4_2": "unknown type requested",
    "SCHEMAV_CVC_AU": "attribute not allowed",
}
_DEFAULT_MESSAGE = "element does not conform to the schema"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def canonical_path(element: etree._Element, known: frozenset[str]) -> str:
    """``/Bericht/Clienten/Client[2]/...``: local names, 1-based positions where a name repeats."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        tag = node.tag
        if not isinstance(tag, str):  # pragma: no cover - comments/PIs are stripped at intake
            node = node.getparent()
            continue
        name = _local(tag)
        shown = name if name in known else "*"
        parent = node.getparent()
        if parent is not None:
            # Positions count siblings by local name, whatever their namespace (clarifications item 4).
            same = [c for c in parent if isinstance(c.tag, str) and _local(c.tag) == name]
            if len(same) > 1:
                shown = f"{shown}[{same.index(node) + 1}]"
        parts.append(shown)
        node = parent
    return "/" + "/".join(reversed(parts))


def _resolve(root: etree._Element, libxml_path: str) -> etree._Element | None:
    """Find the element libxml2 names with a path like ``/p:Bericht/*[2]/p:Client[3]``."""
    segments = libxml_path.strip("/").split("/")
    if not segments or not segments[0]:
        return None
    node = root
    for depth, segment in enumerate(segments):
        match = _SEGMENT.match(segment)
        if match is None:
            return None
        prefix, name, index = match.groups()
        position = int(index) if index else 1
        if depth == 0:
            if name != "*" and _local(root.tag) != name:
                return None
            continue
        children = [c for c in node if isinstance(c.tag, str)]
        if name != "*":
            # libxml2 writes an element as prefix:name (``*`` for the default namespace) and counts the
            # siblings with the same name and prefix.
            children = [c for c in children if c.prefix == prefix and _local(c.tag) == name]
        if position > len(children):
            return None
        node = children[position - 1]
    return node


def _fallback_path(libxml_path: str, known: frozenset[str]) -> str:
    parts = []
    for segment in libxml_path.strip("/").split("/"):
        match = _SEGMENT.match(segment)
        if match is None:
            parts.append("*")
            continue
        _prefix, name, index = match.groups()
        shown = name if name in known else "*"
        parts.append(f"{shown}[{index}]" if index else shown)
    return "/" + "/".join(parts)


def _message(entry: etree._LogEntry, element_name: str, known: frozenset[str]) -> str:
    what = _MESSAGES.get(entry.type_name, _DEFAULT_MESSAGE)
    if entry.type_name in ("SCHEMAV_ELEMENT_CONTENT", "SCHEMAV_CVC_COMPLEX_TYPE_2_4"):
        expected = _EXPECTED.search(entry.message)
        if expected is not None:
            names = [n for n in _QNAME.findall(expected.group(1)) if n in known]
            if names:
                what = f"{what}; expected {', '.join(dict.fromkeys(names))}"
    return f"{element_name}: {what}"


def schema_findings(
    root: etree._Element, schema: etree.XMLSchema, known: frozenset[str]
) -> tuple[Finding, ...]:
    """Validate; return no findings when valid, else one ``XSD`` finding per schema error."""
    try:
        if schema.validate(root):
            return ()
    except etree.XMLSchemaValidateError:
        # libxml2 gave up on the document (seen with entity tricks); report it as invalid.
        return (Finding("XSD", None, "/" + _local(root.tag), "the message could not be validated"),)
    findings: list[Finding] = []
    seen: set[tuple[str | None, str]] = set()
    for entry in cast("Iterable[etree._LogEntry]", schema.error_log):
        libxml_path = entry.path or ""
        element = _resolve(root, libxml_path) if libxml_path else None
        path: str | None
        if element is not None:
            path = canonical_path(element, known)
            name = _local(element.tag) if _local(element.tag) in known else "*"
        else:
            path = _fallback_path(libxml_path, known) if libxml_path else None
            name = path.rsplit("/", 1)[-1] if path else "message"
        message = _message(entry, name, known)
        key = (path, message)
        if key not in seen:
            seen.add(key)
            findings.append(Finding("XSD", None, path, message))
    if not findings:  # invalid, but libxml2 left no error entry: still invalid
        findings.append(
            Finding("XSD", None, "/" + _local(root.tag), "the message does not conform to the schema")
        )
    return tuple(findings)
