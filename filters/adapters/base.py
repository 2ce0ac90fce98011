"""What every format adapter provides to the minimisation glue (``gateway/minimise.py``).

An adapter turns one checked message of its format into a :class:`PreparedMessage`: a neutral
:class:`~filters.engine.LineView` per line, the opt-out question per line, and the means to write the
policy's changes back into the same format and to locate a field for the audit. Adapters are pure: they
read the parsed message and return values.

Adding a format (2.x XML, JW321) means adding one adapter module and registering it in
``filters.adapters.ADAPTERS``; the engine and the policy stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import NamedTuple, Protocol

from filters.engine import LineView, MessageView
from filters.fields import Value
from filters.policy import Policy
from filters.products import ProductTable

__all__ = ["Adapter", "OptoutSubject", "Position", "PreparedMessage", "UnsupportedChange"]

#: An adapter-defined position of a line: (client, line) for 3.2 XML, (record number,) for JW321.
Position = tuple[int, ...]


class UnsupportedChange(Exception):  # noqa: N818 - reads as a sentence at the raise site
    """The policy asked for a change the format cannot carry (our configuration fault, never the sender's)."""


class OptoutSubject(NamedTuple):
    """Whom the opt-out register is asked about for a line: client, provider and the comparison date."""

    bsn: str
    agb: str
    on: date

    def __repr__(self) -> str:  # never show the BSN (reprs end up in tracebacks and debug logs)
        return f"OptoutSubject(bsn=<hidden>, agb={self.agb}, on={self.on.isoformat()})"


class PreparedMessage(Protocol):
    """One message read for the engine."""

    @property
    def lines(self) -> Sequence[LineView]:
        """The views of the lines that are minimised (for a partly rejected message: the granted ones)."""
        ...

    @property
    def positions(self) -> tuple[Position, ...]:
        """The position of each line in ``lines``."""
        ...

    @property
    def optout_subjects(self) -> Sequence[OptoutSubject | None]:
        """Per line: whom to ask the opt-out register about (None: the format has no opt-out)."""
        ...

    @property
    def message_view(self) -> MessageView | None: ...

    def paths(self, line: int | None, field: str | None) -> tuple[str, ...]:
        """Where a field of line ``line`` (an index into ``lines``) sits; ``field`` None = the line itself;
        ``line`` None = a message-level field."""
        ...

    def render(
        self, line_changes: Sequence[Mapping[str, Value]], message_changes: Mapping[str, Value]
    ) -> str:
        """The filtered message: the parsed message with the changes applied, in the same format."""
        ...

    def fragment(self, line: int) -> str:
        """The full original text of a line (for the restricted store; never for general outputs)."""
        ...


class Adapter(Protocol):
    """A format adapter (one per format family)."""

    @property
    def message_types(self) -> frozenset[str]: ...

    def check(self, policy: Policy) -> None:
        """Reject (PolicyError naming the rule) a policy that asks for changes this format cannot carry."""
        ...

    def prepare(
        self,
        message: object,
        root: object,
        *,
        message_type: str,
        products: ProductTable,
        include: Callable[[Position], bool] | None = None,
    ) -> PreparedMessage:
        """Read a checked message; ``include`` (None = every line) selects the lines to minimise."""
        ...
