"""What a policy function sees: a plain resource, or the stack as a linked graph."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._values import UNKNOWN, get, json_object, plain


def type_label(resource_type: str) -> str:
    """``aws:apigateway/stage:Stage`` -> ``apigateway Stage`` (short but unambiguous in messages)."""
    parts = resource_type.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        return f"{parts[1].split('/')[0]} {parts[2]}"
    return resource_type


@dataclass
class Resource:
    """One resource: type, names, plain properties (``UNKNOWN`` marks unknowns) and options."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    protect: bool = False
    provider_type: str | None = None
    provider_props: dict[str, Any] = field(default_factory=dict)
    deps: set[str] = field(default_factory=set)
    prop_deps: dict[str, set[str]] = field(default_factory=dict)
    parent: str | None = None

    @property
    def label(self) -> str:
        return f"'{self.name}' ({type_label(self.type)})"

    def get(self, path: str) -> Any:
        return get(self.props, path)

    def default_tags(self) -> dict[str, Any] | Any:
        """Tags the aws provider adds to this resource (``defaultTags.tags``); UNKNOWN if unknown.

        Provider inputs carry nested config JSON-encoded (pulumi_aws Provider serialises
        ``default_tags`` with ``to_json``; the default provider gets ``aws:defaultTags`` config text).
        """
        if self.provider_type != "pulumi:providers:aws":
            return {}
        raw = self.provider_props.get("defaultTags")
        if raw is None:
            return {}
        try:
            decoded = json_object(raw)
        except ValueError:
            return {}
        if decoded is UNKNOWN:
            return UNKNOWN
        tags = get(decoded, "tags") if isinstance(decoded, Mapping) else None
        if tags is UNKNOWN:
            return UNKNOWN
        return tags if isinstance(tags, dict) else {}


def resource_from_args(args: Any) -> Resource:
    """Build a Resource from pulumi_policy ``ResourceValidationArgs``."""
    provider = args.provider
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=plain(args.props),
        protect=bool(args.opts.protect) if args.opts is not None else False,
        provider_type=provider.resource_type if provider is not None else None,
        provider_props=plain(provider.props) if provider is not None else {},
    )


def resource_from_policy_resource(res: Any) -> Resource:
    """Build a Resource from a pulumi_policy ``PolicyResource`` (stack validation)."""
    provider = res.provider
    return Resource(
        type=res.resource_type,
        name=res.name,
        urn=res.urn,
        props=plain(res.props),
        protect=bool(res.opts.protect) if res.opts is not None else False,
        provider_type=provider.resource_type if provider is not None else None,
        provider_props=plain(provider.props) if provider is not None else {},
        deps={d.urn for d in res.dependencies},
        prop_deps={k: {d.urn for d in v} for k, v in res.property_dependencies.items()},
        parent=res.parent.urn if res.parent is not None else None,
    )


class Stack:
    """All resources of the stack with helpers to follow references between them.

    A reference is followed through ``property_dependencies`` (the engine records which resources
    an input was computed from; this works while ARNs/ids are still unknown at preview) and, when
    the input is a known literal, by comparing it with the target's known identifying properties.
    """

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def refers_to(self, src: Resource, prop: str, target: Resource, target_props: Iterable[str] = ()) -> bool:
        """Whether input ``prop`` of ``src`` was computed from (or literally names) ``target``."""
        if target.urn in src.prop_deps.get(prop, set()):
            return True
        if prop not in src.prop_deps and target.urn in src.deps and src.get(prop) is UNKNOWN:
            # No per-property record (older engines/mocks): an unknown input of a resource that
            # depends on the target is most plausibly that target's output.
            return True
        value = src.get(prop)
        if not isinstance(value, str) or not value:
            return False
        for name in target_props:
            known = target.get(name)
            if isinstance(known, str) and known == value:
                return True
        return False

    def referrers(
        self, target: Resource, types: Iterable[str], prop: str, target_props: Iterable[str] = ()
    ) -> list[Resource]:
        """Resources of ``types`` whose ``prop`` refers to ``target``."""
        type_set = set(types)
        props = tuple(target_props)
        return [r for r in self.resources if r.type in type_set and self.refers_to(r, prop, target, props)]

    def targets_of(
        self, src: Resource, prop: str, types: Iterable[str], target_props: Iterable[str] = ()
    ) -> list[Resource]:
        """Resources of ``types`` that input ``prop`` of ``src`` refers to."""
        props = tuple(target_props)
        return [t for t in self.of_type(*types) if self.refers_to(src, prop, t, props)]
