"""Typed run configs: nested dataclasses read from YAML, with ``--set a.b=value`` overrides.

Every field has a default and a ``help`` string; unknown keys are errors, never ignored.
"""
from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any, Iterator, Sequence, TypeVar

import yaml

from rasd.inference.definition import field  # noqa: F401  (one home for typed-config fields)
from rasd.inference.resources import resolve_path

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that does not fit its dataclass."""


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {hint.__name__}, got {value!r}")
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where) if len(args) == 1 else value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)[:1] or (Any,)
        return [_coerce(v, item, where) for v in value]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        try:
            number = hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}") from None
        if hint is int and isinstance(value, float) and value != int(value):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, bool):
            # YAML 1.1 reads a bare no/yes (mixed_precision: no) as a boolean
            return "yes" if value else "no"
        return str(value)
    return value


def from_dict(cls: type[T], raw: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys with the list of known ones."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    values = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in raw.items()}
    return cls(**values)


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` strings (values parsed as YAML) to a nested mapping."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[parts[-1]] = yaml.safe_load(value) if value.strip() else ""
    return raw


def load_config(cls: type[T], path: str | os.PathLike | None, overrides: Sequence[str] = ()) -> T:
    """Read ``path`` (YAML) into ``cls``, after applying overrides; ``path=None`` starts from the defaults."""
    raw: dict[str, Any] = {}
    if path is not None:
        # configs/NAME.yaml works from any directory: the packaged copy when there is none here
        with open(resolve_path(path), encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a config file must be a YAML mapping")
    raw = apply_overrides(raw, overrides)
    return from_dict(cls, raw, where=str(path or "config"))


def config_keys(cls: type, prefix: str = "") -> Iterator[tuple[str, Any, str]]:
    """``(section.key, default, help)`` of every leaf field of the config dataclass ``cls``, in
    declaration order, read from the fields themselves (so new fields show up without more code)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            yield from config_keys(hints[f.name], key + ".")
            continue
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
        yield key, default, f.metadata.get("help", "")


def describe_config(cls: type) -> str:
    """The keys of config ``cls`` as help text: ``section.key: meaning (default: value)`` per line."""
    lines = []
    for key, default, help in config_keys(cls):
        shown = default if isinstance(default, str) and default else json.dumps(default, ensure_ascii=False)
        lines.append(f"  {key}: {help} (default: {shown})")
    return "\n".join(lines)


def save_config(obj: Any, path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(to_dict(obj), f, allow_unicode=True, sort_keys=False)
