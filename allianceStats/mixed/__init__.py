"""Nested linear mixed models (sessions in clients in therapists) that match lme4 / lmerTest.

``fit_mlm`` fits lme4-syntax formulas with nested random effects by profiled REML or ML
(Bates, Mächler, Bolker & Walker 2015, J. Stat. Softw. 67(1)), with Satterthwaite degrees of freedom as
lmerTest computes them (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13)) and an optional
residual AR(1) within client (nlme's ``corAR1``). See :mod:`allianceStats.mixed.engine` for the methods.

Coordination note: the helpers built on :class:`MixedResult` (``icc``, ``r2``, ``compare_mlm``,
``fit_alliance_outcome``) live in ``intraclass.py``, ``explained_variance.py``, ``comparison.py`` and ``alliance_outcome.py``; their
owner appends their import lines at the end of this file.
"""
from __future__ import annotations

from .engine import fit_mlm
from .result import MixedResult

__all__ = ["fit_mlm", "MixedResult"]
from .alliance_outcome import AllianceOutcomeResult, fit_alliance_outcome  # noqa: E402
from .comparison import compare_mlm  # noqa: E402
from .explained_variance import R2Result, r2  # noqa: E402
from .intraclass import icc  # noqa: E402  (helpers on MixedResult, owned by the helpers' author)

__all__ += ["icc", "r2", "R2Result", "compare_mlm", "fit_alliance_outcome", "AllianceOutcomeResult"]
from .comparison import profile_ci  # noqa: E402

__all__ += ["profile_ci"]
