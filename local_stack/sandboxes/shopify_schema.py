"""The part of Shopify's Admin GraphQL schema (2026-10) that Keel's documents use, kept in the
repository so the Shopify sandbox runs without the published introspection beside it.

`shopify_admin_subset.graphql` is derived, never written by hand: every field Keel's documents
select (with all its arguments), the types those need (input objects and enums whole), an
interface's fields its kept implementations select, and the directives the documents use.
`python -m local_stack.sandboxes.shopify_schema` writes it again from the published schema;
tests/unit/test_shopify_schema_subset.py fails when it is not what that would write."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    TypeInfo,
    Visitor,
    build_client_schema,
    get_named_type,
    parse,
    print_schema,
    specified_directives,
    specified_scalar_types,
    validate,
    visit,
)
from graphql.type import introspection_types
from graphql.utilities import TypeInfoVisitor

from local_stack.sandboxes.specs import specs_dir

SUBSET_PATH = Path(__file__).with_name("shopify_admin_subset.graphql")
PUBLISHED = Path("shopify/admin-graphql/admin_2026-10.introspection.json.gz")


def published_path() -> Path:
    return specs_dir() / PUBLISHED


def load_published(path: Path | None = None) -> GraphQLSchema:
    with gzip.open(path or published_path()) as raw:
        return build_client_schema(json.load(raw)["data"])


def keel_documents() -> list[str]:
    """Every GraphQL document Keel's Shopify adapter sends."""
    from shared.channels.shopify import graphql as documents

    return [
        value
        for name, value in sorted(vars(documents).items())
        if name.endswith(("_QUERY", "_MUTATION")) and isinstance(value, str)
    ]


class _Selected(Visitor):
    def __init__(self, info: TypeInfo, fields: dict[str, set[str]], directives: set[str]) -> None:
        super().__init__()
        self._info, self._fields, self._directives = info, fields, directives

    def enter_field(self, node: Any, *_: Any) -> None:
        parent = self._info.get_parent_type()
        if parent is not None:
            self._fields.setdefault(parent.name, set()).add(node.name.value)

    def enter_directive(self, node: Any, *_: Any) -> None:
        self._directives.add(node.name.value)


def subset(published: GraphQLSchema, documents: Iterable[str]) -> str:
    """The SDL of `published` cut down to what `documents` use (each must be valid)."""
    fields: dict[str, set[str]] = {}
    directive_names: set[str] = set()
    for text in documents:
        document = parse(text)
        problems = validate(published, document)
        if problems:
            raise ValueError(f"not valid against the published schema: {problems[0].message}")
        info = TypeInfo(published)
        visit(document, TypeInfoVisitor(info, _Selected(info, fields, directive_names)))
    directives = [published.get_directive(name) for name in sorted(directive_names)]
    kept = _reachable(published, fields, [d for d in directives if d is not None])
    built: dict[str, GraphQLNamedType] = {}

    def wrap(kind: Any) -> Any:
        if isinstance(kind, GraphQLNonNull):
            return GraphQLNonNull(wrap(kind.of_type))
        if isinstance(kind, GraphQLList):
            return GraphQLList(wrap(kind.of_type))
        return named(kind.name)

    def arguments(args: dict[str, GraphQLArgument]) -> dict[str, GraphQLArgument]:
        return {
            k: GraphQLArgument(wrap(a.type), default_value=a.default_value)
            for k, a in sorted(args.items())
        }

    def named(name: str) -> Any:
        if name in introspection_types or name in specified_scalar_types:
            return published.get_type(name)
        if name in built:
            return built[name]
        t = published.get_type(name)
        new: GraphQLNamedType
        if isinstance(t, GraphQLScalarType):
            new = GraphQLScalarType(name)
        elif isinstance(t, GraphQLEnumType):
            new = GraphQLEnumType(name, {k: GraphQLEnumValue(k) for k in t.values})
        elif isinstance(t, GraphQLInputObjectType):

            def inputs(t: Any = t) -> dict[str, GraphQLInputField]:
                return {
                    k: GraphQLInputField(wrap(f.type), default_value=f.default_value)
                    for k, f in sorted(t.fields.items())
                }

            new = GraphQLInputObjectType(name, inputs)
        elif isinstance(t, (GraphQLObjectType, GraphQLInterfaceType)):
            chosen = sorted(fields.get(name, set()))

            def thunk(t: Any = t, chosen: list[str] = chosen) -> dict[str, GraphQLField]:
                return {
                    f: GraphQLField(wrap(t.fields[f].type), arguments(t.fields[f].args))
                    for f in chosen
                }

            interfaces = [i.name for i in t.interfaces if i.name in kept]
            if isinstance(t, GraphQLObjectType):
                new = GraphQLObjectType(
                    name, thunk, interfaces=lambda names=interfaces: [named(i) for i in names]
                )
            else:
                new = GraphQLInterfaceType(
                    name, thunk, interfaces=lambda names=interfaces: [named(i) for i in names]
                )
        elif isinstance(t, GraphQLUnionType):
            members = [m.name for m in t.types if m.name in kept]

            def member_types(members: list[str] = members) -> list[Any]:
                return [named(m) for m in members]

            new = GraphQLUnionType(name, member_types)
        else:
            raise TypeError(f"unexpected type {name}")
        built[name] = new
        return new

    query, mutation = published.query_type, published.mutation_type
    assert query is not None and mutation is not None
    schema = GraphQLSchema(
        query=named(query.name),
        mutation=named(mutation.name),
        types=[named(name) for name in sorted(kept)],
        directives=[
            *specified_directives,
            *(GraphQLDirective(d.name, d.locations, arguments(d.args)) for d in directives if d),
        ],
    )
    return print_schema(schema) + "\n"


def _reachable(
    published: GraphQLSchema, fields: dict[str, set[str]], directives: list[GraphQLDirective]
) -> set[str]:
    """Names of the types the subset needs; completes `fields` for interfaces (an interface
    keeps the fields its kept implementations select, so they still implement it)."""
    kept: set[str] = set()
    pending: list[Any] = []

    def want(kind: Any) -> None:
        t = get_named_type(kind)
        if t.name in introspection_types or t.name in specified_scalar_types or t.name in kept:
            return
        kept.add(t.name)
        pending.append(t)

    want(published.query_type)
    want(published.mutation_type)
    for name in fields:
        want(published.get_type(name))
    for directive in directives:
        for arg in directive.args.values():
            want(arg.type)
    while pending:
        while pending:
            t = pending.pop()
            if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType)):
                for name in fields.get(t.name, set()):
                    field = t.fields[name]
                    want(field.type)
                    for arg in field.args.values():
                        want(arg.type)
            elif isinstance(t, GraphQLInputObjectType):
                for input_field in t.fields.values():
                    want(input_field.type)
        for name in sorted(kept):
            t = published.get_type(name)
            if not isinstance(t, GraphQLInterfaceType):
                continue
            implementations = [o for o in published.get_possible_types(t) if o.name in kept]
            chosen = {
                f for f in t.fields if any(f in fields.get(o.name, ()) for o in implementations)
            } or {sorted(t.fields)[0]}
            if not chosen <= fields.get(name, set()):
                fields.setdefault(name, set()).update(chosen)
                pending.append(t)
            for o in implementations:
                if not chosen <= fields.get(o.name, set()):
                    fields.setdefault(o.name, set()).update(chosen)
                    pending.append(o)
    return kept


def main() -> None:
    SUBSET_PATH.write_text(subset(load_published(), keel_documents()))
    print(f"wrote {SUBSET_PATH} from {published_path()}")


if __name__ == "__main__":
    main()
