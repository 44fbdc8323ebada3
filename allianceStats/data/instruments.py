"""Instrument scoring keys: where they live, how they are loaded and checked.

A scoring key is a small, tool-neutral JSON file in ``data_schemas/instruments/`` (one per instrument)
that states the items and their allowed ranges, reverse-keyed items, subscales (a total score is the
subscale ``total``), the scoring method (mean or sum) and the proration rule for missing items, with the
citation of the instrument and of the key. The files are validated against the JSON Schema
``data_schemas/instruments/instrument.schema.json`` (JSON Schema draft 2020-12) and then checked for
consistency (every subscale item exists, ``min < max``, unique ids).

Shipped keys: ``wai_sr`` (Working Alliance Inventory - Short Revised; Hatcher & Gillaspy 2006), ``srs``
(Session Rating Scale; Duncan et al. 2003), ``bpnsfs`` (Basic Psychological Need Satisfaction and
Frustration Scale; Chen et al. 2015), ``tsrq`` (Treatment Self-Regulation Questionnaire; Levesque et al.
2007) and ``sud_outcomes`` (days of use in the past week, percent days abstinent; Sobell & Sobell 1992).

The folder is found both in a source tree and in an installed wheel, which carries ``data_schemas/`` as
``allianceStats/data_schemas/`` (see :func:`schema_dir`).

Example
-------
>>> from allianceStats.data.instruments import load_instrument
>>> wai = load_instrument("wai")
>>> wai.name, wai.subscales["goal"].items, wai.min_fraction
('wai_sr', ('4', '6', '8', '11'), 0.75)
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import AllianceStatsError, OptionError
from .schema import schema_dir  # one resource locator for every shipped schema

__all__ = ["schema_dir", "instruments_dir", "list_instruments", "load_instrument", "validate_key", "Instrument", "Item",
           "Subscale"]


def instruments_dir() -> Path:
    """The folder of the shipped scoring keys, ``<schema_dir>/instruments``.

    >>> sorted(p.name for p in instruments_dir().glob("wai*.json"))
    ['wai_sr.json']
    """
    return schema_dir() / "instruments"


@dataclass(frozen=True)
class Item:
    """One item: its id as printed on the form, allowed range and whether answers are whole numbers."""

    id: str
    min: float
    max: float
    integer: bool
    label: str = ""


@dataclass(frozen=True)
class Subscale:
    """A subscale (or the total): its item ids and how it is scored (``"mean"`` or ``"sum"``)."""

    name: str
    items: tuple[str, ...]
    method: str


@dataclass(frozen=True)
class Instrument:
    """A parsed, validated scoring key (see the module docstring and ``instrument.schema.json``)."""

    name: str
    title: str
    prefix: str
    item_columns: str
    citation: str
    items: tuple[Item, ...]
    reverse_items: frozenset[str]
    subscales: Mapping[str, Subscale]
    min_fraction: float
    proration_rule: str
    proration_source: str
    key_source: str
    source: str

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item ids in form order, e.g. ``('1', ..., '12')``."""
        return tuple(it.id for it in self.items)

    def item(self, item_id: str) -> Item:
        """The :class:`Item` with id ``item_id``.

        >>> load_instrument("srs").item("1").max
        10.0
        """
        for it in self.items:
            if it.id == item_id:
                return it
        raise AllianceStatsError(f"instrument {self.name!r} has no item {item_id!r}; its items are "
                                 f"{list(self.item_ids)}.")

    def default_columns(self, prefix: str | None = None) -> dict[str, str]:
        """Item id -> default column name: ``<prefix>_<id>`` (or the bare id for ``item_columns='bare'``).

        >>> load_instrument("srs").default_columns()["4"]
        'srs_4'
        >>> load_instrument("sud_outcomes").default_columns()
        {'days_use': 'days_use', 'pda': 'pda'}
        """
        if prefix is None and self.item_columns == "bare":
            return {i: i for i in self.item_ids}
        stem = self.prefix if prefix is None else prefix
        return {i: f"{stem}_{i}" if stem else i for i in self.item_ids}


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads((instruments_dir() / "instrument.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _key_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(instruments_dir().glob("*.json")) if p.name != "instrument.schema.json"}


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, path in _key_files().items():
        out[name] = name
        for alias in json.loads(path.read_text(encoding="utf-8")).get("aliases", []):
            out.setdefault(alias, name)
    return out


def list_instruments() -> list[str]:
    """Names of the shipped scoring keys (the files of ``data_schemas/instruments/``).

    Keys and their sources: WAI-SR (Hatcher & Gillaspy 2006), SRS (Duncan et al. 2003), BPNSFS (Chen et al.
    2015), TSRQ (Levesque et al. 2007), SUD outcomes (Sobell & Sobell 1992); see the module docstring.

    Returns
    -------
    list of str
        Sorted key names; each also loads by its aliases (``"wai"`` for ``"wai_sr"``).

    Examples
    --------
    >>> list_instruments()
    ['bpnsfs', 'srs', 'sud_outcomes', 'tsrq', 'wai_sr']
    """
    return list(_key_files())


def validate_key(raw: Mapping[str, Any], source: str = "<dict>") -> list[str]:
    """Every problem of a scoring key: JSON Schema violations, then consistency of ids and ranges.

    >>> validate_key({"name": "x"})[0].startswith("<dict>:")
    True
    """
    problems = []
    for err in sorted(_validator().iter_errors(dict(raw)), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(map(str, err.absolute_path)) or "(top level)"
        problems.append(f"{source}: {where}: {err.message}")
    if problems:
        return problems
    ids = [it["id"] for it in raw["items"]]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        problems.append(f"{source}: items: duplicate item ids {dup}.")
    for it in raw["items"]:
        if not it["min"] < it["max"]:
            problems.append(f"{source}: item {it['id']!r}: min {it['min']} is not below max {it['max']}.")
    known = set(ids)
    for rev in raw.get("reverse_items", []):
        if rev not in known:
            problems.append(f"{source}: reverse_items: {rev!r} is not an item id (items: {ids}).")
    for name, sub in raw["subscales"].items():
        unknown = [i for i in sub["items"] if i not in known]
        if unknown:
            problems.append(f"{source}: subscale {name!r}: unknown item ids {unknown} (items: {ids}).")
    return problems


def load_instrument(instrument: str | Path | Mapping[str, Any] | Instrument) -> Instrument:
    """Load a scoring key by name or alias (``"wai"``, ``"WAI-SR"``), from a JSON file, or from a dict.

    The key is validated against ``instrument.schema.json`` (JSON Schema draft 2020-12) and checked for
    consistency; every problem is listed in one :class:`~allianceStats.errors.AllianceStatsError`.

    Parameters
    ----------
    instrument : str, pathlib.Path, mapping or Instrument
        A shipped key's name or alias (case and ``-`` / ``_`` / space insensitive), a JSON key file, a dict
        that follows ``data_schemas/instruments/instrument.schema.json``, or an already loaded key.

    Returns
    -------
    Instrument
        Items with their ranges, reverse-keyed items, subscales, scoring method and proration rule.

    Raises
    ------
    OptionError
        An unknown name (the message lists the shipped keys and aliases) or a missing key file.
    AllianceStatsError
        The key is not valid JSON or breaks the schema (every problem listed).

    Examples
    --------
    >>> key = {"name": "mini", "title": "Two items", "version": "1", "prefix": "mini",
    ...        "citation": "made up for this example", "method": "mean",
    ...        "items": [{"id": "1", "min": 1, "max": 5, "integer": True},
    ...                  {"id": "2", "min": 1, "max": 5, "integer": True}],
    ...        "reverse_items": ["2"], "subscales": {"total": {"items": ["1", "2"]}},
    ...        "proration": {"min_fraction": 1, "rule": "all items", "source": "convention"}}
    >>> load_instrument(key).reverse_items
    frozenset({'2'})
    """
    if isinstance(instrument, Instrument):
        return instrument
    if isinstance(instrument, Mapping):
        raw, source = dict(instrument), "<dict>"
    else:
        text = str(instrument)
        path = Path(text)
        if path.suffix.lower() == ".json" or path.is_file():
            if not path.is_file():
                raise OptionError(f"scoring key file not found: {path}.")
        else:
            wanted = text.strip().lower().replace("-", "_").replace(" ", "_")
            aliases = _aliases()
            if wanted not in aliases:
                raise OptionError(
                    f"unknown instrument {text!r}; shipped scoring keys: {list_instruments()} "
                    f"(aliases: {sorted(set(aliases) - set(list_instruments()))}), or pass a path to a JSON "
                    "key file or a dict that follows data_schemas/instruments/instrument.schema.json.")
            path = _key_files()[aliases[wanted]]
        return _load_file(str(path.resolve()), path.stat().st_mtime_ns)
    return _build(raw, source)


@lru_cache(maxsize=64)
def _load_file(path: str, mtime_ns: int) -> Instrument:
    """Parse and validate a key file once per version of the file (keyed by path and modification time)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AllianceStatsError(f"scoring key {path} is not valid JSON: {exc}.") from None
    return _build(raw, path)


def _build(raw: Mapping[str, Any], source: str) -> Instrument:
    problems = validate_key(raw, source)
    if problems:
        raise AllianceStatsError("invalid scoring key:\n" + "\n".join(f"  - {p}" for p in problems))
    method = raw["method"]
    subscales = {
        name: Subscale(name=name, items=tuple(sub["items"]), method=sub.get("method", method))
        for name, sub in raw["subscales"].items()
    }
    prorate = raw["proration"]
    return Instrument(
        name=raw["name"],
        title=raw["title"],
        prefix=raw["prefix"],
        item_columns=raw.get("item_columns", "prefixed"),
        citation=raw["citation"],
        items=tuple(Item(id=it["id"], min=float(it["min"]), max=float(it["max"]), integer=bool(it["integer"]),
                         label=it.get("label", "")) for it in raw["items"]),
        reverse_items=frozenset(raw.get("reverse_items", [])),
        subscales=MappingProxyType(subscales),
        min_fraction=float(prorate["min_fraction"]),
        proration_rule=prorate["rule"],
        proration_source=prorate["source"],
        key_source=raw.get("key_source", ""),
        source=source,
    )
