"""Helpers of the panel tests: reference locations and parsers of lavaan's printed output.

Reference numbers are never typed here: they are parsed from ``lavaan-0.6.14-output.txt`` and the README of
``reference/riclpm-tutorial`` (the in-repository copy of the tutorial's data and lavaan output) or read from the
JSON that ``fixtures/make_fixtures.R`` wrote with lavaan.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parents[1]
TUTORIAL = REPO / "reference" / "riclpm-tutorial"
TUTORIAL_COLUMNS = {"x": [f"x{t}" for t in range(1, 6)], "y": [f"y{t}" for t in range(1, 6)]}
_XY = [f"x{t}" for t in range(1, 6)] + [f"y{t}" for t in range(1, 6)]


def _num(tok: str):
    if tok == "NA":
        return None
    try:
        return float(tok)
    except ValueError:
        return "label"


def parse_lavaan_output(path: Path) -> dict[str, dict]:
    """Sections ``######## NAME ########`` of the printed tutorial output -> fit measures and parameter rows.

    Each parameter row is a dict with lhs, op, rhs, group (1 when single-group), label, and the printed
    numeric columns (est, se, z, pvalue, std.all). Wrapped columns (printed in a second block) are joined.
    """
    sections: dict[str, dict] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^#{8} (.+?) #{8}$", lines[i])
        if not m:
            i += 1
            continue
        name = m.group(1)
        fit: dict[str, float] = {}
        rows: list[dict] = []
        header: list[str] = []
        wrapped: list[str] = []
        wrap_i = 0
        i += 1
        while i < len(lines) and not lines[i].startswith("########") and not lines[i].startswith("converged"):
            toks = lines[i].split()
            if toks and toks[0] in ("npar", "logl") and i + 1 < len(lines):
                fit.update(zip(toks, map(float, lines[i + 1].split())))
                i += 2
                continue
            if toks[:3] == ["lhs", "op", "rhs"]:
                header = toks
            elif header and len(toks) == 1 and not rows[-1:] == [] and _num(toks[0]) == "label":
                wrapped, wrap_i = toks, 0  # a second block of columns (e.g. std.all) follows
            elif wrapped and len(toks) == len(wrapped):
                for col, tok in zip(wrapped, toks):
                    rows[wrap_i][col] = _num(tok)
                wrap_i += 1
            elif header and len(toks) >= 3:
                row = {"lhs": toks[0], "op": toks[1]}
                rest = toks[2:]
                if row["op"] == "~1":
                    row["rhs"] = ""
                else:
                    row["rhs"], rest = rest[0], rest[1:]
                row["group"] = 1
                if "group" in header:
                    row["group"], rest = int(rest[0]), rest[1:]
                row["label"] = ""
                if "label" in header and rest and _num(rest[0]) == "label":
                    row["label"], rest = rest[0], rest[1:]
                numeric = [h for h in header if h not in ("lhs", "op", "rhs", "group", "label")]
                row.update({h: _num(t) for h, t in zip(numeric, rest)})
                rows.append(row)
            i += 1
        sections[name] = {"fit": fit, "params": rows}
    return sections


def tutorial_name(name: str) -> str:
    """The tutorial's names (RIx, wx1) in our naming (RI_x, w_x1); observed names are unchanged."""
    if re.fullmatch(r"RI[xy]", name):
        return f"RI_{name[2]}"
    if re.fullmatch(r"w[xy]\d", name):
        return f"w_{name[1:]}"
    return name


def read_tutorial_data(tutorial_dir: Path, file: str) -> pd.DataFrame:
    extra = {"RICLPM.dat": [], "RICLPM-Z.dat": ["z2", "z1"], "RICLPM-MG.dat": ["G"]}[file]
    return pd.read_csv(tutorial_dir / file, sep=r"\s+", header=None, names=_XY + extra)



def lavaan_params(model: dict) -> pd.DataFrame:
    """Parameter rows of one lavaan fixture model as a DataFrame."""
    df = pd.DataFrame(model["params"])
    df["label"] = df["label"].fillna("")
    return df
