"""Stage 1 of the pipeline: transport checks and the hardened XML parse.

Takes the raw bytes of one message and returns either a parsed tree or a ``transport`` finding. Nothing
here touches the file system or the network, and no message text ever quotes the input.

Stable transport codes (``retourcode`` is always ``None``: no 325 answers a message that cannot be read):

=================  ==========================================================================
code               meaning
=================  ==========================================================================
``TOO_LARGE``      the message is larger than the configured limit (default 25 MiB)
``BOM``            the message starts with a byte-order mark (OP192 forbids it)
``ENCODING``       the message is not UTF-8 (declared otherwise, or bytes that are not UTF-8)
``NOT_WELL_FORMED`` the bytes are not a well-formed XML document
``DOCTYPE``        the message has a document type declaration (DTDs and entities are refused)
``DEPTH``          the elements are nested deeper than the parser allows
``LIMIT``          a name, text node or attribute exceeds the parser's size limits
``NAMESPACES``     the message declares more namespaces than any real message needs
``UNKNOWN_TYPE``   the root element is not one of the supported message types
=================  ==========================================================================
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree

from gateway.results import Finding

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_NAMESPACE_DECLARATIONS",
    "Limits",
    "TransportError",
    "parse_xml",
    "transport_finding",
]

DEFAULT_MAX_MESSAGE_BYTES = 26_214_400  # 25 MiB (OP179; clarifications item 9)
MAX_NAMESPACE_DECLARATIONS = 32  # a real message declares two or three

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# The XML declaration's encoding pseudo-attribute, if any, within the first bytes of the document.
_DECLARED_ENCODING = re.compile(rb"\A<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied at intake."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


class TransportError(Exception):
    """Raised inside the intake stage; carries the finding to report. Its text never quotes input."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.code)
        self.finding = finding


def transport_finding(code: str, message: str) -> Finding:
    return Finding(code=code, retourcode=None, path=None, message=message)


_local = threading.local()


def _parser() -> etree.XMLParser:
    """The hardened parser: no DTD, no entity expansion, no network, default size limits.

    Comments and processing instructions are dropped: they may carry personal data and have no meaning
    in the message standard. Whitespace between elements is dropped too (element-only content; leaf
    values keep their whitespace), which makes parsing cheaper and lets the record reader tell
    containers from leaves. One parser per thread (lxml parsers are not shared across threads).
    """
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            remove_blank_text=True,
        )
        _local.parser = parser
    return parser


def _syntax_finding(parser: etree.XMLParser) -> Finding:
    """Map libxml2's error to a stable code. Its message text is never passed on (it quotes input)."""
    entries = list(parser.error_log)
    first = entries[0] if entries else None
    type_name = first.type_name if first is not None else ""
    if type_name in ("ERR_INVALID_ENCODING", "ERR_UNSUPPORTED_ENCODING"):
        return transport_finding("ENCODING", "the message is not valid UTF-8")
    if type_name == "ERR_RESOURCE_LIMIT" and first is not None and "depth" in first.message:
        return transport_finding("DEPTH", "the elements are nested deeper than allowed")
    if type_name in ("ERR_RESOURCE_LIMIT", "ERR_NAME_TOO_LONG"):
        return transport_finding("LIMIT", "a name, text or attribute is longer than the parser allows")
    if type_name == "ERR_DOCUMENT_EMPTY":
        return transport_finding("NOT_WELL_FORMED", "the message is empty or has no root element")
    return transport_finding("NOT_WELL_FORMED", "the message is not well-formed XML")


def _count_namespace_declarations(data: bytes) -> int:
    """Exact count of namespace declarations, for the rare message whose raw bytes suggest many."""
    count = 0
    try:
        for _event, _ns in etree.iterparse(
            _BytesReader(data),
            events=("start-ns",),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        ):
            count += 1
    except etree.XMLSyntaxError:
        return count
    return count


class _BytesReader:
    """Minimal file-like object over bytes (avoids an io import on the hot path)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


def parse_xml(data: bytes, limits: Limits) -> etree._Element:
    """Run the transport checks and parse; return the root element or raise :class:`TransportError`."""
    if len(data) > limits.max_message_bytes:
        raise TransportError(
            transport_finding("TOO_LARGE", f"the message is larger than {limits.max_message_bytes} bytes")
        )
    if data.startswith(_BOMS):
        raise TransportError(transport_finding("BOM", "the message starts with a byte-order mark"))
    if data[:5] == b"<?xml":
        declared = _DECLARED_ENCODING.match(data)
        if declared is not None and declared.group(1).upper() not in (b"UTF-8", b"UTF8"):
            raise TransportError(
                transport_finding("ENCODING", "the message declares an encoding other than UTF-8")
            )
    elif b"\x00" in data[:4]:
        # UTF-16/32 without a byte-order mark: libxml2 would detect and accept it.
        raise TransportError(transport_finding("ENCODING", "the message is not UTF-8"))
    if b"<!DOCTYPE" in data:
        # Refused before libxml2 sees it: whatever the parser options, a DTD is never read, no file or URL
        # it names is opened, and entity bombs never start expanding.
        raise TransportError(transport_finding("DOCTYPE", "document type declarations are not allowed"))
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        raise TransportError(_syntax_finding(parser)) from None
    if root is None:  # pragma: no cover - lxml raises for empty documents; kept as a guard
        raise TransportError(transport_finding("NOT_WELL_FORMED", "the message is empty"))
    docinfo: Any = root.getroottree().docinfo  # the stubs lack DocInfo.doctype
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise TransportError(transport_finding("DOCTYPE", "document type declarations are not allowed"))
    encoding = (docinfo.encoding or "UTF-8").upper()
    if encoding not in ("UTF-8", "UTF8"):
        raise TransportError(transport_finding("ENCODING", "the message is not UTF-8"))
    if (
        data.count(b"xmlns") > MAX_NAMESPACE_DECLARATIONS
        and _count_namespace_declarations(data) > MAX_NAMESPACE_DECLARATIONS
    ):
        raise TransportError(
            transport_finding(
                "NAMESPACES", f"the message declares more than {MAX_NAMESPACE_DECLARATIONS} namespaces"
            )
        )
    return root
