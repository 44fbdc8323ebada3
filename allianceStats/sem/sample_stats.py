"""Summary-statistics input: a published covariance matrix (with means and sample size) instead of the rows.

lavaan fits a model to ``sample.cov`` (an unbiased covariance matrix, divisor n − 1), optionally ``sample.mean``,
and ``sample.nobs`` exactly as to raw data with those moments: the normal-theory likelihood depends on the data
only through the mean vector and the covariance matrix with divisor n, so the input is rescaled by (n − 1)/n
(lavaan's ``sample.cov.rescale = TRUE``) and every estimate, standard error (expected or observed information) and
fit measure is the one raw data with those moments would give (Jöreskog 1967; Bollen 1989, ch. 4). What needs the
rows themselves — robust (sandwich) standard errors, the scaled test, the bootstrap, FIML, factor scores — is not
available from summary statistics.

This module checks and converts the input (:func:`sample_statistics`). A correlation matrix from a paper becomes a
covariance matrix with the published standard deviations: ``cor * np.outer(sd, sd)``.

Example
-------
>>> import pandas as pd
>>> S = pd.DataFrame([[2.0, 0.5], [0.5, 1.0]], index=["x", "y"], columns=["x", "y"])
>>> stats = sample_statistics(S, None, 101)
>>> stats.names, stats.nobs, float(stats.covs[0][0, 0])   # 2.0 * 100 / 101
(('x', 'y'), (101,), 1.9801980198019802)
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError, SchemaError


@dataclass(frozen=True)
class SampleStatistics:
    """Summary-statistics input (lavaan's ``sample.cov``, ``sample.mean``, ``sample.nobs``), one entry per group:
    covariance matrices rescaled to divisor n (lavaan's ``sample.cov.rescale = TRUE``), means (None when not
    given) and sizes, for the variables ``names``; ``group_labels`` names the groups."""

    names: tuple[str, ...]
    covs: tuple[np.ndarray, ...]
    means: tuple[np.ndarray | None, ...]
    nobs: tuple[int, ...]
    group_labels: tuple[Hashable, ...]

    @property
    def has_means(self) -> bool:
        return all(m is not None for m in self.means)


def _per_group(value: Any, labels: list[Hashable], what: str) -> list[Any]:
    if isinstance(value, Mapping):
        missing = [lab for lab in labels if lab not in value]
        if missing:
            raise OptionError(f"{what} has no entry for group(s) {missing}; give one per group of sample_cov")
        return [value[lab] for lab in labels]
    if len(labels) > 1 or isinstance(value, (list, tuple)) and not _is_vector(value):
        if not isinstance(value, (list, tuple)) or len(value) != len(labels):
            length = "" if not hasattr(value, "__len__") else f" of length {len(value)}"
            raise OptionError(f"{what} must give one entry per group ({len(labels)} covariance matrices), found "
                              f"{type(value).__name__}{length}")
        return list(value)
    return [value]


def _is_vector(value: Any) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) for v in value)


def sample_statistics(sample_cov: Any, sample_mean: Any, sample_nobs: Any) -> SampleStatistics:
    """Check and convert lavaan-style summary statistics.

    Parameters
    ----------
    sample_cov : DataFrame, list of DataFrame or dict of DataFrame
        Covariance matrix (divisor n − 1) with the variable names as index and columns; one per group as a list
        (groups numbered 1, 2, ...) or a dict (its keys are the group labels).
    sample_mean : Series, sequence, dict or None
        Means (a Series indexed by name, a dict name → mean, or numbers in the order of the matrix's columns), one
        per group like ``sample_cov``; None when the model has no mean structure.
    sample_nobs : int or sequence of int
        Number of observations (per group).

    Returns
    -------
    SampleStatistics

    Raises
    ------
    SchemaError
        A matrix that is not square, symmetric and positive definite, names that differ between groups or from the
        means, means that are not finite.
    OptionError
        Missing or mismatched ``sample_nobs``, or a count per group that does not match.
    """
    if isinstance(sample_cov, Mapping):
        labels: list[Hashable] = list(sample_cov)
        covs_in = [sample_cov[k] for k in labels]
    elif isinstance(sample_cov, (list, tuple)):
        covs_in = list(sample_cov)
        labels = list(range(1, len(covs_in) + 1))
    else:
        covs_in, labels = [sample_cov], [1]
    if sample_nobs is None:
        raise OptionError("sample_cov needs sample_nobs= (the number of observations behind the matrix), as "
                          "lavaan's sample.nobs")
    nobs_in = _per_group(sample_nobs, labels, "sample_nobs")
    means_in = [None] * len(labels) if sample_mean is None else _per_group(sample_mean, labels, "sample_mean")
    problems: list[str] = []
    names: list[str] | None = None
    covs: list = []
    means: list = []
    nobs: list = []
    for lab, cov, mean, n in zip(labels, covs_in, means_in, nobs_in):
        where = "" if len(labels) == 1 else f" (group {lab!r})"
        if not isinstance(cov, pd.DataFrame):
            raise SchemaError([f"sample_cov{where} must be a pandas DataFrame with the variable names as index and "
                               f"columns, found {type(cov).__name__}"], source="fit_sem")
        cols = [str(c) for c in cov.columns]
        if [str(i) for i in cov.index] != cols:
            problems.append(f"sample_cov{where}: index {list(cov.index)} differs from the columns {cols}")
            continue
        if names is None:
            names = cols
        elif cols != names:
            problems.append(f"sample_cov{where}: variables {cols} differ from the first group's {names}")
            continue
        values = cov.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)):
            problems.append(f"sample_cov{where} has missing or infinite entries")
            continue
        if not np.allclose(values, values.T, rtol=1e-8, atol=1e-12 * np.abs(values).max()):
            problems.append(f"sample_cov{where} is not symmetric")
            continue
        try:
            np.linalg.cholesky(values)
        except np.linalg.LinAlgError:
            problems.append(f"sample_cov{where} is not positive definite (a variable is constant or a linear "
                            "combination of others)")
            continue
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
            raise OptionError(f"sample_nobs{where}={n!r} must be a whole number of at least 2")
        n = int(n)
        covs.append(values * (n - 1) / n)
        nobs.append(n)
        if mean is None:
            means.append(None)
            continue
        if isinstance(mean, (pd.Series, Mapping)):
            series = pd.Series(mean, dtype=float)
            absent = [c for c in cols if c not in series.index]
            if absent:
                problems.append(f"sample_mean{where} has no mean for {absent}")
                continue
            m = series[cols].to_numpy(dtype=float)
        else:
            m = np.asarray(mean, dtype=float).ravel()
            if len(m) != len(cols):
                problems.append(f"sample_mean{where} has {len(m)} entries for {len(cols)} variables")
                continue
        if not np.all(np.isfinite(m)):
            problems.append(f"sample_mean{where} has missing or infinite entries")
            continue
        means.append(m)
    if problems:
        raise SchemaError(problems, source="fit_sem")
    if any(m is None for m in means) and any(m is not None for m in means):
        raise OptionError("sample_mean= must give means for every group or for none")
    return SampleStatistics(names=tuple(names or ()), covs=tuple(covs), means=tuple(means), nobs=tuple(nobs),
                            group_labels=tuple(labels))


def check_sample_options(*, group: str | None, missing: str, se: str, estimator: str,
                         sample_mean: Sequence[Any] | None, meanstructure: bool | None) -> None:
    """Options that need the rows (an :class:`OptionError` saying so) or contradict the summary statistics."""
    if group is not None:
        raise OptionError("group= names a column of the data; with summary statistics give one matrix per group in "
                          "sample_cov=[...] (or a dict label -> matrix)")
    if missing == "fiml":
        raise OptionError("missing='fiml' needs the rows of the data; summary statistics are complete by definition")
    if estimator == "MLR" or se in ("robust", "robust.sem", "robust.huber.white", "bootstrap"):
        raise OptionError("robust standard errors, the scaled test and the bootstrap need the rows of the data; "
                          "with sample_cov= use estimator='ML' and se='standard'")
    if meanstructure and sample_mean is None:
        raise OptionError("meanstructure=True with summary statistics needs sample_mean=")
