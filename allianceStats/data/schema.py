"""Table schemas for session data (Frictionless Table Schema JSON in ``data_schemas/``).

A schema lists the columns a session table may have: their type (``string``, ``integer``, ``number``),
allowed range (``constraints.minimum`` / ``maximum``), whether a value is required, and a ``role``
(an allianceStats extension: ``client``, ``therapist``, ``session``, ``measure`` or ``event``). The schema
files are plain JSON so any tool can read them (Frictionless Data, *Table Schema* specification, v1).

Example
-------
>>> from allianceStats.data.schema import load_schema
>>> s = load_schema("sessions")
>>> s.role_columns["client"], s.field("alliance")["constraints"]["maximum"]
('client', 5)
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import AllianceStatsError, OptionError


def schema_dir() -> Path:
    """Folder holding the shipped schemas: inside an installed wheel, else the source tree's ``data_schemas/``.

    >>> (schema_dir() / "sessions.schema.json").is_file()
    True
    """
    try:
        packaged = Path(str(resources.files("allianceStats") / "data_schemas"))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - resources unavailable
        packaged = None
    if packaged is not None and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "data_schemas"


@dataclass(frozen=True)
class TableSchema:
    """A parsed table schema: ``fields`` in file order, ``missing_values`` and the role of each column."""

    name: str
    fields: tuple[Mapping[str, Any], ...]
    missing_values: tuple[str, ...]
    required_roles: tuple[str, ...]
    source: str
    _by_name: Mapping[str, Mapping[str, Any]] = dc_field(repr=False, default_factory=dict)

    def field(self, name: str) -> Mapping[str, Any]:
        """The field description of column ``name`` (KeyError-free: raises AllianceStatsError if unknown)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise AllianceStatsError(
                f"schema {self.name!r} has no column {name!r}; its columns are {sorted(self._by_name)}."
            ) from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f["name"] for f in self.fields)

    @property
    def role_columns(self) -> dict[str, str]:
        """Column name of each identifier role (``client``, ``therapist``, ``session``)."""
        return {f["role"]: f["name"] for f in self.fields if f.get("role") in ("client", "therapist", "session")}


def load_schema(schema: str | Path | Mapping[str, Any] = "sessions") -> TableSchema:
    """Load a table schema by shipped name (``"sessions"``), from a JSON file path, or from a dict.

    The format is a Frictionless Table Schema (Frictionless Data, *Table Schema* v1) with an extra ``role``
    per field and ``x-required-roles``.

    Parameters
    ----------
    schema : str, pathlib.Path or mapping
        A shipped schema name (a file ``data_schemas/<name>.schema.json``), a path to a JSON Table Schema, or
        its parsed dict.

    Returns
    -------
    TableSchema
        The fields in file order, missing-value codes, required roles and the column of each role.

    Raises
    ------
    OptionError
        No shipped schema has that name and no such file exists (the message lists the shipped ones), or the file
        cannot be read or is not a JSON object.
    AllianceStatsError
        The schema's ``fields`` are not a list of objects with a ``name``.

    Examples
    --------
    >>> load_schema("sessions").required_roles
    ('client', 'session')
    """
    if isinstance(schema, Mapping):
        raw, source = dict(schema), "<dict>"
    else:
        path = Path(schema)
        if not path.suffix:
            path = schema_dir() / f"{schema}.schema.json"
        if not path.is_file():
            shipped = sorted(p.name.removesuffix(".schema.json") for p in schema_dir().glob("*.schema.json"))
            raise OptionError(f"schema {str(schema)!r} not found (looked for {path}); "
                                     f"shipped schemas: {shipped}, or pass a path to a JSON Table Schema.")
        source = str(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise OptionError(f"schema file {path} cannot be read: {err.strerror or err}.") from None
        except UnicodeDecodeError:
            raise OptionError(f"schema file {path} is not UTF-8 text; a schema is a JSON Table Schema file.") from None
        except json.JSONDecodeError as err:
            raise OptionError(f"schema file {path} is not valid JSON ({err.msg} at line {err.lineno}, column "
                              f"{err.colno}); a schema is a JSON Table Schema file such as "
                              f"{schema_dir() / 'sessions.schema.json'}.") from None
        if not isinstance(raw, dict):
            raise OptionError(f"schema file {path} holds a JSON {type(raw).__name__}, not an object with 'fields'.")
    fields = raw.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, dict) and "name" in f for f in fields):
        raise AllianceStatsError(f"schema {source}: 'fields' must be a list of objects with a 'name'.")
    frozen = tuple(MappingProxyType(dict(f)) for f in fields)
    return TableSchema(
        name=str(raw.get("name", Path(source).stem)),
        fields=frozen,
        missing_values=tuple(raw.get("missingValues", [""])),
        required_roles=tuple(raw.get("x-required-roles", ("client", "session"))),
        source=source,
        _by_name=MappingProxyType({f["name"]: f for f in frozen}),
    )
