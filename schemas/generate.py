#!/usr/bin/env python3
"""Generate the JSON Schemas of the source-polar streams from the official Polar SDK.

Ground truth: the ``polar-sdk`` package (PyPI), module ``polar.v2026_10`` by default
(``outputs.py`` and ``literals.py``).  Every stream is read from the ``items: list[X]``
annotation of its ``ListResource*`` class, so moving to a new API version is a matter
of passing ``--module polar.v2027_01`` (or changing ``DEFAULT_MODULE``).

Usage (Python 3.11, standard library + ``pip install polar-sdk==1.0.2``)::

    python3 schemas/generate.py            # (re)write schemas/<stream>.json
    python3 schemas/generate.py --check    # exit 1 and list the files that differ
    python3 schemas/generate.py --audit    # print the date-time decisions for review
    python3 schemas/generate.py --stream payouts   # also write the schema of a new stream

The streams are the schema files there are (every row of the stream table embeds one); a stream's SDK type
comes from its name (``ListResource<Singular>``, else ``...Read``; ``NOT_LISTS`` for the metrics).

Mapping rules
-------------
* The record itself is ``{"type": "object", "additionalProperties": true}`` with the
  item type's docstring as ``description`` (for a union item type only when every
  variant has the same docstring).  Every other schema is nullable:
  ``"type": ["null", T, ...]`` -- fields, array items and dict value schemas alike.
* ``str`` -> string, ``int`` -> integer, ``float`` -> number, ``bool`` -> boolean,
  ``None`` -> null.  A union made only of ``int`` and ``float`` becomes ``number``;
  in a wider union (e.g. metadata values ``str | int | float | bool``) each member
  keeps its own type.
* ``list[T]`` -> array with ``items``; ``list[Any]`` -> array without ``items``.
* dataclasses and TypedDicts -> object with ``properties`` (in the SDK's field order)
  and ``additionalProperties: true``.  ``dict[str, X]`` and extra-items TypedDicts
  (``_register_extra_items_typed_dict``) -> object whose ``additionalProperties`` is
  the schema of X (``true`` for ``Any``).  ``additionalProperties`` is never false.
* ``Literal[...]`` -> its base type, never ``enum`` (Polar adds values over time); up to
  ``MAX_KNOWN_VALUES`` known string values are listed in the description.
* Unions of object variants (Customer, Benefit, ProductPrice, ...) are flattened: the
  properties are the union of every variant's properties; a property present in several
  variants gets the merged type list, merged nested properties and the first non-empty
  description.  Where one variant is a dict (free keys, e.g. a user event's metadata), each
  property of the others also takes the dict's value types, and any other key the dict's
  value schema.  No ``$ref``/``allOf``/``anyOf``/``oneOf``/``not``/``definitions``.
* ``typing.Any`` as a field -> every JSON type (nullable).
* A type that contains itself (e.g. ``Filter.clauses: list[FilterClause | Filter]``)
  is expanded one nested level, then stops with a plain nullable object (``additionalProperties: true``).
* ``description`` comes from the docstring written under each field in the SDK.

Timestamps (``"format": "date-time"``)
--------------------------------------
The SDK types timestamps as plain ``str``.  A field gets ``"format": "date-time"`` when
its type includes ``str`` and

  1. its name ends in ``_at`` (``created_at``, ``modified_at``, ``canceled_at``,
     ``expires_at``, ``applies_at``, ... -- every one of them in v2026_10 is documented as
     a timestamp / "date and time" / "when ..."; the two without docstring are
     ``ProductMediaFileRead.created_at`` and ``.last_modified_at``), or
  2. its name ends in ``_timestamp`` (``OrderItemSchema.start_timestamp`` /
     ``end_timestamp``: "Start/End of the period covered by this line item"; the SDK's
     services call the same-named parameters "Start timestamp"), or
  3. its name is in ``NON_AT_TIMESTAMPS``, each one checked against its docstring:
     ``current_period_start`` / ``current_period_end`` ("The start/end timestamp of the
     current billing period"), ``current_meter_period_start`` /
     ``current_meter_period_end`` ("The start/end timestamp of the current meter
     period"), ``trial_start`` / ``trial_end`` ("The start/end timestamp of the trial
     period", Checkout: "End date and time of the trial period") and
     ``evidence_due_by`` (RefundDispute: "Deadline to submit evidence ..."), or
  4. its name and docstring are in ``DOCUMENTED_TIMESTAMPS``: every event's ``timestamp``
     ("The timestamp of the event.") and a metrics period's ("Timestamp of this period data.");
     ``BenefitGrantError.timestamp`` has no docstring and is left alone.

A field whose name is in ``NOT_TIMESTAMPS`` never gets the format.  When a property
merged from several variants is a timestamp in one and not in another, the format is
dropped.  ``--audit`` lists every chosen field with its docstring, and every other
string field whose docstring mentions a timestamp/date/time, to review on SDK updates.
"""

from __future__ import annotations

import argparse
import ast
import collections.abc
import dataclasses
import functools
import importlib
import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path

import typing_extensions

DEFAULT_MODULE = "polar.v2026_10"

# The streams that are not lists: their records' type, as `Class.field` in <module>.outputs.
NOT_LISTS: dict[str, str] = {"metrics": "MetricsResponse.periods"}


def list_resource(outputs: types.ModuleType, stream: str) -> str:
    """The SDK type of a stream's records, by its name: `ListResource<Singular>` (`customers`:
    `ListResourceCustomer`), else `ListResource<Singular>Read` (`license_keys`), or `NOT_LISTS`'s entry."""
    if stream in NOT_LISTS:
        return NOT_LISTS[stream]
    singular = "".join(part.capitalize() for part in stream.removesuffix("s").split("_"))
    for name in (f"ListResource{singular}", f"ListResource{singular}Read"):
        if hasattr(outputs, name):
            return name
    raise SystemExit(f"{stream}: no ListResource type for it in {outputs.__name__}")


def stream_names(schemas_dir: Path, added: list[str]) -> list[str]:
    """The streams: one per schema file (every row of the stream table has one, `include_str!` sees to it),
    and those `--stream` adds (a new row's schema is written before the row compiles)."""
    names = sorted(path.stem for path in schemas_dir.glob("*.json"))
    return names + [name for name in added if name not in names]


NON_AT_TIMESTAMPS = frozenset(
    {
        "current_period_start",
        "current_period_end",
        "current_meter_period_start",
        "current_meter_period_end",
        "trial_start",
        "trial_end",
        "evidence_due_by",
    }
)
# Fields that are timestamps where the SDK documents them so (by name and docstring, since the same name
# also stands undocumented elsewhere: ``BenefitGrantError.timestamp``).
DOCUMENTED_TIMESTAMPS: dict[str, frozenset[str]] = {
    "timestamp": frozenset({"The timestamp of the event.", "Timestamp of this period data."}),
}
NOT_TIMESTAMPS: frozenset[str] = frozenset()

MAX_KNOWN_VALUES = 30

SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"

# Order in which the JSON types of an `Any` are listed.
ALL_JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array")


def is_timestamp_name(name: str) -> bool:
    if name in NOT_TIMESTAMPS:
        return False
    return name.endswith("_at") or name.endswith("_timestamp") or name in NON_AT_TIMESTAMPS


# --------------------------------------------------------------------------------------
# Docstrings (dataclasses put an auto-generated signature in __doc__, and field
# docstrings are not kept at runtime, so they are read from the source).


@functools.cache
def _module_docs(module_name: str) -> dict[str, tuple[str | None, dict[str, str]]]:
    module = sys.modules[module_name]
    tree = ast.parse(inspect.getsource(module))
    docs: dict[str, tuple[str | None, dict[str, str]]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields: dict[str, str] = {}
        body = node.body
        for stmt, nxt in zip(body, body[1:]):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                fields[stmt.target.id] = _clean_doc(nxt.value.value)
        class_doc = ast.get_docstring(node, clean=True)
        docs[node.name] = (_clean_doc(class_doc) if class_doc else None, fields)
    return docs


def _clean_doc(text: str) -> str:
    return inspect.cleandoc(text).strip()


def class_doc(cls: type) -> str | None:
    entry = _module_docs(cls.__module__).get(cls.__qualname__)
    return entry[0] if entry else None


def field_doc(cls: type, field: str) -> str | None:
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", None)
        if module not in sys.modules or module == "builtins":
            continue
        try:
            entry = _module_docs(module).get(klass.__qualname__)
        except (OSError, TypeError):
            continue
        if entry and field in entry[1]:
            return entry[1][field] or None
    return None


# --------------------------------------------------------------------------------------
# Intermediate representation, merged across union variants, rendered at the end.


@dataclasses.dataclass
class Node:
    types: list[str] = dataclasses.field(default_factory=list)  # without "null"
    description: str | None = None
    # string part only: None = no string contribution seen yet
    string_format: str | None = None
    # known string values; None = unrestricted (or no string contribution)
    string_values: list[str] | None = None
    has_string: bool = False
    # object part
    properties: dict[str, Node] | None = None
    # dict value schema: None = no dict contribution; True = anything; Node = schema
    additional: Node | bool | None = None
    is_record: bool = False  # a dataclass / TypedDict contributed (fixed keys)
    # array part
    items: Node | None = None
    items_any: bool = False

    def add_type(self, t: str) -> None:
        if t not in self.types:
            self.types.append(t)


def merge(a: Node, b: Node) -> Node:
    out = Node()
    for t in a.types + b.types:
        out.add_type(t)
    out.description = a.description or b.description

    if a.has_string and b.has_string:
        out.has_string = True
        out.string_format = a.string_format if a.string_format == b.string_format else None
        if a.string_values is not None and b.string_values is not None:
            out.string_values = list(dict.fromkeys(a.string_values + b.string_values))
        else:
            out.string_values = None
    elif a.has_string or b.has_string:
        src = a if a.has_string else b
        out.has_string = True
        out.string_format = src.string_format
        out.string_values = src.string_values

    if a.properties is not None or b.properties is not None:
        props: dict[str, Node] = {}
        for side in (a, b):
            for name, node in (side.properties or {}).items():
                props[name] = merge(props[name], node) if name in props else node
        # A variant whose keys are free (a dict) may hold any key of the other variant, with its own value
        # type: a user event's metadata `{"amount": 1.5}` is as valid as a system event's integer amount.
        for side, other in ((a, b), (b, a)):
            if isinstance(side.additional, Node) and not side.is_record:
                for name in (other.properties or {}):
                    if name not in (side.properties or {}):
                        props[name] = merge(props[name], side.additional)
        out.properties = props
    out.is_record = a.is_record or b.is_record

    if a.additional is not None and b.additional is not None:
        if isinstance(a.additional, Node) and isinstance(b.additional, Node):
            out.additional = merge(a.additional, b.additional)
        else:
            out.additional = True
    else:
        out.additional = a.additional if a.additional is not None else b.additional
    # A dict value schema must not constrain the keys of a fixed-key variant, unless a variant is a dict
    # itself: then every key beyond the fixed ones is one of the dict's, and takes its value types.
    dict_variant = any(isinstance(side.additional, Node) and not side.is_record for side in (a, b))
    if out.is_record and isinstance(out.additional, Node) and not dict_variant:
        out.additional = True

    if a.items_any or b.items_any:
        out.items_any = True
    elif a.items is not None and b.items is not None:
        out.items = merge(a.items, b.items)
    else:
        out.items = a.items if a.items is not None else b.items
    return out


def _is_union(tp: object) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


_QUALIFIERS = tuple(
    q
    for q in (
        typing.Required,
        typing.NotRequired,
        typing_extensions.Required,
        typing_extensions.NotRequired,
        getattr(typing_extensions, "ReadOnly", None),
    )
    if q is not None
)


def _unwrap(tp: object) -> object:
    """Strip Annotated / Required / NotRequired / ReadOnly wrappers."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin is not None and origin in _QUALIFIERS:
            tp = typing.get_args(tp)[0]
        else:
            return tp


class Converter:
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.timestamps: dict[tuple[str, str], str | None] = {}
        self.other_time_like: dict[tuple[str, str], str | None] = {}

    def convert(self, tp: object, stack: tuple[type, ...]) -> Node:
        tp = _unwrap(tp)
        if tp is typing.Any or tp is object:
            node = Node()
            for t in ALL_JSON_TYPES:
                node.add_type(t)
            node.has_string = True
            node.properties = {}
            node.additional = True
            node.items_any = True
            return node
        if tp is None or tp is type(None):
            return Node()
        if _is_union(tp):
            members = [_unwrap(m) for m in typing.get_args(tp)]
            non_null = [m for m in members if m is not type(None) and m is not None]
            if non_null and set(non_null) == {int, float}:
                node = Node()
                node.add_type("number")
                return node
            result = Node()
            for member in members:
                result = merge(result, self.convert(member, stack))
            return result
        origin = typing.get_origin(tp)
        if origin is typing.Literal or origin is typing_extensions.Literal:
            result = Node()
            for value in typing.get_args(tp):
                result = merge(result, self._literal(value))
            return result
        if tp is str:
            node = Node(has_string=True)
            node.add_type("string")
            return node
        if tp is bool:
            node = Node()
            node.add_type("boolean")
            return node
        if tp is int:
            node = Node()
            node.add_type("integer")
            return node
        if tp is float:
            node = Node()
            node.add_type("number")
            return node
        if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
            node = Node()
            node.add_type("array")
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            if not args or any(_unwrap(a) is typing.Any for a in args):
                node.items_any = True
            else:
                item = Node()
                for arg in args:
                    item = merge(item, self.convert(arg, stack))
                node.items = item
            return node
        if origin in (dict, collections.abc.Mapping) or tp is dict:
            node = Node(properties={})
            node.add_type("object")
            args = typing.get_args(tp)
            value = _unwrap(args[1]) if len(args) == 2 else typing.Any
            node.additional = True if value is typing.Any else self.convert(value, stack)
            return node
        if dataclasses.is_dataclass(tp) or typing_extensions.is_typeddict(tp):
            return self._record(tp, stack)  # type: ignore[arg-type]
        if isinstance(tp, type) and issubclass(tp, str):  # str-based enums
            node = Node(has_string=True)
            node.add_type("string")
            return node
        raise TypeError(f"unsupported type in SDK: {tp!r}")

    def _literal(self, value: object) -> Node:
        node = Node()
        if value is None:
            return node
        if isinstance(value, bool):
            node.add_type("boolean")
        elif isinstance(value, int):
            node.add_type("integer")
        elif isinstance(value, float):
            node.add_type("number")
        elif isinstance(value, str):
            node.add_type("string")
            node.has_string = True
            node.string_values = [value]
        else:
            raise TypeError(f"unsupported Literal value in SDK: {value!r}")
        return node

    def _record(self, cls: type, stack: tuple[type, ...]) -> Node:
        node = Node(properties={}, is_record=True)
        node.add_type("object")
        node.additional = None
        # A recursive type (Filter inside Filter clauses) is expanded one nested level, then stops with a plain
        # object: Polar's own filters nest one level in practice.
        if stack.count(cls) >= 2:
            node.is_record = False
            return node
        hints = typing.get_type_hints(cls, include_extras=True)
        if dataclasses.is_dataclass(cls):
            names = [f.name for f in dataclasses.fields(cls)]
        else:
            names = list(hints)
        inner = stack + (cls,)
        for name in names:
            prop = self.convert(hints[name], inner)
            prop.description = field_doc(cls, name)
            doc = prop.description
            if prop.has_string and (
                is_timestamp_name(name) or doc in DOCUMENTED_TIMESTAMPS.get(name, frozenset())
            ):
                prop.string_format = "date-time"
                self.timestamps[(cls.__qualname__, name)] = doc
            elif prop.has_string and doc and re.search(
                r"\btimestamps?\b|\bdates?\b|\bdeadline\b", doc, re.IGNORECASE
            ):
                self.other_time_like[(cls.__qualname__, name)] = doc
            node.properties[name] = prop  # type: ignore[index]
        if typing_extensions.is_typeddict(cls):
            extra = getattr(cls, "__extra_items__", None)
            closed = getattr(cls, "__closed__", None)
            if extra is not None and extra is not typing_extensions.NoExtraItems:
                extra = _unwrap(extra)
                node.additional = True if extra is typing.Any else self.convert(extra, inner)
                node.is_record = False
            elif closed:
                self.warnings.append(
                    f"{cls.__qualname__} is a closed TypedDict; emitting additionalProperties: true"
                )
        return node


def render(node: Node, *, nullable: bool = True) -> dict[str, object]:
    out: dict[str, object] = {}
    description = node.description
    if node.has_string and node.string_values and len(node.string_values) <= MAX_KNOWN_VALUES:
        known = "Known values: " + ", ".join(f"`{v}`" for v in node.string_values) + "."
        description = f"{description} {known}" if description else known
    if description:
        out["description"] = description
    type_list = (["null"] if nullable else []) + node.types
    if not nullable and len(type_list) == 1:
        out["type"] = type_list[0]
    elif not type_list:
        out["type"] = "null"
    else:
        out["type"] = type_list
    if "string" in node.types and node.string_format:
        out["format"] = node.string_format
    if "object" in node.types:
        if isinstance(node.additional, Node):
            out["additionalProperties"] = render(node.additional)
        else:
            out["additionalProperties"] = True
        if node.properties:
            out["properties"] = {name: render(p) for name, p in node.properties.items()}
    if "array" in node.types and not node.items_any and node.items is not None:
        out["items"] = render(node.items)
    return out


# --------------------------------------------------------------------------------------


def item_type(outputs: types.ModuleType, list_resource: str) -> object:
    """The record type of a list resource (its ``items``), or of ``Class.field`` (a list field)."""
    class_name, _, field = list_resource.partition(".")
    cls = getattr(outputs, class_name)
    hints = typing.get_type_hints(cls, include_extras=True)
    items = _unwrap(hints[field or "items"])
    if typing.get_origin(items) is not list:
        raise TypeError(f"{list_resource} is not a list: {items!r}")
    return _unwrap(typing.get_args(items)[0])


def top_description(tp: object) -> str | None:
    variants = typing.get_args(tp) if _is_union(tp) else (tp,)
    docs = {class_doc(v) if isinstance(v, type) else None for v in variants}
    if len(docs) == 1:
        return docs.pop()
    return None


def build(module_name: str, converter: Converter, streams: list[str]) -> dict[str, str]:
    outputs = importlib.import_module(f"{module_name}.outputs")
    files: dict[str, str] = {}
    for stream in streams:
        tp = item_type(outputs, list_resource(outputs, stream))
        node = converter.convert(tp, ())
        if node.types != ["object"]:
            raise TypeError(f"{stream}: item type is not an object: {tp!r}")
        body = render(node, nullable=False)
        schema: dict[str, object] = {"$schema": SCHEMA_DIALECT}
        description = top_description(tp)
        if description:
            schema["description"] = description
        schema["type"] = "object"
        schema["additionalProperties"] = True
        schema["properties"] = body.get("properties", {})
        files[f"{stream}.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--module",
        default=DEFAULT_MODULE,
        help=f"SDK API-version module (default: {DEFAULT_MODULE})",
    )
    parser.add_argument(
        "--schemas-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="directory holding <stream>.json (default: this script's directory)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 listing the files that differ from a fresh generation",
    )
    parser.add_argument(
        "--audit",
        action="store_true",
        help="print the date-time decisions (and other time-like string fields) to stderr",
    )
    parser.add_argument(
        "--stream",
        action="append",
        default=[],
        help="also write the schema of this new stream (before its row in src/streams.rs compiles)",
    )
    args = parser.parse_args(argv)

    converter = Converter()
    files = build(args.module, converter, stream_names(args.schemas_dir, args.stream))
    for warning in converter.warnings:
        print(f"warning: {warning}", file=sys.stderr)

    if args.audit:
        print("date-time fields:", file=sys.stderr)
        for (cls, name), doc in sorted(converter.timestamps.items(), key=lambda x: (x[0][1], x[0][0])):
            print(f"  {cls}.{name}: {doc!r}", file=sys.stderr)
        print("other string fields whose docstring mentions time/date:", file=sys.stderr)
        for (cls, name), doc in sorted(converter.other_time_like.items(), key=lambda x: (x[0][1], x[0][0])):
            print(f"  {cls}.{name}: {doc!r}", file=sys.stderr)

    if args.check:
        differing = []
        for name, content in files.items():
            path = args.schemas_dir / name
            try:
                current = path.read_bytes()
            except FileNotFoundError:
                current = None
            if current != content.encode("utf-8"):
                differing.append(str(path))
        if differing:
            print("schemas out of date (run python3 schemas/generate.py):", file=sys.stderr)
            for path in differing:
                print(f"  {path}", file=sys.stderr)
            return 1
        return 0

    args.schemas_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (args.schemas_dir / name).write_bytes(content.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
