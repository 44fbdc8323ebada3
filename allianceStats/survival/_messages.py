"""How survival messages quote rows, clients and values: :func:`~allianceStats.data.checks.first_labels` on plain
Python values (numpy scalars would print as ``np.int64(3)``).

Example
-------
>>> import numpy as np
>>> labels_of(np.array([3, 4]))
'3, 4'
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..data.checks import first_labels


def labels_of(values: Iterable[Any], limit: int = 5) -> str:
    """The first ``limit`` values quoted as :func:`~allianceStats.data.checks.first_labels` does, numpy scalars
    converted to Python values first.

    Parameters
    ----------
    values : iterable
        Row labels, client ids or values.
    limit : int
        How many to show.

    Returns
    -------
    str

    Examples
    --------
    >>> labels_of(["a", np.int64(2)])
    "'a', 2"
    """
    return first_labels((v.item() if isinstance(v, np.generic) else v for v in values), limit)
