"""Shared pieces of every fitted result: convergence record, provenance and display.

Result objects are frozen dataclasses (docs/design.md, "Result objects"); they carry a :class:`Convergence`
and a :class:`Provenance` so that any number can be traced to its data, options, seed and versions, and they
inherit :class:`ResultDisplay`: a short ``repr`` (model, n, converged, key numbers), ``str()`` = ``summary()``
and ``_repr_html_`` (the result's tables, escaped) for Jupyter.

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
import html
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


# ---------------------------------------------------------------------------------------------------------------
# display: repr, str, _repr_html_
# ---------------------------------------------------------------------------------------------------------------
REPR_LIMIT = 1000
"""Longest ``repr`` of a result (characters); longer descriptions are cut with ``…``."""

# scalar fields worth a place in the repr, with their labels
_SCALARS = {"marginal": "R²m", "conditional": "R²c", "chisq": "χ²", "df": "df", "p_value": "p",
            "statistic": "statistic", "effect_size": "effect size", "grand_average": "mean synchrony",
            "nickell_bias": "Nickell bias", "loglik": "logLik", "aic": "AIC", "n_events": "events",
            "n_clients": "clients", "n_transitions": "transitions"}
_DESCRIBERS = ("model", "formula", "family", "link", "method", "estimator", "mode", "outcome", "column")


class ResultDisplay:
    """Display for every result: a short ``repr``, ``str()`` = ``summary()``, and ``_repr_html_`` for Jupyter.

    ``repr`` names the class, the fitting function and the model, ``n_obs``, whether it converged, and its key
    numbers (fit measures, likelihood, the first estimates with their intervals), in under
    :data:`REPR_LIMIT` characters; raw arrays and data are never printed. ``_repr_html_`` shows the same header
    and every tidy table of the result (:func:`allianceStats.formatting.display_tables`), numbers formatted by the
    APA rules of :mod:`allianceStats.formatting`, all text HTML-escaped, and ``summary()`` folded below.

    A result class inherits it first in its bases and sets ``repr=False`` in its ``@dataclass`` decorator (a
    dataclass otherwise writes its own field-dump ``__repr__``).

    Examples
    --------
    >>> import pandas as pd
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True, repr=False)
    ... class ToyResult(ResultDisplay):
    ...     params: pd.DataFrame
    ...     n_obs: int = 10
    ...     conf_level: float = 0.95
    ...     convergence: Convergence = CLOSED_FORM
    ...     def summary(self):
    ...         return "a toy"
    >>> r = ToyResult(pd.DataFrame({"term": ["x"], "estimate": [0.5], "std_error": [0.1],
    ...                             "ci_lower": [0.3], "ci_upper": [0.7]}))
    >>> r
    <ToyResult: n_obs = 10, converged
     params: x = 0.50 [0.30, 0.70]>
    >>> str(r), "<table" in r._repr_html_()
    ('a toy', True)
    """

    __slots__ = ()
    convergence: Convergence      # every result has one (closed-form results: CLOSED_FORM)

    @property
    def converged(self) -> bool:
        """Whether the estimate passed its convergence check: ``convergence.converged`` (always True for a
        closed-form result, whose ``convergence`` is :data:`CLOSED_FORM`)."""
        return bool(self.convergence.converged)

    # -- pieces ------------------------------------------------------------------------------------------------
    def _display_fields(self) -> dict[str, Any]:
        import dataclasses

        if dataclasses.is_dataclass(self):
            return {f.name: self.__dict__.get(f.name) for f in dataclasses.fields(self)}
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def _display_title(self) -> str:
        fields = self._display_fields()
        parts = []
        prov = fields.get("provenance")
        function = getattr(prov, "function", "") if prov is not None else ""
        described = []
        for name in _DESCRIBERS:
            value = fields.get(name)
            if isinstance(value, str) and value and "\n" not in value.strip():
                text = value.strip()
                described.append(text if len(text) <= 70 else text[:69] + "…")
        if function:
            parts.append(function)
        if described:
            parts.append(", ".join(dict.fromkeys(described)))
        return " ".join(parts[:1]) + (f" ({parts[1]})" if len(parts) > 1 else "") if function else ", ".join(parts)

    def _display_status(self) -> str:
        fields = self._display_fields()
        bits = []
        n = getattr(self, "n_obs", None)
        if n is not None:
            bits.append(f"n_obs = {n}")
        conv = fields.get("convergence")
        if conv is not None:
            bits.append("converged" if conv.converged else
                        f"NOT converged{': ' + conv.message[:80] if conv.message else ''}")
        if fields.get("singular") is True:
            bits.append("singular")
        return ", ".join(bits)

    def _display_numbers(self) -> list[str]:
        from .formatting import display_tables, fit_measures_table, format_number, format_p, key_estimates

        fields = self._display_fields()
        lines = []
        fit = fields.get("fit")
        if isinstance(fit, pd.Series) and "chisq" in fit.index:
            lines.append(", ".join(f"{m} = {v}" for m, v in fit_measures_table(fit).values[:6]))
        scalars = []
        for name, label in _SCALARS.items():
            value = fields.get(name)
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
                    and np.isfinite(value):
                text = format_p(value) if name == "p_value" else (
                    str(int(value)) if float(value).is_integer() and name != "loglik" else format_number(value, 3))
                scalars.append(f"{label} = {text}")
        if scalars:
            lines.append(", ".join(scalars))
        tables = {k: v for k, v in display_tables(self).items() if isinstance(v, pd.DataFrame)}
        for name, table in tables.items():
            shown, more = key_estimates(table)
            if shown:
                lines.append(f"{name}: " + "; ".join(shown) + (f" (+{more} more)" if more else ""))
                break
        else:
            if tables:
                lines.append(", ".join(f"{name}: {len(t)} rows" for name, t in list(tables.items())[:3]))
        return lines

    # -- the three displays ----------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        title = self._display_title()
        head = f"<{type(self).__name__}" + (f" {title}" if title else "") + f": {self._display_status()}"
        try:
            lines = self._display_numbers()
        except Exception as exc:  # a display must never fail where the result itself is fine
            lines = [f"(key numbers unavailable: {type(exc).__name__})"]
        text = "\n ".join([head, *lines]) + ">"
        return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 2] + "…>"

    def __str__(self) -> str:
        return self.summary()  # type: ignore[attr-defined]

    def _repr_html_(self) -> str:
        from .formatting import display_tables, html_table

        esc = html.escape
        title = self._display_title()
        out = ['<div class="allianceStats-result">',
               f"<p><strong>{esc(type(self).__name__)}</strong>{' — ' + esc(title) if title else ''}"
               f" · {esc(self._display_status())}</p>"]
        try:
            numbers = self._display_numbers()
        except Exception as exc:
            numbers = [f"(key numbers unavailable: {type(exc).__name__})"]
        if numbers:
            out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in numbers) + "</ul>")
        level = getattr(self, "conf_level", 0.95)
        for i, (name, table) in enumerate(display_tables(self).items()):
            try:
                body = html_table(table, conf_level=level)
            except Exception as exc:  # one odd table must not hide the others
                body = f"<p>(table not shown: {esc(type(exc).__name__)}: {esc(str(exc))})</p>"
            out.append(f"<details{' open' if i == 0 else ''}><summary><code>.{esc(name)}</code> "
                       f"({len(table)} rows)</summary>{body}</details>")
        try:
            text = self.summary()  # type: ignore[attr-defined]
        except Exception as exc:
            text = f"summary() failed: {type(exc).__name__}: {exc}"
        out.append(f"<details><summary>summary()</summary><pre>{esc(text)}</pre></details></div>")
        return "".join(out)
