"""Shared fixtures: where the official reference files are (a test oracle next to the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` (or ``$JWMO_REFERENCE_DIR``); required in CI, skipped elsewhere if absent."""
    path = Path(os.environ.get("JWMO_REFERENCE_DIR", PROJECT.parent / "shared" / "reference"))
    if not (path / "xsd").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference files not found at {path}")
        pytest.skip("reference files not available")
    return path


# Property tests: no per-example deadline (CI machines are slow and shared); everything else default.
settings.register_profile("jwmo", deadline=None)
settings.load_profile("jwmo")
