"""Plain data (parsed YAML) → nested frozen dataclasses, checked: the machinery under ``seqlab.config.settings``,
and the YAML rules of a config (``load_yaml``).

A field's annotation gives its type (``bool``, ``int``, ``float``, ``str``, ``Literal[...]``, unions with
``None``, or a nested dataclass); ``bounded`` fields carry a range in their ``metadata``; the docstring
under a field is its documentation (read from the source by ``describe``). ``build`` collects every
problem with its dotted key and the closest valid name instead of stopping at the first.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import math
import re
import textwrap
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from seqlab.errors import ConfigError

FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: a float key beyond it cannot reach the model's arithmetic."""


def bounded(default: Any, lo: float | None = None, hi: float | None = None, hi_open: bool = False) -> Any:
    """A dataclass field whose value (when not None) must lie in ``[lo, hi]`` (or ``[lo, hi)``)."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "hi_open": hi_open})


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin is tuple:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def check_scalar(tp: Any, value: Any) -> bool:
    """Whether ``value`` (from YAML) is acceptable for the annotation ``tp``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return value in typing.get_args(tp) and not isinstance(value, bool)
    if origin in (typing.Union, types.UnionType):
        return any(check_scalar(a, value) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is tuple:  # tuple[X, ...]: a YAML list of X
        return isinstance(value, (list, tuple)) and all(check_scalar(typing.get_args(tp)[0], v) for v in value)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    raise AssertionError(f"unsupported config annotation {tp!r}")


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``; people write the
    former) and refuses aliases (``&a``/``*a``), which a config never needs and an alias bomb abuses."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"aliases (*{event.anchor}) are not allowed in a seqlab config")
        return super().compose_node(parent, index)


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


MAX_DEPTH = 32
"""The deepest nesting a config may have (the real ones have 4 levels)."""


def load_yaml(text: str) -> Any:
    """Parse config YAML (``_ConfigLoader``'s rules); a problem is a ``yaml.YAMLError``, a document nested
    deeper than ``MAX_DEPTH`` included (the parser recurses: hundreds of levels ended in a RecursionError)."""
    try:
        value = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels") from None
    level, depth = [value], 0
    while level:  # breadth first, no recursion
        depth += 1
        if depth > MAX_DEPTH:
            raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())]
    return value


def shorten(value: Any, width: int = 80) -> str:
    """``repr(value)``, cut to ``width`` characters (an error message never prints a whole document)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def build(cls: type, raw: Any, prefix: str, problems: list[str]) -> Any:
    """Turn a mapping into ``cls``, appending every problem found (with its dotted key) to ``problems``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        where = prefix.rstrip(".") or "config"
        problems.append(f"'{where}': expected a mapping, got {type(raw).__name__} {shorten(raw)}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; valid keys: {', '.join(fields)}"
            problems.append(f"unknown key '{dotted}'{hint}")
            continue
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            values[key] = build(tp, value, f"{dotted}.", problems)
            continue
        if isinstance(tp, type) and tp is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not check_scalar(tp, value):
            problems.append(f"'{dotted}': expected {type_name(tp)}, got {shorten(value)}")
            continue
        if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= FLOAT32_MAX):
            problems.append(f"'{dotted}': expected a finite number (within ±{FLOAT32_MAX:.3g}, what the model computes in), got {value!r}")
            continue
        if isinstance(value, list):
            value = tuple(value)  # frozen configs hold tuples
        meta = fields[key].metadata
        if value is not None and meta:
            lo, hi, hi_open = meta.get("lo"), meta.get("hi"), meta.get("hi_open", False)
            if (lo is not None and value < lo) or (hi is not None and (value >= hi if hi_open else value > hi)):
                upper = "∞" if hi is None else f"{hi}{')' if hi_open else ']'}"
                problems.append(f"'{dotted}': {value!r} is out of range [{lo}, {upper}")
                continue
        values[key] = value
    return cls(**values)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and YAML-parsed value (``true``, ``0.1``, ``null``, ``[1, 2]``)."""
    if "=" not in text:
        raise ConfigError([f"override '{text}': expected KEY=VALUE, e.g. model.encoder.cell=gru"])
    key, _, value_text = text.partition("=")
    path = [part for part in key.strip().split(".")]
    if not all(path):
        raise ConfigError([f"override '{text}': empty key component"])
    try:
        value = load_yaml(value_text) if value_text.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError([f"override '{text}': value is not valid YAML ({err.__class__.__name__})"]) from None
    return path, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``a.b=value`` override set (intermediate mappings are created)."""
    result = deep_copy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for depth, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError([f"override '{text}': '{where}' is a value, not a section"])
            node = child
        node[path[-1]] = value
    return result


def deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: deep_copy(v) for k, v in raw.items()}
    return raw


@dataclass(frozen=True)
class KeySpec:
    """One leaf key of a config dataclass, for references and generated configs."""

    key: str
    """Dotted name, e.g. ``model.encoder.cell``."""
    default: Any
    type: str
    """The type as ``type_name`` writes it."""
    doc: str
    """The docstring under the field, whitespace folded."""
    range: str
    """``[lo, hi]`` / ``[lo, hi)`` / ``[lo, ∞)`` for a bounded field, else empty."""


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of the dataclass ``cls`` (read from its source)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for stmt, after in zip(body, body[1:]):
        if isinstance(stmt, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            docs[stmt.target.id] = " ".join(str(after.value.value).split())  # type: ignore[attr-defined]
    return docs


def describe(cls: type, prefix: str = "") -> typing.Iterator[KeySpec]:
    """Every leaf key of the dataclass ``cls`` in declaration order, with its default, type, doc and range."""
    hints = typing.get_type_hints(cls)
    instance = cls()
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from describe(tp, f"{prefix}{f.name}.")
            continue
        meta, span = f.metadata, ""
        if meta.get("lo") is not None or meta.get("hi") is not None:
            hi = "∞" if meta.get("hi") is None else f"{meta['hi']}"
            span = f"[{meta.get('lo')}, {hi}{')' if meta.get('hi_open') or meta.get('hi') is None else ']'}"
        yield KeySpec(f"{prefix}{f.name}", getattr(instance, f.name), type_name(tp), docs.get(f.name, ""), span)
