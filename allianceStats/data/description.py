"""Describe a session table: design counts, attendance and dropout, and per-measure missingness.

Counts only — no model is fitted here (ICCs come from :func:`allianceStats.icc`, a mixed model).
Dropout rate = clients with ``dropout == 1`` on some row / all clients; attendance = attended sessions /
sessions scheduled up to each client's last session (gaps are missed sessions).

Example
-------
>>> from allianceStats.data.example import load_example
>>> from allianceStats import describe
>>> desc = describe(load_example())
>>> int(desc.overview.loc["clients", "value"]), int(desc.overview.loc["therapists", "value"])
(200, 20)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..errors import SchemaError
from .checks import first_labels, require_columns


@dataclass(frozen=True)
class Description:
    """``overview``: one value per design quantity; ``measures``: one row per numeric measure."""

    overview: pd.DataFrame
    measures: pd.DataFrame

    def summary(self) -> str:
        """Plain-text summary for the terminal."""
        ov = self.overview["value"]
        lines = [f"{int(ov['clients'])} clients"
                 + (f" of {int(ov['therapists'])} therapists" if "therapists" in ov else "")
                 + f", {int(ov['sessions'])} attended sessions "
                 f"({ov['sessions_per_client_mean']:.1f} per client, range {int(ov['sessions_per_client_min'])}"
                 f"–{int(ov['sessions_per_client_max'])}); attendance {ov['attendance']:.1%}."]
        if "dropouts" in ov:
            lines.append(f"Dropout: {int(ov['dropouts'])} clients ({ov['dropout_rate']:.1%}).")
        m = self.measures
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            lines.append(m.round(3).to_string())
        return "\n".join(lines)


@renamed_arguments(df="data", time="session")
def describe(data: pd.DataFrame, columns=None, *, client: str = "client", therapist: str | None = "therapist",
             session: str = "session", event: str | None = "dropout") -> Description:
    """Design counts, attendance, dropout and per-measure missingness of a session table.

    Counts only (definitions in the module docstring); no model is fitted.

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table (not modified; ``df=`` is the old name).
    columns : list of str, optional
        Measures to describe; default every numeric column except identifiers, the session number, the event
        and WAI-SR items.
    client, session : str
        Client-id and session-number columns (required; ``time=`` is the old name of ``session=``).
    therapist, event : str or None
        Therapist and dropout columns; left out of the overview when absent from the table.

    Returns
    -------
    Description
        ``overview`` (one value per design quantity) and ``measures`` (one row per measure).

    Raises
    ------
    SchemaError
        ``data`` is not a DataFrame, has no rows, or the client or session column (or a named measure) is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 3, 1], "y": [1.0, None, 2.0]})
    >>> int(describe(d, therapist=None, event=None).measures.loc["y", "missing"])
    1
    """
    if isinstance(columns, str):
        columns = [columns]
    require_columns(data, [client, session, *(columns or [])], where="describe")
    if len(data) == 0:
        raise SchemaError([f"data has no rows (columns {first_labels(map(str, data.columns), limit=10)}); describe() "
                           "needs at least one session — check the file or the filter that produced the table"],
                          source="describe")
    therapist = therapist if therapist in data.columns else None
    event = event if event in data.columns else None
    per_client = data.groupby(client, sort=False)[session]
    n_sess = per_client.size()
    scheduled = per_client.max().sum()
    ov = {"clients": data[client].nunique(), "sessions": len(data),
          "sessions_per_client_mean": n_sess.mean(), "sessions_per_client_min": n_sess.min(),
          "sessions_per_client_max": n_sess.max(), "attendance": len(data) / scheduled if scheduled else np.nan}
    if therapist:
        ov["therapists"] = data[therapist].nunique()
        ov["clients_per_therapist_mean"] = data.groupby(therapist)[client].nunique().mean()
    if event:
        drop = data.groupby(client, sort=False)[event].max()
        ov["dropouts"] = int(drop.sum())
        ov["dropout_rate"] = float(drop.mean())
    overview = pd.DataFrame({"value": pd.Series(ov, dtype=float)})
    if columns is None:
        skip = {client, session, therapist, event, f"{session}0"}
        item = re.compile(r"^wai_\d+$")
        columns = [c for c in data.columns if c not in skip and pd.api.types.is_numeric_dtype(data[c])
                   and not item.match(str(c))]
    rows = {}
    for c in columns:
        x = data[c]
        all_missing = x.isna().groupby(data[client], sort=False).all()
        rows[c] = {"n": int(x.notna().sum()), "missing": int(x.isna().sum()), "missing_share": float(x.isna().mean()),
                   "clients_all_missing": int(all_missing.sum()), "mean": x.mean(), "sd": x.std(),
                   "min": x.min(), "max": x.max()}
    measures = pd.DataFrame.from_dict(rows, orient="index")
    return Description(overview=overview, measures=measures)
