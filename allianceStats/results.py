"""Shared pieces of every fitted result: convergence record and provenance.

Result objects are frozen dataclasses (docs/design.md, "Result objects"); they carry a :class:`Convergence`
and a :class:`Provenance` so that any number can be traced to its data, options, seed and versions.

Example
-------
>>> import pandas as pd
>>> from allianceStats.results import make_provenance
>>> p = make_provenance(pd.DataFrame({"a": [1, 2]}), options={"reml": True}, seed=1)
>>> len(p.data_sha256), p.options["reml"], p.seed
(64, True, 1)
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

_VERSIONED = ("allianceStats", "numpy", "scipy", "pandas", "statsmodels")


@dataclass(frozen=True)
class Convergence:
    """How the optimiser ended: ``converged`` is the verdict after checking the optimum, not only the flag."""

    converged: bool
    iterations: int
    optimizer: str
    message: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: versions, resolved options, seed, SHA-256 of the input data, UTC timestamp."""

    versions: dict[str, str]
    options: dict[str, Any]
    seed: int | None
    data_sha256: str
    timestamp: str
    python: str = field(default_factory=platform.python_version)
    function: str = ""
    elapsed_seconds: float | None = None


@runtime_checkable
class Result(Protocol):
    """What every fitted result offers (docs/design.md, "Result objects"; checked by ``tests/test_api_vocabulary.py``).

    - ``convergence``: a :class:`Convergence` whose ``converged`` is the verdict after checking the optimum
      (analyses without an optimiser report ``Convergence(True, 0, "closed form")``);
    - ``provenance``: a :class:`Provenance` (versions, options, seed, data hash, calling function, seconds);
    - ``n_obs``: the number of rows (sessions, or clients for client-level models) the estimates use, an int;
    - ``conf_level``: the level of every interval in the result;
    - ``summary()``: a plain-text report.
    """

    convergence: Convergence
    provenance: Provenance
    n_obs: int
    conf_level: float

    def summary(self) -> str: ...


CLOSED_FORM = Convergence(converged=True, iterations=0, optimizer="closed form")
"""The :class:`Convergence` of an analysis computed in closed form (no optimiser, nothing to converge)."""


@cache
def _version(name: str) -> str:
    # reading package metadata costs ~1 ms per package; versions do not change within a process
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of allianceStats and its numerical dependencies (``"not installed"`` when absent).

    >>> package_versions()["numpy"] != "not installed"
    True
    """
    return {name: _version(name) for name in _VERSIONED + tuple(extra)}


def data_sha256(data: pd.DataFrame | np.ndarray) -> str:
    """SHA-256 of a table's content (column names, dtypes and values), independent of memory layout.

    >>> import pandas as pd
    >>> data_sha256(pd.DataFrame({"x": [1.0]})) == data_sha256(pd.DataFrame({"x": [1.0]}))
    True
    """
    h = hashlib.sha256()
    if isinstance(data, pd.DataFrame):
        h.update("\x1f".join(map(str, data.columns)).encode())
        h.update("\x1f".join(map(str, data.dtypes)).encode())
        h.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    else:
        arr = np.ascontiguousarray(data)
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def make_provenance(data, *, options: dict[str, Any] | None = None, seed: int | None = None,
                    extra_versions: tuple[str, ...] = (), function: str = "",
                    started: float | None = None) -> Provenance:
    """Build the :class:`Provenance` record for a result fitted on ``data`` with resolved ``options``.

    ``function`` is the public function's name (``"fit_mlm"``); ``started`` is the :func:`time.perf_counter`
    reading taken when it began, from which ``elapsed_seconds`` is computed.
    """
    return Provenance(
        versions=package_versions(extra_versions),
        options=dict(options or {}),
        seed=seed,
        data_sha256=data_sha256(data),
        timestamp=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        function=function,
        elapsed_seconds=None if started is None else round(time.perf_counter() - started, 6),
    )
