#!/usr/bin/env python3
"""Write the fake's object templates from the official Polar SDK (polar-sdk 1.0.2, module polar.v2026_10).

One file per list stream, ``templates/<stream>.json``: ``{"variants": {<SDK class>: <object>}, "literals":
{<field>: [values]}}``. Each variant of the stream's item type (``CustomerIndividual``, ``CustomerTeam``, the
eight benefits, ...) gets one object carrying every field of its type, optional ones included, filled from the
type alone: strings by a few name rules (ids, timestamps, URLs, emails, currencies), the first value of a
``Literal``, one element per variant in a list of a union (a product's prices: one of each price type), and a
nullable timestamp null (the fake decides when a thing was canceled, revoked or ended). ``literals`` lists the
values of each top-level ``Literal`` field with several (statuses, reasons) for the fake to cycle through.

The fake (``src/data.rs``) clones a template and writes only what a list's semantics need: ids, times, sort
fields, cross-references and amounts. Each template is checked here with the SDK's own loader.

Usage (Python 3.11 + ``pip install polar-sdk==1.0.2``), streams as in ``schemas/``::

    python3 integration_tests/fake-polar/templates/generate.py           # (re)write the templates
    python3 integration_tests/fake-polar/templates/generate.py --check   # exit 1 naming the files that differ
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from pathlib import Path

import typing_extensions

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "schemas"))

import generate as schemas  # noqa: E402  (the schema generator: stream names and SDK types)
from polar import base as polar_base  # noqa: E402
from polar.v2026_10 import outputs  # noqa: E402

# Placeholders the fake overwrites; they still load with the SDK (ids are UUIDs, times ISO 8601).
ID = "00000000-0000-4000-8000-000000000000"
TIME = "2026-01-01T00:00:00.000000Z"
# Strings by field name, where a readable value says more than the field's name.
STRINGS = {
    "timestamp": TIME,
    "email": "jane.doe@example.com",
    "currency": "usd",
    "presentment_currency": "usd",
    "country": "US",
    "state": "US-CA",
    "city": "San Francisco",
    "postal_code": "94107",
    "line1": "1 Market Street",
    "locale": "en-US",
    "mime_type": "application/pdf",
    "checksum_etag": "d41d8cd98f00b204e9800998ecf8427e",
    "checksum_sha256_base64": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=",
    "checksum_sha256_hex": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "unit_amount": "0.05",
    "minimum_amount": "0",
    "decline_reason": "insufficient_funds",
    "decline_message": "Your card has insufficient funds.",
    "brand": "visa",
    "customer_tax_id": "DE811907980",
    "payment_method_type": "card",
    "line2": "Suite 200",
}
# Streams whose list the fake makes of some variants only: its events stream holds usage events (the server
# writes the system events of the change log itself).
ONLY = {"events": ["UserEvent"]}
# Integer fields that are counts (at least one); other integers (amounts, fees, taxes, units) start at 0.
COUNTS = ("count", "seats", "quantity", "limit", "version", "interval_count", "size", "month", "year", "days")


def value(tp: object, name: str, stack: tuple[type, ...]) -> object:
    """An example JSON value of SDK type `tp` for a field called `name`."""
    tp = schemas._unwrap(tp)
    if tp is typing.Any or tp is object or tp is None or tp is type(None):
        return None
    if schemas._is_union(tp):
        members = [schemas._unwrap(m) for m in typing.get_args(tp)]
        present = [m for m in members if m is not type(None) and m is not None]
        if len(present) < len(members) and schemas.is_timestamp_name(name) and name != "modified_at":
            return None
        if set(present) == {int, float}:
            return 0
        return value(present[0], name, stack) if present else None
    origin = typing.get_origin(tp)
    if origin in (typing.Literal, typing_extensions.Literal):
        known = typing.get_args(tp)
        return STRINGS[name] if STRINGS.get(name) in known else known[0]
    if tp is str or (isinstance(tp, type) and issubclass(tp, str)):
        return string(name)
    if tp is bool:
        return False
    if tp is int:
        return 1 if any(word in name.split("_") for word in COUNTS) else 0
    if tp is float:
        return 0.0
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        args = [schemas._unwrap(a) for a in typing.get_args(tp) if a is not Ellipsis]
        if not args or args[0] is typing.Any:
            return []
        item = args[0]
        variants = typing.get_args(item) if schemas._is_union(item) else (item,)
        records = [v for v in variants if dataclasses.is_dataclass(v) or typing_extensions.is_typeddict(v)]
        records = [v for v in records if v not in stack]  # a recursive type (a filter's clauses) stops there
        if len(records) == 1:
            return [value(records[0], name, stack)]
        if len(records) > 1:  # one element of each variant
            return [value(v, name, stack) for v in records]
        return [value(item, name, stack)]
    if origin is dict or tp is dict:
        return {}
    if dataclasses.is_dataclass(tp) or typing_extensions.is_typeddict(tp):
        if stack.count(tp) >= 1:
            return {}
        hints = typing.get_type_hints(tp, include_extras=True)
        names = [f.name for f in dataclasses.fields(tp)] if dataclasses.is_dataclass(tp) else list(hints)
        return {field: value(hints[field], field, stack + (tp,)) for field in names}
    raise TypeError(f"unsupported type in SDK: {tp!r}")


def string(name: str) -> str:
    if name in STRINGS:
        return STRINGS[name]
    if name == "id" or name.endswith("_id"):
        return ID
    if schemas.is_timestamp_name(name):
        return TIME
    if name.endswith("url") or name.endswith("_uri"):
        return f"https://example.com/{name.removesuffix('_url')}"
    return name.replace("_", " ").capitalize()


def literals(cls: type) -> dict[str, list[object]]:
    """The top-level `Literal` fields of `cls` with more than one value, and the values."""
    found = {}
    for field, tp in typing.get_type_hints(cls).items():
        tp = schemas._unwrap(tp)
        members = typing.get_args(tp) if schemas._is_union(tp) else (tp,)
        values = [v for m in members if typing.get_origin(m) is typing.Literal for v in typing.get_args(m)]
        if 1 < len(values) <= schemas.MAX_KNOWN_VALUES:
            found[field] = values
    return found


def build() -> dict[str, str]:
    files = {}
    for stream in schemas.stream_names(REPO / "schemas", []):
        if stream in schemas.NOT_LISTS:
            continue
        tp = schemas.item_type(outputs, schemas.list_resource(outputs, stream))
        variants = typing.get_args(tp) if schemas._is_union(tp) else (tp,)
        variants = [v for v in variants if v.__name__ in ONLY.get(stream, [v.__name__])]
        templates, values = {}, {}
        for variant in variants:
            template = value(variant, "", ())
            polar_base.deserialize(template, variant)  # raises if the SDK cannot load it
            templates[variant.__name__] = template
            for field, known in literals(variant).items():
                values.setdefault(field, [])
                values[field] += [v for v in known if v not in values[field]]
        body = {"variants": templates, "literals": values}
        files[f"{stream}.json"] = json.dumps(body, indent=1, ensure_ascii=False) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if a file differs")
    args = parser.parse_args()
    files = build()
    if args.check:
        stale = [name for name, text in files.items() if not (HERE / name).is_file() or (HERE / name).read_text() != text]
        for name in stale:
            print(f"out of date: {HERE / name} (run {Path(__file__).name})", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        (HERE / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
