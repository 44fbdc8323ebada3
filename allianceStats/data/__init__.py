"""Reading, validating, describing, scoring and reshaping session tables.

The public API of the data layer, re-exported here (loaded on first use, so importing one checking helper does
not import pandas readers, scoring keys or reshaping):

- reading and validating: :func:`read_sessions`, :func:`load_schema`, :func:`load_example`, :func:`describe`;
- questionnaires: :func:`score`, :func:`reliability`, :func:`load_instrument`, :func:`list_instruments`;
- reshaping: :func:`to_wide`, :func:`to_long`;
- the input-checking layer every public function uses (:mod:`allianceStats.data.checks`).

Example
-------
>>> from allianceStats.data import read_sessions, require_columns
>>> import pandas as pd
>>> sessions = read_sessions(pd.DataFrame({"client": ["a", "a"], "session": [2, 1], "alliance": [4.0, 3.5]}))
>>> require_columns(sessions, ["alliance"], where="example") is sessions
True
"""
from __future__ import annotations

import importlib

from .checks import __all__ as _CHECKS

# public name -> defining module (relative to this package)
_EXPORTS = {
    "read_sessions": ".read",
    "load_schema": ".schema",
    "load_example": ".example",
    "describe": ".description",
    "Description": ".description",
    "score": ".scoring",
    "reliability": ".internal_consistency",
    "ReliabilityResult": ".internal_consistency",
    "load_instrument": ".instruments",
    "list_instruments": ".instruments",
    "to_wide": ".reshape",
    "to_long": ".reshape",
    **{name: ".checks" for name in _CHECKS},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'allianceStats.data' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(globals()))
