"""Shared fixtures for the report tests: small seeded session tables and path tables (no estimation)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_sessions(n_therapists: int = 4, clients_per: int = 6, n_sessions: int = 6, seed: int = 3) -> pd.DataFrame:
    """A long session table with the simulator's column names, generated with numpy (seeded)."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_therapists):
        for c in range(clients_per):
            client = f"c{t}_{c}"
            level = rng.normal()
            last = n_sessions if rng.random() > 0.3 else int(rng.integers(2, n_sessions))
            for s in range(1, last + 1):
                alliance = float(np.clip(3.2 + 0.4 * level + 0.05 * s + rng.normal(0, 0.4), 1, 5))
                rows.append({
                    "therapist": f"t{t}", "client": client, "session": s,
                    "empathy": float(np.clip(5 + rng.normal(), 1, 7)),
                    "autonomy_support": float(np.clip(5 + rng.normal(), 1, 7)),
                    "alliance": alliance,
                    "autonomy": float(np.clip(3 + 0.3 * alliance + rng.normal(0, 0.5), 1, 5)),
                    "competence": float(np.clip(3 + 0.2 * alliance + rng.normal(0, 0.5), 1, 5)),
                    "relatedness": float(np.clip(3 + 0.3 * alliance + rng.normal(0, 0.5), 1, 5)),
                    "motivation": float(np.clip(4 + 0.5 * level + rng.normal(0, 0.6), 1, 7)),
                    "engagement": float(np.clip(3 + rng.normal(0, 0.6), 1, 5)),
                    "outcome": float(np.clip(50 + 8 * alliance + rng.normal(0, 10), 0, 100)),
                    "dropout": int(s == last and last < n_sessions),
                })
    return pd.DataFrame(rows)


@pytest.fixture
def sessions() -> pd.DataFrame:
    return make_sessions()


@pytest.fixture
def parallel_paths() -> pd.DataFrame:
    return pd.DataFrame({
        "from": ["support", "support", "support", "autonomy", "competence", "relatedness", "support"],
        "to": ["autonomy", "competence", "relatedness", "motivation", "motivation", "motivation", "motivation"],
        "estimate": [0.4, 0.3, 0.2, 0.5, 0.2, -0.05, 0.1],
        "ci_lower": [0.2, 0.1, 0.05, 0.3, -0.1, -0.2, -0.1],
        "ci_upper": [0.6, 0.5, 0.4, 0.7, 0.5, 0.1, 0.3],
    })


@pytest.fixture
def riclpm_params() -> pd.DataFrame:
    rows = []
    for t in range(2, 6):
        for a in ("alliance", "outcome"):
            for b in ("alliance", "outcome"):
                rows.append({"lhs": f"w_{a}_{t}", "op": "~", "rhs": f"w_{b}_{t - 1}", "estimate": 0.3,
                             "std_error": 0.1, "p_value": 0.01 if a == b else 0.4,
                             "std_all": 0.45 if a == b else 0.12})
    rows.append({"lhs": "RI_alliance", "op": "~~", "rhs": "RI_outcome", "estimate": 0.2, "std_error": 0.05,
                 "p_value": 0.001, "std_all": 0.38})
    return pd.DataFrame(rows)
