"""The label schema: which span labels exist and which relations may join them.

A schema is read from YAML (``configs/schema/*.yaml``) and travels inside every saved model's
config, so a checkpoint always knows its own labels. Nothing else in the package names a label.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml

OUTSIDE = "O"
NO_RELATION = "NONE"


class SchemaError(ValueError):
    """A schema file or a saved schema that cannot be used."""


@dataclass(frozen=True)
class LinkRule:
    heads: tuple[str, ...]
    tails: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    """Span labels, relation labels and the type rules that join them."""

    name: str = "schema"
    entities: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    # role -> entity labels its tail may have (the head is any trigger)
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # link -> allowed head and tail labels
    links: dict[str, LinkRule] = field(default_factory=dict)
    # label used in a source corpus -> label of this schema
    aliases: dict[str, str] = field(default_factory=dict)
    # trigger label -> (ACLED-style event_type, sub_event_type)
    event_categories: dict[str, tuple[str, str]] = field(default_factory=dict)
    # the same, used when the event's targets/victims carry one of ``civilian_labels``
    civilian_categories: dict[str, tuple[str, str]] = field(default_factory=dict)
    civilian_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        labels = list(self.entities) + list(self.triggers)
        if not labels:
            raise SchemaError(f"schema {self.name!r} has no span labels")
        duplicated = sorted({x for x in labels if labels.count(x) > 1})
        if duplicated:
            raise SchemaError(f"schema {self.name!r} repeats span labels {duplicated}")
        if OUTSIDE in labels:
            raise SchemaError(f"schema {self.name!r}: {OUTSIDE!r} is reserved for the outside tag")
        known = set(labels)
        for role, tails in self.roles.items():
            unknown = set(tails) - known
            if unknown:
                raise SchemaError(f"schema {self.name!r}: role {role} allows unknown tails {sorted(unknown)}")
        for link, rule in self.links.items():
            unknown = (set(rule.heads) | set(rule.tails)) - known
            if unknown:
                raise SchemaError(f"schema {self.name!r}: link {link} names unknown labels {sorted(unknown)}")
        overlap = set(self.roles) & set(self.links)
        if overlap:
            raise SchemaError(f"schema {self.name!r}: {sorted(overlap)} is both a role and a link")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Schema":
        allowed = {"name", "entities", "triggers", "roles", "links", "aliases", "event_categories",
                   "civilian_categories", "civilian_labels"}
        unknown = set(raw) - allowed
        if unknown:
            raise SchemaError(f"unknown schema keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        links = {}
        for name, rule in (raw.get("links") or {}).items():
            if isinstance(rule, LinkRule):
                links[name] = rule
            else:
                links[name] = LinkRule(tuple(rule["heads"]), tuple(rule["tails"]))
        return cls(
            name=raw.get("name", "schema"),
            entities=tuple(raw.get("entities") or ()),
            triggers=tuple(raw.get("triggers") or ()),
            roles={k: tuple(v) for k, v in (raw.get("roles") or {}).items()},
            links=links,
            aliases=dict(raw.get("aliases") or {}),
            event_categories={k: tuple(v) for k, v in (raw.get("event_categories") or {}).items()},
            civilian_categories={k: tuple(v) for k, v in (raw.get("civilian_categories") or {}).items()},
            civilian_labels=tuple(raw.get("civilian_labels") or ()),
        )

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "Schema":
        """Read a schema file; ``configs/schema/NAME.yaml`` falls back to the packaged copy (see ``resources``)."""
        from .resources import resolve_path

        with open(resolve_path(path), encoding="utf-8") as f:
            raw = yaml.safe_load(f)
        if not isinstance(raw, dict):
            raise SchemaError(f"{path}: a schema file must be a YAML mapping")
        try:
            return cls.from_dict(raw)
        except SchemaError as err:
            raise SchemaError(f"{path}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": list(self.entities),
            "triggers": list(self.triggers),
            "roles": {k: list(v) for k, v in self.roles.items()},
            "links": {k: {"heads": list(r.heads), "tails": list(r.tails)} for k, r in self.links.items()},
            "aliases": dict(self.aliases),
            "event_categories": {k: list(v) for k, v in self.event_categories.items()},
            "civilian_categories": {k: list(v) for k, v in self.civilian_categories.items()},
            "civilian_labels": list(self.civilian_labels),
        }

    # ----------------------------------------------------------------- label sets
    @property
    def span_labels(self) -> tuple[str, ...]:
        return self.entities + self.triggers

    @property
    def relation_labels(self) -> tuple[str, ...]:
        return tuple(self.roles) + tuple(self.links)

    @cached_property
    def bio_labels(self) -> tuple[str, ...]:
        """Tag set of the token head: O, then B-/I- for every span label."""
        tags = [OUTSIDE]
        for label in self.span_labels:
            tags += [f"B-{label}", f"I-{label}"]
        return tuple(tags)

    @cached_property
    def relation_classes(self) -> tuple[str, ...]:
        """Classes of the relation head: the no-relation class first."""
        return (NO_RELATION,) + self.relation_labels

    def canonical(self, label: str) -> str:
        """A source label read as this schema's label (through ``aliases``)."""
        return self.aliases.get(label, label)

    def is_trigger(self, label: str) -> bool:
        return label in self._trigger_set

    def is_role(self, relation: str) -> bool:
        return relation in self.roles

    @cached_property
    def _trigger_set(self) -> frozenset[str]:
        return frozenset(self.triggers)

    @cached_property
    def _allowed(self) -> dict[tuple[str, str], tuple[str, ...]]:
        allowed: dict[tuple[str, str], list[str]] = {}
        for role, tails in self.roles.items():
            for head in self.triggers:
                for tail in tails:
                    allowed.setdefault((head, tail), []).append(role)
        for link, rule in self.links.items():
            for head in rule.heads:
                for tail in rule.tails:
                    allowed.setdefault((head, tail), []).append(link)
        return {k: tuple(v) for k, v in allowed.items()}

    def allowed_relations(self, head_label: str, tail_label: str) -> tuple[str, ...]:
        """Relation labels the type rules allow from a span of ``head_label`` to one of ``tail_label``."""
        return self._allowed.get((head_label, tail_label), ())

    @cached_property
    def relatable_matrix(self) -> tuple[tuple[bool, ...], ...]:
        """``[head][tail]`` over ``span_labels``: whether any relation may join the two labels."""
        return tuple(tuple(self.can_relate(h, t) for t in self.span_labels) for h in self.span_labels)

    def can_relate(self, head_label: str, tail_label: str) -> bool:
        return (head_label, tail_label) in self._allowed

    def relation_allowed(self, relation: str, head_label: str, tail_label: str) -> bool:
        return relation in self.allowed_relations(head_label, tail_label)

    @property
    def has_relations(self) -> bool:
        return bool(self.roles or self.links)
