"""Heat map of a lag-sequential table: adjusted residuals of given → target transitions.

Draws :class:`allianceStats.process.sequential.LagSequentialResult` as a given (rows) × target (columns) matrix
coloured by the adjusted residual (Allison & Liker 1982; Bakeman & Quera 2011), on a diverging scale symmetric
around 0 (blue: less often than expected, red: more often), each cell printed with its value and a ``*`` where
|z| exceeds the two-sided critical value at ``alpha``. Structural zeros (NaN) are left blank.

Example
-------
>>> import pandas as pd
>>> m = pd.DataFrame([[2.5, -1.0], [-0.5, 0.3]], index=["Q", "R"], columns=["Q", "R"])
>>> fig = plot_transitions(m)
>>> fig.axes[0].get_xlabel()
'Target'
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..data.checks import check_alpha
from ..errors import OptionError
from ..formatting import format_number
from ._canvas import figure, style_context

__all__ = ["plot_transitions"]


def plot_transitions(lag_result, ax=None, *, column: str = "adjusted_residual", alpha: float = 0.05,
                     title: str | None = None):
    """Heat map of one statistic of a lag-sequential result (default: adjusted residuals).

    Parameters
    ----------
    lag_result : LagSequentialResult or DataFrame
        ``lag_sequential(...)``'s result, or a square given × target matrix.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (default: a figure sized to the number of codes).
    column : str
        The statistic: ``adjusted_residual`` (default), ``transitional_probability``, ``yules_q``, ``observed``.
    alpha : float
        Test level marking cells with ``*`` (adjusted residuals only).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats.process import lag_sequential
    >>> ev = pd.DataFrame({"client": "a", "session": 1, "order": range(1, 9),
    ...                    "code": ["Q", "CT", "R", "CT", "Q", "ST", "R", "CT"]})
    >>> fig = plot_transitions(lag_sequential(ev))
    >>> len(fig.axes)   # the map and its colour bar
    2
    """
    alpha = check_alpha(alpha)
    if isinstance(lag_result, pd.DataFrame):
        matrix = lag_result
    elif hasattr(lag_result, "matrix"):
        matrix = lag_result.matrix(column)
    else:
        raise OptionError(f"plot_transitions takes a lag-sequential result or a given x target matrix; got "
                          f"{type(lag_result).__name__}.")
    values = matrix.to_numpy(float)
    k_rows, k_cols = values.shape
    residual = column == "adjusted_residual"
    with style_context():
        size = min(8.5, max(3.6, 0.55 * max(k_rows, k_cols) + 2.2))
        fig, ax = figure(size + 1.0, size, ax)
        finite = values[np.isfinite(values)]
        if residual:
            vmax = max(2.5, float(np.abs(finite).max()) if finite.size else 1.0)
            vmin, cmap = -vmax, "RdBu_r"
        else:
            vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            cmap = "Greys"
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="equal")
        crit = stats.norm.ppf(1 - alpha / 2)
        fontsize = 8.5 if max(k_rows, k_cols) <= 8 else 7.5
        for i in range(k_rows):
            for j in range(k_cols):
                v = values[i, j]
                if not np.isfinite(v):
                    continue
                digits = 0 if column == "observed" else 2 if abs(v) < 10 else 1
                text = format_number(v, digits) + ("*" if residual and abs(v) > crit else "")
                dark = abs(v) > 0.6 * max(abs(vmin), abs(vmax)) if residual else (v - vmin) > 0.6 * (vmax - vmin)
                ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                        color="white" if dark else "black")
        ax.set_xticks(range(k_cols), [str(c) for c in matrix.columns], rotation=45 if k_cols > 6 else 0,
                      ha="right" if k_cols > 6 else "center")
        ax.set_yticks(range(k_rows), [str(r) for r in matrix.index])
        lag = getattr(lag_result, "lag", None)
        ax.set_xlabel("Target" + (f" (lag {lag})" if lag not in (None, 1) else ""))
        ax.set_ylabel("Given")
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        bar.set_label({"adjusted_residual": "adjusted residual (z)", "transitional_probability":
                       "transitional probability", "yules_q": "Yule's Q"}.get(column, column))
        if residual:
            ax.set_title(title or f"* |z| > {crit:.2f} (p < {format_number(alpha, 2, bounded=True)})", fontsize=9)
        elif title:
            ax.set_title(title)
    return fig
