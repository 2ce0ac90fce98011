"""Reading a whole topic back in tests (billing, answers, DLQ), to its real end.

The end is where fetching goes quiet, not only the end offset the broker reports: the test broker reports
the base offset of a partition's last batch as its end, so a reader that stops there misses that batch
(and skips a partition holding one batch altogether). A topic that cannot be read to its end within
``timeout`` seconds fails the test rather than returning less.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

__all__ = ["read_records", "reported_end"]


async def read_records(
    bootstrap: str, topic: str, *, quiet_ms: int = 300, timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of every partition of ``topic``, in partition then offset order."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        tps = sorted(
            (TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or set()),
            key=lambda tp: tp.partition,
        )
        if not tps:
            return []
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)
        found: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {tp: [] for tp in tps}
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            batch = await reader.getmany(timeout_ms=quiet_ms)
            for tp, records in batch.items():
                found[tp].extend(records)
            if not batch:
                positions = [await reader.position(tp) for tp in tps]
                if all(p >= ends[tp] for p, tp in zip(positions, tps, strict=True)):
                    break
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"topic {topic} could not be read to its end")
        return [record for tp in tps for record in found[tp]]
    finally:
        await reader.stop()


async def reported_end(bootstrap: str, topic: str) -> int:
    """The sum of the end offsets the broker reports for ``topic``: cheap, and a lower bound of what the
    topic holds (good for "has anything arrived yet"; never for counting)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        tps = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or set()]
        return sum((await reader.end_offsets(tps)).values()) if tps else 0
    finally:
        await reader.stop()
