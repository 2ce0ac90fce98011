"""A producer that never sends a batch a second time when the first attempt may have been written.

Without idempotence (the test broker does not offer it to aiokafka; clarifications item 20), aiokafka
re-sends a batch after a lost connection or a request time-out while the batch is younger than
``request_timeout_ms``. When the broker had written the first attempt and only its acknowledgement was
lost, the re-send writes every record again: a billing line twice, out of the gateway's sight.

:func:`produce_once` makes such a batch fail instead. The failure reaches the hand-over, which reads the
billing topic back to learn what was written and sends only what is missing
(:meth:`gateway.service.kafka.KafkaHandover.reconcile`). Batches that certainly did not reach the broker
(no connection yet, or an error answer such as "not the leader") are still retried by aiokafka.

The hook relies on two internals of aiokafka 0.14 (``Sender._send_produce_req`` and the produce
handler's ``_can_retry``); :func:`produce_once` reports whether it could install it, and the gateway logs
an error when it could not (then only lost acknowledgements during a re-send can add copies).
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, NotEnoughReplicasAfterAppendError, RequestTimedOutError

__all__ = ["MAYBE_WRITTEN", "produce_once"]

# Errors after which the broker may have appended the batch: the request left, no answer came back, or
# the answer says the append happened but the replicas did not follow.
MAYBE_WRITTEN = (KafkaConnectionError, RequestTimedOutError, NotEnoughReplicasAfterAppendError)

try:
    from aiokafka.producer import sender as _internals

    _Handler: Any = _internals.SendProduceReqHandler
    _Sender: Any = _internals.Sender
    _AVAILABLE = hasattr(_Handler, "_can_retry") and hasattr(_Sender, "_send_produce_req")
except (ImportError, AttributeError):  # pragma: no cover - another aiokafka release
    _AVAILABLE = False

if _AVAILABLE:

    class _OnceHandler(_Handler):  # type: ignore[misc]
        def _can_retry(self, error: Exception, batch: Any) -> bool:
            if isinstance(error, MAYBE_WRITTEN):
                return False  # fail the batch: the hand-over finds out what was written
            return bool(super()._can_retry(error, batch))

    class _OnceSender(_Sender):  # type: ignore[misc]
        async def _send_produce_req(self, node_id: int, batches: dict[Any, Any]) -> None:
            await _OnceHandler(self, batches).do(node_id)
            self._in_flight.remove(node_id)
            for tp in batches:
                self._muted_partitions.remove(tp)


def produce_once(producer: AIOKafkaProducer) -> bool:
    """Install the guard on a producer that has not started yet; False when this aiokafka lacks the
    internals it needs."""
    sender = getattr(producer, "_sender", None)
    if not _AVAILABLE or sender is None or type(sender) is not _Sender:
        return False
    sender.__class__ = _OnceSender
    return True
