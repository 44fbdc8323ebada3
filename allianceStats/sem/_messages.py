"""Warnings of the SEM and panel layers, pointed at the user's line.

A warning raised deep in the fitting pipeline (a step of ``fit_sem`` called by ``fit_riclpm`` called through a
rename wrapper) should name the line of the user's script, not ours. :func:`warn` therefore sets ``stacklevel``
to the first frame outside the ``allianceStats`` package (what ``skip_file_prefixes`` does in Python 3.12).
"""
from __future__ import annotations

import sys
import warnings
from types import FrameType


def user_stacklevel() -> int:
    """``stacklevel`` for :func:`warnings.warn` called by the caller of this function: the first frame whose
    module is not part of allianceStats (1 = the caller itself)."""
    frame: FrameType | None = sys._getframe(2)  # the function that will call warnings.warn
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "allianceStats":
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning]) -> None:
    """Issue ``message`` as ``category`` at the user's line (see the module docstring)."""
    warnings.warn(message, category, stacklevel=user_stacklevel() + 1)
