"""The inference a fit reports in ``params``: Satterthwaite (lmerTest's default), Kenward–Roger or CR2.

:func:`finish_inference` is the last step of :func:`allianceStats.mixed.fit_mlm`: with the defaults it returns the
fit unchanged (Satterthwaite df, model-based standard errors, as lmerTest's ``summary()``); ``ddf="kenward-roger"``
replaces the standard errors, df, t, p and intervals by Kenward–Roger's (:mod:`allianceStats.mixed.kenward_roger`,
as lmerTest's ``summary(fit, ddf = "Kenward-Roger")``); ``vcov="CR2"`` by cluster-robust CR2 ones with
clubSandwich's Satterthwaite df (:mod:`allianceStats.mixed.robust`).
"""
from __future__ import annotations

import dataclasses

from ..errors import OptionError


def finish_inference(result, *, ddf: str = "satterthwaite", vcov: str = "model"):
    """The fit with the ``params`` of the chosen inference (module docstring); the options recorded in provenance.

    >>> finish_inference("a fit", ddf="satterthwaite", vcov="model")
    'a fit'
    """
    if ddf == "satterthwaite" and vcov == "model":
        return result
    if ddf != "satterthwaite" and vcov != "model":
        raise OptionError(f"ddf={ddf!r} and vcov={vcov!r} cannot be combined: CR2 standard errors come with their "
                          "own Satterthwaite df (clubSandwich's); use one of them.")
    options = dict(result.provenance.options, ddf=ddf, vcov=vcov)
    if ddf == "kenward-roger":
        from .kenward_roger import kenward_roger_params

        params = kenward_roger_params(result)
    else:
        from .robust import coef_test

        params = coef_test(result, conf_level=result.conf_level)
        options["cluster"] = params.attrs["cluster"]
        params.attrs.clear()
    return dataclasses.replace(result, params=params,
                               provenance=dataclasses.replace(result.provenance, options=options))
