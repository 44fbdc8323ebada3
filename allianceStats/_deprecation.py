"""Old names that keep working for one minor version (0.2.x) with a :class:`FutureWarning` naming the new one.

Every rename is listed in ``CHANGELOG.md``; the aliases made here are removed in 0.3.0.

Example
-------
>>> import warnings
>>> from allianceStats._deprecation import renamed_function
>>> def fit_thing(data, *, client="client"):
...     return client
>>> thing = renamed_function("thing", fit_thing)
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     thing(None)
...     "fit_thing" in str(w[0].message)
'client'
True
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

REMOVED_IN = "0.3.0"


def _warn(message: str, stacklevel: int = 3) -> None:
    warnings.warn(f"{message}; the old name is removed in allianceStats {REMOVED_IN} (see CHANGELOG.md)",
                  FutureWarning, stacklevel=stacklevel)


def renamed_function(old: str, new: Callable[..., Any], *, new_name: str | None = None) -> Callable[..., Any]:
    """A wrapper called ``old`` that warns and forwards every argument to ``new``."""
    target = new_name or new.__name__

    @functools.wraps(new)
    def wrapper(*args, **kwargs):
        _warn(f"{old}() is renamed {target}()")
        return new(*args, **kwargs)

    wrapper.__name__ = old
    wrapper.__qualname__ = old
    wrapper.__doc__ = f"Deprecated alias of :func:`{target}` (removed in {REMOVED_IN})."
    wrapper.__deprecated_alias_of__ = target  # type: ignore[attr-defined]
    return wrapper


def renamed_arguments(**mapping: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: accept each old keyword (``old="new"``) with a :class:`FutureWarning`, passing it as the new one.

    Giving both the old and the new keyword is an :class:`~allianceStats.errors.OptionError`.

    >>> @renamed_arguments(level="conf_level")
    ... def f(*, conf_level=0.95):
    ...     return conf_level
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     f(level=0.9)
    0.9
    """
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in mapping.items():
                if old in kwargs:
                    if new in kwargs:
                        from .errors import OptionError

                        raise OptionError(f"{func.__name__}() got both {old}= (old name) and {new}=; "
                                          f"give only {new}=")
                    _warn(f"{func.__name__}(): argument {old}= is renamed {new}=")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__renamed_arguments__ = dict(mapping)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Issue the standard :class:`FutureWarning` for a rename that cannot be a simple wrapper (an attribute,
    a value of an argument, an analysis-file key)."""
    _warn(f"{old} is renamed {new}", stacklevel=stacklevel)


class _RenamedAttribute(property):
    """A property that only forwards an old attribute name (a subclass, so it can carry its new name)."""


def renamed_attribute(old: str, new: str) -> property:
    """A read-only attribute ``old`` of a result class that warns (:class:`FutureWarning`) and returns ``new``.

    The property carries ``__deprecated_alias_of__`` (the new name), as :func:`renamed_function` wrappers do.

    >>> class R:
    ...     n_obs = 12
    ...     nobs = renamed_attribute("nobs", "n_obs")
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     R().nobs, str(w[0].message).startswith("R.nobs is renamed R.n_obs")
    (12, True)
    """

    def getter(self):
        _warn(f"{type(self).__name__}.{old} is renamed {type(self).__name__}.{new}", stacklevel=3)
        return getattr(self, new)

    getter.__name__ = old
    alias = _RenamedAttribute(getter, doc=f"Deprecated alias of ``{new}`` (removed in {REMOVED_IN}).")
    alias.__deprecated_alias_of__ = new  # type: ignore[attr-defined]
    return alias


class FormerTable:
    """Mixin for a result that replaced a returned DataFrame: DataFrame access on the result (``res["icc"]``,
    ``res.loc``, ``res.to_string()``, ``res.attrs``) goes to ``res.table`` with a :class:`FutureWarning`.

    The subclass sets ``_former`` (what returned the DataFrame, e.g. ``"icc()"``) and may override
    ``_former_attrs()`` (what ``DataFrame.attrs`` used to hold).
    """

    _former = "this function"

    def _former_attrs(self) -> dict[str, Any]:
        return {}

    def _warn_table(self) -> None:
        _warn(f"{self._former} now returns a result object ({type(self).__name__}), not a DataFrame: use .table "
              f"for the table and the result's attributes for what DataFrame.attrs held", stacklevel=4)

    def __getitem__(self, key):
        self._warn_table()
        return self.table[key]  # type: ignore[attr-defined]

    def __getattr__(self, name: str):
        table = self.__dict__.get("table")
        if name.startswith("_") or table is None:
            raise AttributeError(name)
        if name == "attrs":
            self._warn_table()
            return self._former_attrs()
        if name in table.columns or hasattr(table, name):
            self._warn_table()
            return getattr(table, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
