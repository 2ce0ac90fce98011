"""The wheel ships the EI definitions (layouts, code tables, XSDs), and an installed gateway validates a
JW321 without the source tree."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from filters.codetables import TABLE_NAMES
from tests.conftest import PROJECT
from tests.fixedwidth.base import B7


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ei-wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(PROJECT),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (found,) = out.glob("jwmo_gateway-*.whl")
    return found


def test_wheel_contains_the_ei_definitions(wheel: Path) -> None:
    """Layouts, every code table and both generated XSDs are inside the wheel."""
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        "gateway/fixedwidth/layouts/jw321.toml",
        "gateway/fixedwidth/layouts/jw322.toml",
        "gateway/schemas/ei/jw321/JW321.xsd",
        "gateway/schemas/ei/jw322/JW322.xsd",
        *(f"filters/tables/{name}.toml" for name in TABLE_NAMES),
    }
    assert needed <= names


def test_installed_wheel_validates_a_jw321(wheel: Path, tmp_path: Path) -> None:
    """Installed elsewhere and run from another directory, the gateway finds its EI definitions."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    message = tmp_path / "JW321.txt"
    message.write_bytes(B7)
    script = (
        "import sys, gateway.cli as c; "
        "sys.exit(c.main(['validate', '--json', '--workers', '1', sys.argv[1]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(message)],
        capture_output=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr.decode()
    verdict = json.loads(result.stdout)
    assert (verdict["message_type"], verdict["valid"]) == ("JW321", True)
