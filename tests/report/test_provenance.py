"""Provenance of a report: the installed versions of the key packages against requirements.lock (issue 12).

Reviewers reproducing a result need the versions it was computed with; ``make`` installs them from the lock, and
every report says whether the running versions are the locked ones. The lock is read from the source tree, or from
the copy the wheel ships inside the package.
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from allianceStats.analysis import parse_analysis, run_analysis
from allianceStats.report import build_report, provenance
from allianceStats.report.provenance import lock_status, read_lock
from allianceStats.report.render import render_html

ROOT = Path(__file__).resolve().parents[2]


def test_read_lock_takes_the_pin_for_this_interpreter(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("arviz==0.23.4 ; python_full_version < '3.0'\n    # via alliancestats\n"
                    "arviz==1.3.0 ; python_full_version >= '3.0'\nJinja2==3.1.6\ntyping_extensions==4.15.0\n"
                    "pandas-stubs==3.1.0.261029\n# a comment\n-e .\n")
    assert read_lock(lock) == {"arviz": "1.3.0", "jinja2": "3.1.6", "typing-extensions": "4.15.0",
                               "pandas-stubs": "3.1.0.261029"}


def test_lock_status_compares_installed_and_locked_versions(tmp_path):
    numpy = metadata.version("numpy")
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"numpy=={numpy}\npandas==0.0.1\n")
    status = lock_status(["numpy", "pandas", "scipy", "no-such-package"], lock=lock)
    assert status["file"] == f"requirements.lock ({lock})" and status["all_match"] is False
    assert status["packages"] == [
        {"package": "numpy", "installed": numpy, "locked": numpy, "matches": True},
        {"package": "pandas", "installed": metadata.version("pandas"), "locked": "0.0.1", "matches": False},
        {"package": "scipy", "installed": metadata.version("scipy"), "locked": "—", "matches": None},
        {"package": "no-such-package", "installed": "not installed", "locked": "—", "matches": None}]
    assert lock_status(["numpy"], lock=lock)["all_match"] is True


def test_the_installed_copy_of_the_lock_is_used_without_a_source_tree(tmp_path, monkeypatch):
    copy = tmp_path / "package" / "requirements.lock"
    copy.parent.mkdir()
    copy.write_text(f"numpy=={metadata.version('numpy')}\n")
    monkeypatch.setattr(provenance, "LOCK_PATHS", (tmp_path / "absent" / "requirements.lock", copy))
    status = lock_status(["numpy"])
    assert status["file"] == "requirements.lock (installed package)" and status["all_match"] is True
    monkeypatch.setattr(provenance, "LOCK_PATHS", (tmp_path / "a.lock", tmp_path / "b.lock"))
    assert lock_status(["numpy"]) == {"file": None, "all_match": False, "packages": [
        {"package": "numpy", "installed": metadata.version("numpy"), "locked": "—", "matches": None}]}


def test_every_report_records_the_versions_against_the_lock():
    if not (ROOT / "requirements.lock").is_file():
        pytest.skip(reason="no requirements.lock beside the package (not a source tree)")
    report = build_report(run_analysis(parse_analysis({"data": {"path": "example"}, "describe": {}})))
    lock = report.provenance["lock"]
    assert lock["file"] == "requirements.lock (source tree)"
    pins = read_lock(ROOT / "requirements.lock")
    names = {row["package"] for row in lock["packages"]}
    assert {"numpy", "scipy", "pandas", "statsmodels", "matplotlib", "jinja2"} <= names
    for row in lock["packages"]:
        assert row["installed"] == metadata.version(row["package"])
        assert row["locked"] == pins.get(row["package"].lower(), "—")
        assert row["matches"] == (row["installed"] == row["locked"] if row["locked"] != "—" else None)
    html = render_html(report)
    footer = html[html.index('<footer id="provenance">'):]
    assert "Package versions and the lock" in footer and '<table class="apa" id="versions">' in footer
    numpy = metadata.version("numpy")
    assert f"<tr><td>numpy</td><td><code>{numpy}</code></td><td><code>{pins['numpy']}</code></td>" in footer


def test_the_report_says_which_packages_differ_from_the_lock(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"numpy==0.0.1\npandas=={metadata.version('pandas')}\n")
    run = run_analysis(parse_analysis({"data": {"path": "example"}, "describe": {}}), pd.DataFrame(
        {"client": ["a", "a", "b", "b"], "session": [1, 2, 1, 2]}))
    prov = {**run.provenance, "lock": lock_status(["numpy", "pandas"], lock=lock)}
    html = render_html(build_report(type(run)(run.title, run.steps, prov)))
    assert "1 of 2 key packages differ from requirements.lock" in html and "(numpy)" in html
    assert "<td><code>0.0.1</code></td><td>no</td>" in html
    prov["lock"] = {"file": None, "all_match": False, "packages": []}
    assert "No requirements.lock was found" in render_html(build_report(type(run)(run.title, run.steps, prov)))


def test_the_wheel_ships_the_lock(tmp_path):
    try:
        import hatchling  # noqa: F401
    except ImportError:
        pytest.skip(reason="hatchling (the build backend, in the 'test' extra) is not installed")
    if not (ROOT / "requirements.lock").is_file():
        pytest.skip(reason="no requirements.lock beside the package (not a source tree)")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), "-q"], check=True)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("allianceStats/requirements.lock") == (ROOT / "requirements.lock").read_bytes()
