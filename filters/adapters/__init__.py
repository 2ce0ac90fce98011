"""Format adapters: each message format reaches the policy engine through one adapter.

``ADAPTERS`` maps a message type name (interfaces.md) to the adapter of its format: the 3.2 declarations
(JW323, WMO323), the 2.x declarations/invoices (JW303D/F, WMO303D/F) and JW321. All build the same neutral
line views, so one policy serves them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from filters.adapters.base import Adapter, OptoutSubject, Position, PreparedMessage, UnsupportedChange
from filters.adapters.jw321 import Jw321Adapter
from filters.adapters.xml2x import Xml2xAdapter
from filters.adapters.xml32 import Xml32Adapter

__all__ = [
    "ADAPTERS",
    "Adapter",
    "OptoutSubject",
    "Position",
    "PreparedMessage",
    "UnsupportedChange",
    "adapter_for",
]

_XML32 = Xml32Adapter()
_XML2X = Xml2xAdapter()
_JW321 = Jw321Adapter()

ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {name: adapter for adapter in (_XML32, _XML2X, _JW321) for name in adapter.message_types}
)


def adapter_for(message_type: str | None) -> Adapter | None:
    """The adapter of a message type, or None when the gateway cannot minimise that type (yet)."""
    return ADAPTERS.get(message_type or "")
