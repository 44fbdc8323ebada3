"""Errors and warnings of allianceStats: one channel, one style.

Every error a user can meet is an :class:`AllianceStatsError`, itself a :class:`ValueError`, so
``except ValueError`` keeps working for callers that do not know this package. A message says what was
found, where (column, row, client id), what was expected, and how to fix it.

Warnings are issued with ``stacklevel=2`` (or deeper) so they point at the caller's line.

Example
-------
>>> from allianceStats.errors import SchemaError, AllianceStatsError
>>> issubclass(SchemaError, AllianceStatsError) and issubclass(SchemaError, ValueError)
True
>>> err = SchemaError(["column 'session': row 3 (client 'c1'): value -1 is not a positive integer"])
>>> err.problems[0].startswith("column 'session'")
True
"""
from __future__ import annotations

from collections.abc import Iterable


class AllianceStatsError(ValueError):
    """Base class of every error raised by allianceStats on user input or on a model."""


class SchemaError(AllianceStatsError):
    """A table does not match its schema. Lists *every* problem found, not only the first.

    ``problems`` holds one line per problem; ``str(err)`` shows them all, numbered.
    """

    def __init__(self, problems: Iterable[str] | str, *, source: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found{where}:"
        body = "\n".join(f"  {i}. {p}" for i, p in enumerate(self.problems, 1))
        super().__init__(f"{head}\n{body}")


class FormulaError(AllianceStatsError):
    """A model formula or SEM syntax line cannot be parsed; the message quotes the offending text."""


class IdentificationError(AllianceStatsError):
    """The model cannot be estimated from this design (not nested, rank deficient, too few observations)."""


class ConvergenceError(AllianceStatsError):
    """The optimiser failed and no usable estimate exists (raised only where nothing can be returned; a fit
    that ends with estimates reports ``convergence.converged = False`` and a :class:`ConvergenceWarning`)."""


class AllianceStatsWarning(UserWarning):
    """Base class of allianceStats warnings."""


class DataWarning(AllianceStatsWarning):
    """The data are usable but something deserves attention (a client with one session, a measure all missing)."""


class ConvergenceWarning(AllianceStatsWarning):
    """The optimiser stopped without meeting its convergence criteria; estimates may be unreliable."""


class BoundaryWarning(AllianceStatsWarning):
    """The estimate lies on the boundary of the parameter space (singular fit, zero variance, Heywood case)."""


__all__ = [
    "AllianceStatsError",
    "SchemaError",
    "FormulaError",
    "IdentificationError",
    "ConvergenceError",
    "AllianceStatsWarning",
    "DataWarning",
    "ConvergenceWarning",
    "BoundaryWarning",
]


class DataFileError(AllianceStatsError):
    """A data file cannot be read: it does not exist, or its type is not supported."""


__all__ += ["DataFileError"]


class OptionError(AllianceStatsError):
    """An argument has a value this function does not accept (a misspelt choice, a level outside (0, 1),
    a boolean given as text). The message names the argument, the value found and the valid choices."""


__all__ += ["OptionError"]
