"""Immutable result values of the validation core.

Every stage of the pipeline reports problems as :class:`Finding` values and the core returns one
:class:`Verdict` per message. Both are frozen: adapters (CLI, HTTP, Kafka) only read them.

Privacy rule for everything in this module: a ``Finding.message`` says *what is wrong*, never *what was
sent*. No submitted BSN, name, birth date, diagnosis or other value of a person may appear in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Finding", "Stage", "Verdict"]


class Stage(StrEnum):
    """The stage of the pipeline at which a message failed (the first failing one)."""

    TRANSPORT = "transport"
    SCHEMA = "schema"
    RULES = "rules"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a message.

    ``code`` is the official rule code (``TR358``, ``CS002`` ...) where one exists, otherwise one of the
    project's stable transport/schema codes (``BOM``, ``XSD`` ...). ``retourcode`` is the official WJ001
    retourcode, or ``None`` where no 325 answers the problem. ``path`` is an XPath of local names with
    1-based positions where an element repeats.
    """

    code: str
    retourcode: str | None
    path: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "retourcode": self.retourcode, "path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of validating one message."""

    source: str
    message_type: str | None
    valid: bool
    stage: Stage | None
    errors: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``validate --json`` object of the interface contract."""
        return {
            "source": self.source,
            "message_type": self.message_type,
            "valid": self.valid,
            "stage": None if self.stage is None else self.stage.value,
            "errors": [e.to_json() for e in self.errors],
        }
