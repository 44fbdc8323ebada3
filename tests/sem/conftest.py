"""Helpers shared by the ordinal SEM tests (lavaan comparisons, Jacobian checks).

pytest runs with ``--import-mode=importlib``, so test modules cannot import each other: the helpers reach them
through fixtures that return the function or constant.
"""
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.sem import fit_sem
from allianceStats.sem.wls import group_moments

ORDINAL_FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
# lavaan fit measures compared at 1e-5 (exact) and at 1e-4 relative, 1e-6 absolute (scaled statistics and indices)
FIT_EXACT = ("chisq", "df", "baseline.chisq", "baseline.df", "npar")
FIT_SCALED = ("chisq.scaled", "df.scaled", "pvalue", "pvalue.scaled", "chisq.scaling.factor", "chisq.shift.parameter",
              "baseline.chisq.scaled", "baseline.chisq.scaling.factor", "cfi", "tli", "cfi.scaled", "tli.scaled",
              "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.scaled", "rmsea.ci.lower.scaled",
              "rmsea.ci.upper.scaled", "srmr")


def _fit_lavaan_case(case, **overrides):
    """Fit a fixture case (``case["args"]`` as the R script recorded them) with every warning recorded.

    ``overrides`` replace fit_sem arguments; a callable ``ordered`` receives the data. Returns (fit, caught).
    """
    args = case["args"]
    data = pd.read_csv(ORDINAL_FIX / args["data"])
    kw = {"ordered": args.get("ordered"), "estimator": args.get("estimator"),
          "parameterization": args["parameterization"], "group": args.get("group")}
    if "missing" in args:
        kw["missing"] = args["missing"]
    kw.update(overrides)
    if callable(kw["ordered"]):
        kw["ordered"] = kw["ordered"](data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_sem(data, case["model"], **kw)
    return res, caught


def _check_fit_measures(fit, ref, *, skip_none=False, exact_abs=None):
    """Assert lavaan's fit measures ``ref`` equal ours (``fit``); returns how many were compared.

    FIT_EXACT must be in ``ref`` (1e-5 relative, ``exact_abs`` absolute); FIT_SCALED ones absent from ``ref`` are
    skipped. ``skip_none``: skip any measure that ``ref`` lacks or holds as None.
    """
    checked = 0
    for name in FIT_EXACT + FIT_SCALED:
        exact = name in FIT_EXACT
        if (skip_none and ref.get(name) is None) or (not exact and name not in ref):
            continue
        ours = fit[name.replace(".", "_")]
        if exact:
            assert ours == pytest.approx(ref[name], rel=1e-5, abs=exact_abs), name
        else:
            assert ours == pytest.approx(ref[name], rel=1e-4, abs=1e-6), name
        checked += 1
    return checked


def _match_lavaan_params(res, case):
    """Our params joined to lavaan's on (lhs, op, rhs, group); covariances matched in either orientation."""
    ref = pd.DataFrame(case["params"])
    flip = ref[ref["op"] == "~~"].rename(columns={"lhs": "rhs", "rhs": "lhs"})
    ref = pd.concat([ref, flip[flip["lhs"] != flip["rhs"]]], ignore_index=True)
    merged = res.params.merge(ref, on=["lhs", "op", "rhs", "group"], suffixes=("", "_lav"))
    assert len(merged) == len(case["params"]) == len(res.params), "every lavaan row has exactly one of ours"
    return merged


def _merge_lavaan_params(res, case):
    """lavaan's params left-joined to ours (every lavaan row must find one; ``x1 ~~ x2`` written either way)."""
    ref = pd.DataFrame(case["params"])
    ours = res.params.copy()
    swapped = ours[ours["op"] == "~~"].rename(columns={"lhs": "rhs", "rhs": "lhs"})   # x1 ~~ x2 written either way
    ours = pd.concat([ours, swapped]).drop_duplicates(["lhs", "op", "rhs", "group"])
    m = ref.merge(ours, on=["lhs", "op", "rhs", "group"], how="left", validate="one_to_one")
    assert m["estimate"].notna().all(), m.loc[m["estimate"].isna(), ["lhs", "op", "rhs"]]
    return m


def _check_lavaan_params(res, case, min_free):
    """Estimates and std.all within 1e-5 · max(|lavaan|, 1), SEs within 1e-4 relative, ≥ ``min_free`` free."""
    m = _merge_lavaan_params(res, case)
    tol = 1e-5 * np.maximum(np.abs(m["est"]), 1.0)
    np.testing.assert_array_less(np.abs(m["estimate"] - m["est"]), tol)
    np.testing.assert_array_less(np.abs(m["std_all"] - m["std.all"]), 1e-5 * np.maximum(np.abs(m["std.all"]), 1.0))
    free = m["se"] > 0
    assert free.sum() >= min_free
    np.testing.assert_array_less(np.abs(m.loc[free, "std_error"] - m.loc[free, "se"]) / m.loc[free, "se"], 1e-4)
    assert (m.loc[~free, "std_error"].fillna(0) == 0).all()


def _check_jacobian_by_central_differences(problem, theta, parameterization):
    """The analytic Jacobian of every group's moments equals central differences (step 1e-6) within 1e-7."""
    for gm, lay in zip(problem.models, problem.layouts):
        _, J = group_moments(gm, lay, theta, parameterization)
        num = np.zeros_like(J)
        for k in range(len(theta)):
            e = np.zeros_like(theta)
            e[k] = 1e-6
            up, _ = group_moments(gm, lay, theta + e, parameterization, jacobian=False)
            down, _ = group_moments(gm, lay, theta - e, parameterization, jacobian=False)
            num[k] = (up - down) / 2e-6
        np.testing.assert_allclose(J, num, atol=1e-7)


@pytest.fixture(scope="session")
def fit_measure_names():
    """(FIT_EXACT, FIT_SCALED): the lavaan fit measures the ordinal tests compare."""
    return FIT_EXACT, FIT_SCALED


@pytest.fixture(scope="session")
def fit_lavaan_case():
    return _fit_lavaan_case


@pytest.fixture(scope="session")
def check_fit_measures():
    return _check_fit_measures


@pytest.fixture(scope="session")
def match_lavaan_params():
    return _match_lavaan_params


@pytest.fixture(scope="session")
def check_lavaan_params():
    return _check_lavaan_params


@pytest.fixture(scope="session")
def check_jacobian_by_central_differences():
    return _check_jacobian_by_central_differences
