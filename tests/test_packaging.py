"""The wheel ships the schemas, and an installed gateway finds them without the source tree."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gateway.rules.table import markdown_table
from gateway.testing.builders import render
from tests.conftest import PROJECT
from tests.helpers import BASE


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
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


def test_wheel_contains_schemas_and_packages(wheel: Path) -> None:
    """The wheel holds gateway/, filters/, the catalogue and every XSD, plus the console script."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "gateway/__init__.py",
        "filters/__init__.py",
        "gateway/schemas/catalog.toml",
        "gateway/schemas/ijw/3.2/JW323.xsd",
        "gateway/schemas/ijw/3.2/JW325.xsd",
        "gateway/schemas/ijw/3.2/basisschema.xsd",
        "gateway/schemas/iwmo/3.2/WMO323.xsd",
        "gateway/schemas/iwmo/3.2/WMO325.xsd",
        "gateway/schemas/iwmo/3.2/basisschema.xsd",
    ):
        assert needed in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "jwmo-gateway = gateway.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_validates_without_source_tree(wheel: Path, tmp_path: Path) -> None:
    """Installed into a separate directory and run from elsewhere, the gateway uses its bundled schemas."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    message = tmp_path / "m.xml"
    message.write_bytes(render(BASE))
    script = (
        "import json, sys; from gateway.registry import schema_root; import gateway.cli as c;"
        "print(json.dumps(str(schema_root()))); sys.exit(c.main(['validate', '--json', sys.argv[1]]))"
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
    first, second = result.stdout.decode().splitlines()
    assert Path(json.loads(first)).is_relative_to(target)
    assert json.loads(second)["valid"] is True


def test_rule_table_in_docs_is_current() -> None:
    """docs/rules.md is exactly what the registry generates (regenerate with python -m gateway.rules)."""
    assert (PROJECT / "docs" / "rules.md").read_text(encoding="utf-8") == markdown_table()
