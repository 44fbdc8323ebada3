"""Scoring questionnaires: reverse keys, subscale and total scores, proration of missing items.

Scoring (:func:`score`)
    Items are taken from the user's columns (default ``<prefix>_<item>``, e.g. ``wai_1`` ... ``wai_12``),
    checked against the ranges of the instrument's scoring key (``data_schemas/instruments/*.json``),
    reverse-keyed as :math:`x' = \\min + \\max - x`, and combined into subscale and total scores, each the
    mean of its items (or their sum, for sum-scored instruments such as the Session Rating Scale).

    Proration rule for missing items: a subscale of :math:`k` items with :math:`m` items present is scored
    when :math:`m / k \\ge f` (the key's ``min_fraction``; 0.75 for the WAI-SR, BPNSFS and TSRQ, i.e. 3 of
    4 items, 9 of 12, 5 of 6) as the mean of the :math:`m` present items (a sum score is that mean times
    :math:`k`); otherwise the score is missing. The 75% threshold is a convention of this package, not a
    rule of the instruments' authors; proration and its bias (it assumes the missing items resemble the
    present ones) are discussed by Mazza, Enders & Ruehlman (2015) and Newman (2014).

The reliability of the scales (alpha, omega, within and between clients) is in
:mod:`allianceStats.data.internal_consistency`.

References
    Mazza, G. L., Enders, C. K., & Ruehlman, L. S. (2015). Addressing item-level missing data: A comparison
    of proration and full information maximum likelihood estimation. Multivariate Behavioral Research,
    50(5), 504-519.
    Newman, D. A. (2014). Missing data: Five practical guidelines. Organizational Research Methods, 17(4), 372-411.

Example
-------
>>> import numpy as np, pandas as pd
>>> import allianceStats as als
>>> rng = np.random.default_rng(1)
>>> f = rng.normal(size=(200, 1))
>>> items = pd.DataFrame(np.clip(np.rint(3 + f + rng.normal(size=(200, 12))), 1, 5),
...                      columns=[f"wai_{i}" for i in range(1, 13)])
>>> scored = als.score(items, "wai")
>>> [c for c in scored.columns if c.startswith("wai_g")]
['wai_goal', 'wai_goal_n_items']
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments, warn_renamed
from ..errors import DataWarning, OptionError
from ._items import item_matrix, resolve_columns, reverse
from .instruments import Instrument, load_instrument

__all__ = ["score"]

_ABOUT = 1e-9  # slack when comparing the fraction of present items with the proration threshold

# reliability moved to internal_consistency in 0.2.0; the old import path warns until 0.3.0
_MOVED = ("reliability", "ReliabilityResult", "cronbach_alpha", "omega_total")


def __getattr__(name: str):
    if name in _MOVED:
        from . import internal_consistency

        warn_renamed(f"allianceStats.data.scoring.{name}", f"allianceStats.data.internal_consistency.{name}")
        return getattr(internal_consistency, name)
    raise AttributeError(f"module 'allianceStats.data.scoring' has no attribute {name!r}")


def _min_fraction(key: Instrument, prorate) -> float:
    if prorate is True:
        return key.min_fraction
    if prorate is False:
        return 1.0
    if isinstance(prorate, (int, float, np.integer, np.floating)) and not isinstance(prorate, np.bool_) \
            and 0 < float(prorate) <= 1:
        return float(prorate)
    raise OptionError(f"prorate={prorate!r} is not supported; give True (the key's rule: at least "
                      f"{key.min_fraction:.0%} of a subscale's items), False (all items required) or a fraction "
                      f"in (0, 1]")


@renamed_arguments(df="data")
def score(data: pd.DataFrame, instrument, items=None, *, prorate: bool | float = True,
          prefix: str | None = None) -> pd.DataFrame:
    """Score an instrument: reverse keys, subscale and total scores, proration of missing items.

    For each subscale of the scoring key (see :mod:`allianceStats.data.instruments`), the score is the mean
    of its items after reverse keying (:math:`x' = \\min + \\max - x`), or their sum for sum-scored
    instruments. Proration: with :math:`m` of :math:`k` items present the score is computed when
    :math:`m/k \\ge f` as the mean of the present items (times :math:`k` for a sum), else it is NaN;
    :math:`f` is the key's ``min_fraction`` (0.75 for the WAI-SR, BPNSFS and TSRQ; 1 for the SRS and the
    single-item outcomes). The 75% threshold is a convention (see the module docstring; Mazza, Enders &
    Ruehlman 2015 on proration). Keys and citations: WAI-SR, Hatcher & Gillaspy (2006); SRS, Duncan et al.
    (2003); BPNSFS, Chen et al. (2015); TSRQ, Levesque et al. (2007).

    Parameters
    ----------
    data : pandas.DataFrame
        One column per item; never modified (``df=`` is the old name).
    instrument : str, path, dict or Instrument
        Name or alias of a shipped key (``"wai"``, ``"srs"``, ``"bpnsfs"``, ``"tsrq"``, ``"sud_outcomes"``), a
        path to a JSON key, a dict following ``instrument.schema.json``, or an
        :class:`~allianceStats.data.instruments.Instrument`.
    items : dict or list, optional
        Item id -> column (ids as printed on the form, ``{1: "q1"}``; ids not given keep their default
        column), or a list of columns in item order. Default: ``<prefix>_<id>``.
    prorate : bool or float
        True for the key's rule, False to require every item, or a fraction in (0, 1].
    prefix : str, optional
        Stem of the default item columns (default: the key's prefix, e.g. ``wai``).

    Returns
    -------
    pandas.DataFrame
        The columns of ``data`` followed by, per subscale, ``<instrument prefix>_<subscale>`` (the score) and
        ``<instrument prefix>_<subscale>_n_items`` (items present). An existing column of the same name is
        dropped from the copy and replaced by the score, with a DataWarning.

    Raises
    ------
    SchemaError
        Listing every missing item column and every bad cell (text, infinite, outside the item's range, a
        fraction where whole numbers are required) with column, 1-based row and, when the data have a
        ``client`` column, the client id.
    OptionError
        ``prorate`` or ``items`` has a value this function does not accept.

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats import score
    >>> d = pd.DataFrame({"client": ["a", "b"], **{f"srs_{i}": [8.5, 9.0] for i in (1, 2, 3)},
    ...                   "srs_4": [7.0, None]})
    >>> score(d, "srs")[["client", "srs_total", "srs_total_n_items"]]
      client  srs_total  srs_total_n_items
    0      a       32.5                  4
    1      b        NaN                  3
    """
    key = load_instrument(instrument)
    columns = resolve_columns(key, items, prefix)
    fraction = _min_fraction(key, prorate)
    X = reverse(item_matrix(data, key, columns, where="score"), key)
    position = {it.id: j for j, it in enumerate(key.items)}
    present = ~np.isnan(X)
    filled = np.where(present, X, 0.0)
    scores = {}
    for name, sub in key.subscales.items():
        idx = [position[i] for i in sub.items]
        k = len(idx)
        n_present = np.zeros(X.shape[0], dtype=np.int64)
        total = np.zeros(X.shape[0])
        for j in idx:
            n_present += present[:, j]
            total += filled[:, j]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n_present
        ok = (n_present > 0) & (n_present >= fraction * k - _ABOUT)
        scores[f"{key.prefix}_{name}"] = np.where(ok, mean * (k if sub.method == "sum" else 1), np.nan)
        scores[f"{key.prefix}_{name}_n_items"] = n_present
    replaced = [c for c in scores if c in data.columns]
    if replaced:
        warnings.warn(f"score(): columns {replaced} already exist; they are replaced in the returned copy by the "
                      f"{key.name} scores (your input is unchanged).", DataWarning,
                      stacklevel=3)  # -> score -> its renamed-arguments wrapper -> the caller
    out = data.drop(columns=replaced)
    return pd.concat([out, pd.DataFrame(scores, index=data.index)], axis=1)
