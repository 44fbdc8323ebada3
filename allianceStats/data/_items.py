"""Item columns of an instrument: mapping them to the user's columns, checking every cell, reverse keying.

Shared by :mod:`allianceStats.data.scoring` (:func:`score`) and :mod:`allianceStats.data.internal_consistency`
(:func:`reliability`), so a bad cell gets the same message in both.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import OptionError, SchemaError
from .checks import require_frame
from .instruments import Instrument


def resolve_columns(key: Instrument, items, prefix: str | None) -> dict[str, str]:
    """Item id -> column of the user's data (defaults ``<prefix>_<id>``, overridden by ``items``)."""
    columns = key.default_columns(prefix)
    if items is None:
        return columns
    if isinstance(items, Mapping):
        unknown = [k for k in items if str(k) not in columns]
        if unknown:
            raise OptionError(
                f"items: {unknown} are not items of {key.name!r}; its item ids are {list(key.item_ids)}. "
                "Map item ids (numbers as on the form) to your column names, e.g. items={1: 'q1'}.")
        columns.update({str(k): str(v) for k, v in items.items()})
        return columns
    if isinstance(items, Sequence) and not isinstance(items, str):
        if len(items) != len(key.items):
            raise OptionError(
                f"items: {len(items)} column names given, but {key.name!r} has {len(key.items)} items "
                f"({list(key.item_ids)}); give one column per item in that order, or a dict item -> column.")
        return dict(zip(key.item_ids, map(str, items)))
    raise OptionError(f"items must be a dict (item id -> column) or a list of columns; got "
                      f"{type(items).__name__}.")


def item_matrix(data: pd.DataFrame, key: Instrument, columns: Mapping[str, str], *, where: str,
                client: str | None = "client") -> np.ndarray:
    """Float matrix of the items (rows x items, in key order) after checking every cell.

    Raises SchemaError listing each missing column and each bad cell (text, infinite, out of range,
    non-integer where whole numbers are required) with its column, 1-based row and client id.
    """
    require_frame(data, where=where)
    problems: list[str] = []
    missing = [(i, c) for i, c in columns.items() if c not in data.columns]
    for item_id, col in missing:
        problems.append(f"item {item_id} of {key.name!r}: column {col!r} is not in the data; pass "
                        f"items={{{item_id!r}: '<your column>'}} or prefix='<your stem>' to score it.")
    if problems:
        raise SchemaError(problems, source=f"items of {key.name!r}")
    ids = data[client] if client is not None and client in data.columns else None
    n = len(data)
    X = np.empty((n, len(key.items)), dtype=np.float64, order="F")  # column-major: items are read by column
    for j, it in enumerate(key.items):
        col = columns[it.id]
        raw = data[col]
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype(np.int64)
        num = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw
        x = num.to_numpy(dtype=np.float64, na_value=np.nan)
        given = raw.notna().to_numpy()
        X[:, j] = x
        text = np.isnan(x) & given
        inf = np.isinf(x)
        finite = np.isfinite(x)
        low_high = finite & ((x < it.min) | (x > it.max))
        frac = finite & ~low_high & (x != np.round(x)) if it.integer else np.zeros(n, bool)
        rng = f"{it.min:g}-{it.max:g}"
        for r in np.flatnonzero(text | inf | low_high | frac):
            place = f"column {col!r} (item {it.id}): row {r + 1}"
            if ids is not None:
                place += f" (client {ids.iat[r]!r})"
            value = raw.iat[r]
            if text[r]:
                what = f"text {value!r} where a number {rng} is expected"
            elif inf[r]:
                what = f"infinite value {value!r}; expected {rng} or missing"
            elif low_high[r]:
                what = f"value {value!r} is outside the allowed range {rng}"
            else:
                what = f"value {value!r} is not a whole number (answers are integers {rng})"
            problems.append(f"{place}: {what}.")
    if problems:
        raise SchemaError(problems, source=f"items of {key.name!r}")
    return X


def reverse(X: np.ndarray, key: Instrument) -> np.ndarray:
    """Reverse-keyed items as :math:`x' = \\min + \\max - x` (a copy; ``X`` itself is unchanged)."""
    if not key.reverse_items:
        return X
    out = X.copy(order="K")
    for j, it in enumerate(key.items):
        if it.id in key.reverse_items:
            out[:, j] = it.min + it.max - out[:, j]
    return out
