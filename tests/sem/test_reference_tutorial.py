"""RI-CLPM tutorial data (Mulder & Hamaker 2021) against the lavaan 0.6.14 output in reference/riclpm-tutorial.

The reference text prints estimates and SEs with 8 decimals and fit measures with 3, so the tolerances are
set by the printing: estimates and SEs 2e-7 absolute, std.all 2e-6, fit measures 6e-4 (half a unit in the
last printed digit plus our own error). The data and output are committed (reference/riclpm-tutorial/README.md).
"""
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.sem import compare_sem, fit_sem

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from generate_data import riclpm_syntax  # noqa: E402

REF = Path(__file__).resolve().parents[2] / "reference" / "riclpm-tutorial"
pytestmark = pytest.mark.skipif(not (REF / "lavaan-0.6.14-output.txt").exists(),
                                reason="reference/riclpm-tutorial is missing from this checkout")


def _block(title):
    text = (REF / "lavaan-0.6.14-output.txt").read_text()
    start = text.index(f"######## {title} ########")
    ends = [i for i in (text.find("########", start + len(title) + 20), text.find("LRT", start)) if i > 0]
    end = min(ends) if ends else len(text)
    lines = text[start:end].splitlines()[1:]
    fit = {}
    i = 0
    while not lines[i].lstrip().startswith("lhs"):
        names, values = lines[i].split(), lines[i + 1].split()
        fit.update(zip(names, map(float, values)))
        i += 2
    rows = []
    for line in lines[i + 1:]:
        tok = line.split()
        if len(tok) < 6 or tok[1] not in ("=~", "~", "~~", "~1"):
            continue
        lhs, op = tok[0], tok[1]
        rest = tok[2:] if op != "~1" else [""] + tok[2:]
        num = [np.nan if v == "NA" else float(v) for v in rest[1:]]
        rows.append({"lhs": lhs, "op": op, "rhs": rest[0], "est": num[0], "se": num[1], "std.all": num[-1]})
    return fit, pd.DataFrame(rows)


def _data():
    cols = [f"x{t}" for t in range(1, 6)] + [f"y{t}" for t in range(1, 6)]
    return pd.read_csv(REF / "RICLPM.dat", sep=r"\s+", header=None, names=cols)


def _clpm_syntax():
    lines = ["x1 ~~ y1"]
    for t in range(2, 6):
        lines += [f"x{t} ~ x{t - 1} + y{t - 1}", f"y{t} ~ x{t - 1} + y{t - 1}", f"x{t} ~~ y{t}"]
    lines += [f"{v}{t} ~~ {v}{t}" for t in range(1, 6) for v in "xy"]
    lines += [f"{v}{t} ~ 1" for t in range(1, 6) for v in "xy"]
    return "\n".join(lines)


_fits = {}


def _fit(name):
    if name not in _fits:
        model = riclpm_syntax(5) if name == "RICLPM.fit (basic, added)" else _clpm_syntax()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _fits[name] = fit_sem(model, _data(), defaults="none", missing="fiml")   # the reference: missing = "ML"
    return _fits[name]


@pytest.mark.parametrize("name", ["RICLPM.fit (basic, added)", "CLPM.fit"])
def test_tutorial_estimates_and_fit(name):
    fit, ref = _block(name)
    res = _fit(name)
    ours = res.params
    key = ["lhs", "op", "rhs"]
    m = ref.merge(ours, on=key, how="left")
    sw = m["estimate"].isna()
    if sw.any():
        alt = ours.rename(columns={"lhs": "rhs", "rhs": "lhs"})
        m.loc[sw, ours.columns.drop(key)] = ref[sw].merge(alt, on=key, how="left")[ours.columns.drop(key)].to_numpy()
    assert m["estimate"].notna().all()
    assert np.allclose(m["estimate"], m["est"], atol=2e-7)
    assert np.allclose(m["std_error"], m["se"], atol=2e-7)
    has = m["std.all"].notna() & np.isfinite(m["std_all"].astype(float))
    assert np.allclose(m.loc[has, "std_all"].astype(float), m.loc[has, "std.all"], atol=2e-6)
    f = res.fit
    for ours_key, ref_key in [("npar", "npar"), ("chisq", "chisq"), ("df", "df"), ("cfi", "cfi"), ("tli", "tli"),
                              ("rmsea", "rmsea"), ("srmr", "srmr"), ("loglik", "logl"), ("aic", "aic"),
                              ("bic", "bic")]:
        assert abs(f[ours_key] - fit[ref_key]) <= 6e-4, (ours_key, f[ours_key], fit[ref_key])


def test_tutorial_chisq_difference_clpm_vs_riclpm():
    text = (REF / "lavaan-0.6.14-output.txt").read_text()
    row = re.search(r"CLPM\.fit\s+24\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)", text)
    table = compare_sem(_fit("RICLPM.fit (basic, added)"), _fit("CLPM.fit")).table
    assert abs(table["chisq_diff"].iloc[1] - float(row.group(2))) <= 6e-3
    assert table["df_diff"].iloc[1] == int(row.group(4))
    assert abs(table["rmsea_diff"].iloc[1] - float(row.group(3))) <= 6e-6
