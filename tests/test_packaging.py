"""A non-editable install carries the schemas and the example data (the wheel is built and inspected)."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    try:
        import hatchling  # noqa: F401
    except ImportError:
        pytest.skip(reason="hatchling (the build backend, in the 'test' extra) is not installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-w", str(out), "-q"], check=True)
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_wheel_ships_schemas_and_example_data(wheel):
    names = set(wheel.namelist())
    for schema in (ROOT / "data_schemas").rglob("*.json"):
        rel = schema.relative_to(ROOT / "data_schemas").as_posix()
        assert f"allianceStats/data_schemas/{rel}" in names
    assert "allianceStats/data/example_data/alliance_sessions.csv" in names
    assert "allianceStats/data/example_data/codebook.md" in names


def test_wheel_schema_is_the_source_schema(wheel):
    shipped = wheel.read("allianceStats/data_schemas/sessions.schema.json")
    assert shipped == (ROOT / "data_schemas" / "sessions.schema.json").read_bytes()
