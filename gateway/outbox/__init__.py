"""The embedded default's outputs: a file outbox and a ledger of handled messages (no broker needed)."""

from gateway.outbox.files import FileOutbox, RunReport
from gateway.outbox.ledger import Ledger

__all__ = ["FileOutbox", "Ledger", "RunReport"]
