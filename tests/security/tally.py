"""What the security and fault tests tried and how it ended, counted for ``docs/reliability.md``.

Tests call :func:`record` (e.g. ``record("attack.xml.entities")`` once per attack refused,
``record("fault.broker_outage")`` per fault survived, ``record("lost", 0)`` to register a zero). With
``JWMO_RELIABILITY_REPORT=path.json`` set, the counts are written there at the end of the session (merged
with what the file holds, so separate runs add up), with the figures measured on the way (latest value
wins); without it nothing is written.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

__all__ = ["COUNTS", "FIGURES", "figure", "record", "write_report"]

COUNTS: Counter[str] = Counter()
FIGURES: dict[str, float] = {}


def record(key: str, count: int = 1) -> None:
    """Count ``count`` events of ``key`` (0 registers the key, e.g. "messages lost: 0")."""
    COUNTS[key] += count
    COUNTS.setdefault(key, 0)


def figure(key: str, value: float) -> None:
    """Remember a measured figure (e.g. a p99 latency in ms); the report keeps the latest value."""
    FIGURES[key] = round(value, 3)


def write_report() -> None:
    """Merge the counts into ``$JWMO_RELIABILITY_REPORT`` (if set) and forget them."""
    target = os.environ.get("JWMO_RELIABILITY_REPORT", "").strip()
    if not target or not (COUNTS or FIGURES):
        return
    path = Path(target)
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    merged: Counter[str] = Counter({str(k): int(v) for k, v in old.get("counts", {}).items()})
    for key, value in COUNTS.items():
        merged[key] += value
        merged.setdefault(key, 0)
    figures = {**old.get("figures", {}), **FIGURES}
    report = {"counts": dict(sorted(merged.items())), "figures": dict(sorted(figures.items()))}
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    COUNTS.clear()
    FIGURES.clear()
