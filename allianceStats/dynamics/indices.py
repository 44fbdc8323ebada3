"""Per-client level, variability and instability of a session-by-session score.

Definitions (client *i*, observed scores :math:`x_{it}` at session numbers *t*; missing scores are dropped)
--------------------------------------------------------------------------------------------------------------
``mean``      :math:`\\bar x_i`, the level.
``sd``        within-client standard deviation, ddof = 1 (NaN with fewer than 2 scores).
``mssd``      mean square successive difference (von Neumann et al., 1941; Jahng, Wood & Trull, 2008),
              :math:`\\frac{1}{|D_i|}\\sum_{t \\in D_i} (x_{i,t+1} - x_{it})^2` over the set :math:`D_i` of
              *consecutive* session pairs (*t*, *t* + 1) both observed. A difference across a missed session is
              **not** used: it spans two steps and would inflate the index (Jahng et al. 2008 discuss
              time-adjusted alternatives). ``n_successive`` = :math:`|D_i|`; NaN when it is 0.
``rmssd``     :math:`\\sqrt{\\text{mssd}}`, on the scale of the score.
``slope``     ordinary least-squares slope of the score on the session number (all observed scores; NaN with
              fewer than 2 distinct sessions).
``pac``       probability of acute change (Jahng et al., 2008): the proportion of the successive differences in
              :math:`D_i` whose size reaches a cut-off *c*: :math:`|d| \\ge c` (``pac_direction="both"``),
              :math:`d \\le -c` (``"decrease"``: acute drops, the alliance-rupture direction) or :math:`d \\ge c`
              (``"increase"``). *c* is ``pac_cutoff`` when given (a substantive value on the score's scale is
              best); otherwise the ``pac_quantile`` (default .90) quantile of all absolute successive differences
              of the sample — a data-driven default of this package that makes *c*, and so ``pac``, depend on
              the other clients. The cut-off used is stored in ``DataFrame.attrs["pac_cutoff"]``.
``n_ruptures``, ``n_repaired``  from :func:`~allianceStats.dynamics.detect_ruptures` with ``rupture_options``;
              NaN for clients it does not screen (fewer than 3 scores, zero SD).

All indices except ``mean`` are invariant to adding a constant to a client's scores. Where no session is
missing, ``mssd`` / ``rmssd`` equal R ``psych::mssd`` / ``psych::rmssd`` (tested to 1e-10); across a missing
score psych differences the neighbouring values, which this function does not.

References
----------
von Neumann, J., Kent, R. H., Bellinson, H. R., & Hart, B. I. (1941). The mean square successive difference.
*Annals of Mathematical Statistics, 12*(2), 153-162.

Jahng, S., Wood, P. K., & Trull, T. J. (2008). Analysis of affective instability in ecological momentary
assessment: Indices using successive difference and group comparison via multilevel modeling. *Psychological
Methods, 13*(4), 354-375.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..data.checks import check_choice, check_fraction, check_number
from ..errors import IdentificationError
from ._table import session_table
from .rupture import detect_ruptures

COLUMNS = ["client", "n_scores", "mean", "sd", "mssd", "rmssd", "n_successive", "slope", "pac", "n_ruptures",
           "n_repaired"]


def successive_differences(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Differences :math:`x_{t+1} - x_t` between consecutive session numbers only (sorted input).

    A difference across a missed session is left out (Jahng, Wood & Trull 2008; see the module docstring).

    Parameters
    ----------
    s : numpy.ndarray
        Session numbers of one client, increasing.
    x : numpy.ndarray
        The scores at those sessions.

    Returns
    -------
    numpy.ndarray
        One difference per pair of consecutive session numbers.

    Examples
    --------
    >>> successive_differences(np.array([1, 2, 3, 5, 6]), np.array([4.0, 3.0, 3.5, 1.0, 2.0]))
    array([-1. ,  0.5,  1. ])
    """
    step = np.diff(s) == 1
    return np.diff(x)[step]


@renamed_arguments(time="session")
def variability(data: pd.DataFrame, column: str = "alliance", *, client: str = "client", session: str = "session",
                pac_cutoff: float | None = None, pac_quantile: float = 0.90, pac_direction: str = "both",
                rupture_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Per-client mean, within-client SD, MSSD, RMSSD, slope, probability of acute change, ruptures and repairs.

    Definitions, the handling of missed sessions (successive differences only between consecutive session
    numbers) and references (von Neumann et al. 1941; Jahng, Wood & Trull 2008; ruptures: Stiles et al. 2004)
    are in the module docstring (:mod:`allianceStats.dynamics.indices`).

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table (not modified).
    column : str
        The score.
    client, session : str
        Client-id and session-number columns (``time=`` is the old name of ``session=``).
    pac_cutoff : float, optional
        Size of an acute change in score units; default: the ``pac_quantile`` quantile of all absolute
        successive differences in ``data``.
    pac_quantile : float
        Quantile used when ``pac_cutoff`` is not given (default 0.90).
    pac_direction : {"both", "decrease", "increase"}
        Which acute changes count.
    rupture_options : mapping, optional
        Keyword arguments for :func:`detect_ruptures` (e.g. ``{"sd": "pooled", "k": 1}``).

    Returns
    -------
    pandas.DataFrame
        One row per client with at least one observed score: ``client, n_scores, mean, sd, mssd, rmssd,
        n_successive, slope, pac, n_ruptures, n_repaired``; ``attrs["pac_cutoff"]`` holds the cut-off used.

    Raises
    ------
    SchemaError
        A column is missing or not numeric, a session number or client id is missing, a pair repeats.
    OptionError
        An option outside its choices or range.
    IdentificationError
        No ``pac_cutoff`` was given and the sample has no change between consecutive sessions.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"client": ["a"] * 5 + ["b"] * 4, "session": [1, 2, 3, 5, 6, 1, 2, 3, 4],
    ...                    "alliance": [4.0, 3.0, 3.5, 1.0, 2.0, 3.0, 3.2, 3.4, 3.6]})
    >>> v = variability(df, pac_cutoff=1.0)
    >>> v[["client", "mean", "mssd", "n_successive", "slope", "pac"]].round(3)
      client  mean  mssd  n_successive  slope    pac
    0      a   2.7  0.75             3 -0.488  0.667
    1      b   3.3  0.04             3  0.200  0.000
    """
    check_choice("pac_direction", pac_direction, ("both", "decrease", "increase"))
    if pac_cutoff is not None:
        check_number("pac_cutoff", pac_cutoff, minimum=0, strict=True, hint="a size of change in score units")
    check_fraction("pac_quantile", pac_quantile)
    df = session_table(data, [column], client=client, session=session, where="variability")
    df = df[df[column].notna()]
    per_client = []
    for cid, g in df.groupby(client, sort=True):
        s = g[session].to_numpy(dtype=float)
        x = g[column].to_numpy(dtype=float)
        per_client.append((cid, s, x, successive_differences(s, x)))
    if pac_cutoff is None:
        pooled = np.concatenate([np.abs(d) for *_, d in per_client]) if per_client else np.empty(0)
        cutoff = float(np.quantile(pooled, pac_quantile)) if len(pooled) else np.nan
        if not cutoff > 0:
            raise IdentificationError(
                f"the {pac_quantile:g} quantile of the absolute successive differences of {column!r} is "
                f"{cutoff!r}; too few or no changes between consecutive sessions — pass pac_cutoff= explicitly")
    else:
        cutoff = float(pac_cutoff)

    rows = []
    for cid, s, x, d in per_client:
        n = len(x)
        if pac_direction == "both":
            acute = np.abs(d) >= cutoff
        elif pac_direction == "decrease":
            acute = d <= -cutoff
        else:
            acute = d >= cutoff
        mssd = float(np.mean(d ** 2)) if len(d) else np.nan
        slope = float(np.polyfit(s, x, 1)[0]) if len(np.unique(s)) >= 2 else np.nan
        rows.append({"client": cid, "n_scores": n, "mean": float(x.mean()),
                     "sd": float(x.std(ddof=1)) if n >= 2 else np.nan, "mssd": mssd, "rmssd": np.sqrt(mssd),
                     "n_successive": len(d), "slope": slope, "pac": float(acute.mean()) if len(d) else np.nan})
    out = pd.DataFrame(rows, columns=COLUMNS[:-2])
    rup = detect_ruptures(data, column, client=client, session=session, **dict(rupture_options or {})).clients
    out = out.merge(rup[["client", "n_ruptures", "n_repaired"]], on="client", how="left")
    out = out.astype({"client": data[client].dtype})
    out.attrs["pac_cutoff"] = cutoff
    out.attrs["pac_direction"] = pac_direction
    return out
