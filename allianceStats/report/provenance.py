r"""Which versions a report was computed with, next to the versions the project pins in ``requirements.lock``.

A reviewer reproducing a result needs the same versions; ``make`` installs them from the lock (exact versions of
every dependency, with environment markers for other Pythons). :func:`lock_status` lists the installed version of
each key package (allianceStats' runtime dependencies), the version the lock pins for the running interpreter and
whether the two are equal; :func:`allianceStats.report.build_report` puts it in every report's provenance footer.

The lock is read from the source tree (a clone) when present, else from the copy the wheel ships inside the
package (``allianceStats/requirements.lock``, force-included by ``pyproject.toml``). Reading files and package
metadata only: nothing here estimates.

Example
-------
>>> status = lock_status(["numpy"])
>>> sorted(status), sorted(status["packages"][0])
(['all_match', 'file', 'packages'], ['installed', 'locked', 'matches', 'package'])
"""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["LOCK_PATHS", "lock_status", "read_lock"]

_PACKAGE = Path(__file__).resolve().parent.parent
#: where the lock is looked for: the source tree first, then the copy the wheel ships inside the package
LOCK_PATHS = (_PACKAGE.parent / "requirements.lock", _PACKAGE / "requirements.lock")
#: compared when the package's own metadata (its declared dependencies) cannot be read
_KEY_PACKAGES = ("numpy", "scipy", "pandas", "statsmodels", "linearmodels", "semopy", "arviz", "xarray", "pyarrow",
                 "jinja2", "matplotlib", "typer", "rich", "dask", "distributed", "jsonschema", "nlopt",
                 "threadpoolctl")


def _normalise(name: str) -> str:
    """PEP 503 name: ``Jinja2`` / ``typing_extensions`` -> ``jinja2`` / ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: str | Path) -> dict[str, str]:
    r"""The exact versions a lock file (``uv pip compile`` / ``pip-compile`` format) pins for this interpreter.

    Lines are ``name==version`` with an optional environment marker (``; python_full_version < '3.12'``), which
    is evaluated for the running Python, so a universal lock gives the one version that applies here; comments,
    indented ``# via`` lines and options are ignored.

    Parameters
    ----------
    path : str or Path
        The lock file.

    Returns
    -------
    dict
        Normalised package name -> pinned version.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> lock = pathlib.Path(tempfile.mkdtemp()) / "requirements.lock"
    >>> _ = lock.write_text("numpy==1.0 ; python_version < '3'\nnumpy==2.4.6 ; python_version >= '3'\n"
    ...                     "    # via pandas\nJinja2==3.1.6\n")
    >>> read_lock(lock)
    {'numpy': '2.4.6', 'jinja2': '3.1.6'}
    """
    from packaging.markers import InvalidMarker, Marker

    pins: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or raw[:1].isspace() or "==" not in line:
            continue
        requirement, _, marker = line.partition(";")
        name, _, version = requirement.partition("==")
        try:
            if marker.strip() and not Marker(marker.strip()).evaluate():
                continue
        except InvalidMarker:
            continue
        pins[_normalise(name.split("[", 1)[0].strip())] = version.strip()
    return pins


def _key_packages() -> list[str]:
    """allianceStats' runtime dependencies (from its installed metadata), else :data:`_KEY_PACKAGES`."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        declared = metadata.requires("allianceStats") or []
    except metadata.PackageNotFoundError:
        return list(_KEY_PACKAGES)
    names = []
    for text in declared:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or "extra" not in str(req.marker):
            names += [req.name, *sorted(e for e in req.extras if e == "distributed")]  # dask[distributed]
    return list(dict.fromkeys(names)) or list(_KEY_PACKAGES)


def lock_status(packages: list[str] | None = None, *, lock: str | Path | None = None) -> dict[str, Any]:
    """The installed version of each key package next to the version ``requirements.lock`` pins.

    Parameters
    ----------
    packages : list of str, optional
        Packages to compare (default: allianceStats' runtime dependencies).
    lock : str or Path, optional
        The lock file (default: the first of :data:`LOCK_PATHS` that exists).

    Returns
    -------
    dict
        ``file``: the lock's name and where it was found (``"requirements.lock (source tree)"``), or ``None``
        when there is none; ``packages``: one ``{"package", "installed", "locked", "matches"}`` per package
        (``locked`` ``"—"`` and ``matches`` ``None`` when the lock pins no version); ``all_match``: a lock was
        found and every package it pins is installed at that version.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from importlib.metadata import version
    >>> lock = pathlib.Path(tempfile.mkdtemp()) / "requirements.lock"
    >>> _ = lock.write_text(f"numpy=={version('numpy')}\\npandas==0.0.1\\n")
    >>> status = lock_status(["numpy", "pandas"], lock=lock)
    >>> [(p["package"], p["locked"] == p["installed"], p["matches"]) for p in status["packages"]]
    [('numpy', True, True), ('pandas', False, False)]
    >>> status["all_match"]
    False
    """
    path = Path(lock) if lock is not None else next((p for p in LOCK_PATHS if p.is_file()), None)
    try:
        pins = read_lock(path) if path is not None else {}
    except (OSError, UnicodeDecodeError):
        pins, path = {}, None
    rows = []
    for name in packages if packages is not None else _key_packages():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        locked = pins.get(_normalise(name))
        rows.append({"package": name, "installed": installed, "locked": locked or "—",
                     "matches": None if locked is None else installed == locked})
    where = None
    if path is not None:
        found = {LOCK_PATHS[0]: "source tree", LOCK_PATHS[1]: "installed package"}.get(path, str(path))
        where = f"{path.name} ({found})"
    return {"file": where, "packages": rows,
            "all_match": path is not None and all(r["matches"] is not False for r in rows)}
