"""What a user gets: the wheel carries the schemas, the example data and ``py.typed``; a clone is self-contained.

The wheel is built and inspected. The repository's files may mention ``../shared/reference/`` (public reference data
with R results, optional: tests that read it skip when it is absent), but nothing else outside the repository, and
every relative Markdown link resolves to a file inside it.
"""
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".md", ".R", ".r", ".toml", ".cfg", ".txt", ".json", ".yaml", ".yml", ".html", ".j2", ".sh"}
SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".mypy_cache", "build",
             "dist", "reports"}


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


def test_wheel_marks_the_package_as_typed(wheel):
    """PEP 561: type checkers read the package's annotations only when ``py.typed`` is installed beside it."""
    assert (ROOT / "allianceStats" / "py.typed").is_file()
    assert "allianceStats/py.typed" in set(wheel.namelist())


def _repository_files() -> list[Path]:
    """Tracked files (``git ls-files``) or, outside a git checkout, every file not in a build/cache directory."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        files = [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in ROOT.rglob("*") if p.is_file() and not SKIP_DIRS & set(p.relative_to(ROOT).parts)]
    return [p for p in files if p.suffix in TEXT_SUFFIXES and p.is_file()]


OUTSIDE = re.compile(r"(?:\.\./)+shared/(?!reference\b)[\w./-]*|(?<![\w./])shared/DESIGN\.md|\bDESIGN\.md")


def test_no_file_points_outside_the_repository():
    """Only ``../shared/reference/`` (optional reference data) may be named; the design notes live in docs/."""
    found = []
    for path in _repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            found.extend(f"{path.relative_to(ROOT)}:{lineno}: {m.group(0)}" for m in OUTSIDE.finditer(line))
    assert not found, "references outside the repository (cite docs/design.md or docs/style.md instead):\n" + \
        "\n".join(found)


def test_tests_that_read_shared_reference_data_skip_without_it():
    """A test module or conftest that names ``../shared/reference`` must be able to skip when it is absent (itself
    or through a fixture of a ``conftest.py`` above it)."""
    readers = [p for p in _repository_files()
               if p.suffix == ".py" and p.relative_to(ROOT).parts[0] == "tests"
               and (p.name.startswith("test_") or p.name == "conftest.py")
               and "shared/reference" in p.read_text(encoding="utf-8")]

    def can_skip(path: Path) -> bool:  # the module itself, or a conftest.py above it in tests/, calls a skip
        conftests = [d / "conftest.py" for d in path.parents if d.is_relative_to(ROOT / "tests")]
        return any("skip" in f.read_text(encoding="utf-8") for f in [path, *conftests] if f.is_file())

    silent = [str(p.relative_to(ROOT)) for p in readers if not can_skip(p)]
    assert not silent, f"these tests read ../shared/reference but never skip when it is absent: {silent}"


MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_relative_markdown_links_resolve_inside_the_repository():
    broken = []
    for path in _repository_files():
        if path.suffix != ".md":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for target in MD_LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # URL, mailto:, or an anchor in the same page
                resolved = (path.parent / target.split("#")[0]).resolve()
                if not resolved.is_relative_to(ROOT) or not resolved.exists():
                    broken.append(f"{path.relative_to(ROOT)}:{lineno}: {target}")
    assert not broken, "relative links that leave the repository or point nowhere:\n" + "\n".join(broken)
