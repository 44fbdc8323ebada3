"""Deprecated: ``panel_wide`` is now :func:`allianceStats.to_wide` (one reshaping function; removed in 0.3.0).

Example
-------
>>> import warnings
>>> import pandas as pd
>>> long = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 2, 1], "alliance": [3.0, 3.5, 4.0]})
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore", FutureWarning)
...     panel_wide(long, ["alliance"]).equals(to_wide(long, "alliance"))
True
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .._deprecation import warn_renamed
from ..data.reshape import to_wide

__all__ = ["panel_wide"]


def panel_wide(data: pd.DataFrame, variables: str | Sequence[str], *, client: str = "client",
               wave: str = "session", waves: Sequence[Any] | None = None,
               keep: str | Sequence[str] = ()) -> pd.DataFrame:
    """Deprecated alias of :func:`allianceStats.to_wide` (``wave=`` is now ``session=``; removed in 0.3.0).

    Returns the table in the layout it always had: the client column, ``<variable>_<wave>`` columns, then the
    ``keep`` columns, clients sorted by their text; :func:`~allianceStats.to_wide` puts ``keep`` before the
    measures and keeps clients in order of appearance.

    >>> import warnings
    >>> import pandas as pd
    >>> long = pd.DataFrame({"client": ["b", "a"], "session": [1, 1], "x": [1.0, 2.0], "arm": ["t", "c"]})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     panel_wide(long, "x", waves=[1, 2], keep="arm").columns.tolist()
    ['client', 'x_1', 'x_2', 'arm']
    """
    warn_renamed("panel_wide(..., wave=)", "to_wide(..., session=)", stacklevel=4)
    keep = [keep] if isinstance(keep, str) else list(keep)
    out = to_wide(data, variables, client=client, session=wave, waves=waves, keep=keep)
    out = out[[client, *[c for c in out.columns if c != client and c not in keep], *keep]]
    order = sorted(range(len(out)), key=lambda i: str(out[client].iloc[i]))
    return out.iloc[order].reset_index(drop=True)
