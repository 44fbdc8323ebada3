"""The random stream of a simulation, and the seed its ``truth`` records (so every data set can be redrawn)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..data.checks import resolve_seed


def generator(seed: Any) -> tuple[np.random.Generator, Any]:
    """``(numpy Generator, recorded seed)`` for ``seed``: an int (or None, replaced by a fresh recorded int, see
    :func:`~allianceStats.data.checks.resolve_seed`) or a :class:`numpy.random.SeedSequence` (as the power
    studies pass one per replication; recorded as its entropy and spawn key). The draws for a given int or
    SeedSequence are exactly ``numpy.random.default_rng(seed)``'s."""
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed), {"entropy": int(seed.entropy),
                                             "spawn_key": tuple(int(k) for k in seed.spawn_key)}
    seed = resolve_seed(seed)
    return np.random.default_rng(seed), seed
