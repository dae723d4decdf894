#!/usr/bin/env python3
"""Validate Polar list pages with the official SDK's own loader (polar-sdk 1.0.2, API 2026-10).

Every page envelope ({"items": [...], "pagination": {...}}) of every stream is loaded with
``polar.base.deserialize(page, polar.v2026_10.outputs.ListResourceX)``, exactly as the SDK loads a
real API response. Needs Python 3.11+ and ``pip install polar-sdk==1.0.2``; nothing else.

Two sources of pages:
  --dump-dir DIR              DIR/<stream>.json as written by
                              `cargo run -p fake-polar --example dump -- DIR COUNT [SEED]`
  --base-url URL --token T    GET URL/v1/<stream>/?page=N&limit=100 with `Authorization: Bearer T`
                              and `Polar-Version: 2026-10`, following pagination.max_page

For each stream it prints the number of items checked and the variants seen. It exits 1 if an
item fails to load (reporting the SDK's error, the stream and the item index; the first failure of
each stream), or if an expected variant is missing: individual and team customers and all eight
benefit types always; with --all-variants also every product price type, one-time and recurring
products and every order, subscription, checkout, refund and organization status (taken from the
SDK's literals). With --strict-fields it also walks every object against the SDK's dataclasses
and fails on a missing field (even an optional one) or an unknown one, which the loader tolerates.
Exits 0 when everything passes.

Stream facts come from the connector's stream table (``source-polar streams --json``, run from
``--connector``, default ``target/release/source-polar``; or ``--facts FILE``): the streams, their paths,
and the SDK types (``ListResource<Singular>``, else ``ListResource<Singular>Read``). Before any page is
read, the table itself is checked against the SDK's services: each stream's path is a GET endpoint, its
scope one that endpoint takes, every sort key the connector sends one the endpoint allows, every filter one
of its parameters, and every system event it follows one the SDK knows.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import types
import sys
import typing
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

try:
    from adaptix import struct_trail
    from polar import base as polar_base
    from polar.v2026_10 import literals, outputs
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("sdk_check.py needs the Polar SDK: pip install polar-sdk==1.0.2")

API_VERSION = "2026-10"
PAGE_LIMIT = 100

REPO = Path(__file__).resolve().parent.parent


def load_facts(connector: Path | None, facts_file: Path | None) -> dict[str, typing.Any]:
    """The connector's stream table, as `source-polar streams --json` prints it."""
    if facts_file is not None:
        return json.loads(facts_file.read_text())
    binary = connector or REPO / "target/release/source-polar"
    out = subprocess.run([str(binary), "streams", "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def sdk_types(stream: dict[str, typing.Any]) -> tuple[typing.Any, typing.Any]:
    """(page type, item type) of a stream: `ListResource<Singular>` (or `...Read`) and its `items` type; the
    metrics response and its periods for a stream of periods."""
    if stream["shape"]["kind"] == "periods":
        return outputs.MetricsResponse, outputs.MetricPeriod
    singular = "".join(part.capitalize() for part in stream["name"].removesuffix("s").split("_"))
    for name in (f"ListResource{singular}", f"ListResource{singular}Read"):
        page = getattr(outputs, name, None)
        if page is not None:
            return page, typing.get_args(typing.get_type_hints(page)["items"])[0]
    raise SystemExit(f"no ListResource type in the SDK for stream {stream['name']}")


def sdk_endpoints() -> dict[str, dict[str, typing.Any]]:
    """Every GET endpoint of the SDK's services: path -> {scopes, parameters, sort keys (None: no `sorting`)}."""
    import polar.v2026_10.services as services

    endpoints: dict[str, dict[str, typing.Any]] = {}
    modules = [services] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(services.__path__, services.__name__ + ".")
    ]
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not cls.__name__.endswith("Sync") or cls.__module__ != module.__name__:
                continue
            for _, method in inspect.getmembers(cls, inspect.isfunction):
                source = inspect.getsource(method)
                found = re.search(r'method="GET",\s*url="([^"]+)"', source)
                if not found:
                    continue
                scopes = re.findall(r"`([a-z_]+:(?:read|write))`", (method.__doc__ or "").split("Args:")[0])
                signature = inspect.signature(method)
                sort_keys = None
                if "sorting" in signature.parameters:
                    annotation = typing.get_type_hints(method).get("sorting")
                    sort_keys = {
                        str(value)
                        for arg in typing.get_args(annotation)
                        for literal in typing.get_args(arg)
                        for value in typing.get_args(literal)
                    }
                endpoints[found.group(1)] = {
                    "scopes": set(scopes),
                    "parameters": set(signature.parameters),
                    "sort_keys": sort_keys,
                }
    return endpoints


def system_event_names() -> set[str]:
    return {
        str(value)
        for variant in typing.get_args(outputs.SystemEvent)
        for value in typing.get_args(typing.get_type_hints(variant)["name"])
    }


def facts_problems(facts: dict[str, typing.Any]) -> list[str]:
    """Where the stream table disagrees with the SDK (see the module's doc)."""
    endpoints = sdk_endpoints()
    events = system_event_names()
    problems = []
    for stream in facts["streams"] + [facts["change_log"]]:
        name, path = stream["name"], stream["path"]
        endpoint = endpoints.get(path) or endpoints.get(path.rstrip("/"))
        if endpoint is None:
            problems.append(f"{name}: the SDK has no GET {path}")
            continue
        if stream["scope"] not in endpoint["scopes"]:
            problems.append(f"{name}: {path} takes {sorted(endpoint['scopes'])}, not {stream['scope']}")
        sortings = [stream["sorting"], stream["null_tail"] or []]
        sortings += [window["sorting"] for window in (stream["incremental"] or {}).get("windows", [])]
        criteria = {criterion for sorting in sortings for criterion in sorting}
        if endpoint["sort_keys"] is None:
            # Polar ignores `sorting` there and lists by creation time, ascending: the table may say only that.
            if criteria - {"created_at"}:
                problems.append(f"{name}: {path} takes no sorting, the table sends {sorted(criteria)}")
        else:
            problems += [
                f"{name}: {path} does not sort by {criterion}"
                for criterion in sorted(criteria - endpoint["sort_keys"])
            ]
        problems += [
            f"{name}: {path} has no filter {filter}"
            for filter in stream["filters"]
            if filter not in endpoint["parameters"]
        ]
        followed = ((stream["incremental"] or {}).get("followed")) or {}
        problems += [
            f"{name}: the SDK knows no system event {event}"
            for event in followed.get("events", [])
            if event not in events
        ]
    return problems




def literal_values(alias: typing.Any) -> set[str]:
    return {str(v) for v in typing.get_args(alias)}


def union_names(alias: typing.Any) -> set[str]:
    return {t.__name__ for t in typing.get_args(alias)}


PRICE_TYPE_NAMES = union_names(
    typing.get_type_hints(outputs.Product)["prices"].__args__[0]
)


def variants(stream: str, item: typing.Any) -> list[tuple[str, str]]:
    """(dimension, value) pairs describing one loaded item."""
    match stream:
        case "discounts":
            # The SDK's union cannot tell its variants apart (a repeating discount loads as a once/forever one),
            # so the variants are told by the fields that define them.
            return [("type", item.type), ("duration", item.duration)]
        case "customers" | "benefits" | "custom_fields":
            return [("type", type(item).__name__)]
        case "events":
            return [("type", type(item).__name__), ("source", item.source)]
        case "metrics":
            return [("revenue", "some" if item.revenue else "none")]
        case "customer_meters":
            return [("modified", "never" if item.modified_at is None else "changed"), ("meter", item.meter.name)]
        case "payments":
            # The SDK's union loads a `kr_card` payment as a generic one: the method tells the variant.
            method = item.method if item.method in ("card", "kr_card") else "other"
            return [("method", method), ("status", item.status)]
        case "benefit_grants":
            state = "failed" if item.error else ("revoked" if item.is_revoked else "granted")
            return [("benefit", type(item.benefit).__name__), ("state", state)]
        case "checkout_links":
            return [("products", str(len(item.products))), ("discount", "yes" if item.discount else "no")]
        case "meters":
            return [("aggregation", type(item.aggregation).__name__)]
        case "products":
            seen = [("kind", "recurring" if item.is_recurring else "one_time")]
            seen += [("price", type(p).__name__) for p in item.prices]
            return seen
        case "orders":
            return [("status", item.status), ("billing_reason", item.billing_reason)]
        case "refunds":
            seen = [("status", item.status), ("reason", item.reason)]
            if item.dispute is not None:
                seen.append(("dispute", item.dispute.status))
            return seen
        case _:
            status = getattr(item, "status", None)
            return [("status", status)] if status is not None else []


def expected_variants(all_variants: bool) -> dict[str, dict[str, set[str]]]:
    expected: dict[str, dict[str, set[str]]] = {
        "customers": {"type": union_names(outputs.Customer)},
        "benefits": {"type": union_names(outputs.Benefit)},
        "custom_fields": {"type": union_names(outputs.CustomField)},
        "license_keys": {"status": literal_values(literals.LicenseKeyStatus)},
        "benefit_grants": {"benefit": union_names(outputs.Benefit), "state": {"granted", "revoked", "failed"}},
        "customer_meters": {"modified": {"never", "changed"}},
        "payments": {"method": {"card", "kr_card", "other"}, "status": literal_values(literals.PaymentStatus)},
        "discounts": {
            "type": literal_values(literals.DiscountType),
            "duration": literal_values(literals.DiscountDuration),
        },
    }
    if all_variants:
        expected["products"] = {"kind": {"one_time", "recurring"}, "price": PRICE_TYPE_NAMES}
        expected["orders"] = {
            "status": literal_values(literals.OrderStatus),
            "billing_reason": literal_values(literals.OrderBillingReason),
        }
        expected["subscriptions"] = {"status": literal_values(literals.SubscriptionStatus)}
        expected["checkouts"] = {"status": literal_values(literals.CheckoutStatus)}
        expected["refunds"] = {
            "status": literal_values(literals.RefundStatus),
            "reason": literal_values(literals.RefundReason),
        }
        expected["organizations"] = {"status": literal_values(literals.OrganizationStatus)}
    return expected


def pages_from_dump(directory: Path, stream: str) -> typing.Iterator[typing.Any]:
    path = directory / f"{stream}.json"
    with path.open("rb") as f:
        yield json.load(f)


def get_json(url: str, token: str) -> typing.Any:
    request = urllib.request.Request(
        url,
        headers={"Authorization": f"Bearer {token}", "Polar-Version": API_VERSION, "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def metrics_from_api(base_url: str, token: str) -> typing.Iterator[typing.Any]:
    """The daily metrics from the organization's first day to today, in spans of the limits' max_days (the
    limits themselves load with the SDK's MetricsLimits first)."""
    import datetime

    limits = get_json(f"{base_url.rstrip('/')}/v1/metrics/limits", token)
    polar_base.deserialize(limits, outputs.MetricsLimits)
    day = datetime.date.fromisoformat(limits["min_date"][:10])
    today = datetime.datetime.now(datetime.timezone.utc).date()
    step = datetime.timedelta(days=limits["intervals"]["day"]["max_days"] - 1)
    while day <= today:
        end = min(day + step, today)
        query = urllib.parse.urlencode(
            {"start_date": day.isoformat(), "end_date": end.isoformat(), "interval": "day", "timezone": "UTC"}
        )
        yield get_json(f"{base_url.rstrip('/')}/v1/metrics/?{query}", token)
        day = end + datetime.timedelta(days=1)


def pages_from_api(base_url: str, token: str, stream: str, path: str) -> typing.Iterator[typing.Any]:
    if stream == "metrics":
        yield from metrics_from_api(base_url, token)
        return
    page = 1
    while True:
        query = urllib.parse.urlencode({"page": page, "limit": PAGE_LIMIT})
        url = f"{base_url.rstrip('/')}{path}?{query}"
        request = urllib.request.Request(
            url,
            headers={
                "Authorization": f"Bearer {token}",
                "Polar-Version": API_VERSION,
                "Accept": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            envelope = json.load(response)
        yield envelope
        max_page = envelope.get("pagination", {}).get("max_page", 0)
        if not isinstance(max_page, int) or page >= max_page:
            return
        page += 1


def field_problems(value: typing.Any, hint: typing.Any, path: str) -> list[str]:
    """Fields missing from or unknown to the SDK type `hint`, anywhere inside `value`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return []
        # Of the members that load the value, judge it by the one it fits best: a variant with
        # an extra field (e.g. a repeating discount) also loads as its smaller sibling.
        best: list[str] | None = None
        for member in typing.get_args(hint):
            if member is type(None):
                continue
            try:
                polar_base.deserialize(value, member)
            except polar_base.PolarDeserializationError:
                continue
            problems = field_problems(value, member, path)
            if best is None or len(problems) < len(best):
                best = problems
        return best or []
    if origin is list and isinstance(value, list):
        (item_hint,) = typing.get_args(hint)
        return [p for i, v in enumerate(value) for p in field_problems(v, item_hint, f"{path}[{i}]")]
    if origin is dict and isinstance(value, dict):
        _, value_hint = typing.get_args(hint)
        return [p for k, v in value.items() for p in field_problems(v, value_hint, f"{path}.{k}")]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        hints = typing.get_type_hints(hint)
        names = [f.name for f in dataclasses.fields(hint)]
        problems = [f"{path}: missing field {n!r} of {hint.__name__}" for n in names if n not in value]
        problems += [f"{path}: unknown field {k!r} for {hint.__name__}" for k in value if k not in hints]
        for n in names:
            if n in value:
                problems += field_problems(value[n], hints[n], f"{path}.{n}")
        return problems
    return []


def describe(error: polar_base.PolarDeserializationError) -> str:
    """The SDK's message plus the leaf errors of adaptix's error tree, each with its field path
    (the SDK's own message only says "(1 sub-exception)")."""
    causes: list[str] = []

    def walk(e: BaseException, path: list[str]) -> None:
        path = path + [str(p) for p in struct_trail.get_trail(e)]
        subs = getattr(e, "exceptions", None)
        if subs:
            for sub in subs:
                walk(sub, path)
        else:
            detail = str(e)
            if len(detail) > 300:
                detail = detail[:300] + "..."
            causes.append(f"{'.'.join(path) or '<item>'}: {type(e).__name__}: {detail}")

    walk(error.error, [])
    return f"{error}" + "".join(f"\n    at {c}" for c in causes[:5])


def first_item_error(item_type: typing.Any, items: list[typing.Any]) -> tuple[int, str] | None:
    for index, item in enumerate(items):
        try:
            polar_base.deserialize(item, item_type)
        except polar_base.PolarDeserializationError as e:
            return index, describe(e)
    return None


def check_stream(
    facts: dict[str, typing.Any],
    pages: typing.Iterable[typing.Any],
    expected: dict[str, set[str]],
    strict_fields: bool = False,
) -> bool:
    stream = facts["name"]
    page_type, item_type = sdk_types(facts)
    # Where a response keeps its records: a list's `items`, the metrics' `periods`.
    items_key = "periods" if facts["shape"]["kind"] == "periods" else "items"
    seen: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    checked = 0
    ok = True
    try:
        for page_number, envelope in enumerate(pages, start=1):
            try:
                loaded = polar_base.deserialize(envelope, page_type)
            except polar_base.PolarDeserializationError as e:
                items = envelope.get(items_key) if isinstance(envelope, dict) else None
                located = first_item_error(item_type, items) if isinstance(items, list) else None
                if located is None:
                    print(f"FAIL {stream}: page {page_number}: {describe(e)}")
                else:
                    index, message = located
                    print(f"FAIL {stream}: item {checked + index} (page {page_number}, index {index}): {message}")
                ok = False
                break
            if strict_fields:
                for index, raw in enumerate(envelope[items_key]):
                    problems = field_problems(raw, item_type, "item")
                    if problems:
                        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                        print(f"FAIL {stream}: item {checked + index} (page {page_number}): {problems[0]}{more}")
                        ok = False
                        break
                if not ok:
                    break
            loaded_items = getattr(loaded, items_key)
            for item in loaded_items:
                for dimension, value in variants(stream, item):
                    seen[dimension][value] += 1
            checked += len(loaded_items)
    except (OSError, urllib.error.URLError, json.JSONDecodeError) as e:
        print(f"FAIL {stream}: could not read pages: {e}")
        ok = False

    summary = "; ".join(
        f"{dimension}: " + ", ".join(f"{value}={count}" for value, count in sorted(counts.items()))
        for dimension, counts in seen.items()
    )
    checked_note = "items checked" if ok else "items checked before the failure"
    print(f"{stream}: {checked} {checked_note}" + (f" | {summary}" if summary else ""))
    for dimension, wanted in expected.items():
        missing = sorted(wanted - set(seen.get(dimension, {})))
        if missing and ok:
            print(f"FAIL {stream}: missing {dimension} variants: {', '.join(missing)}")
            ok = False
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dump-dir", type=Path, help="directory with <stream>.json page files")
    source.add_argument("--base-url", help="server base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--token", help="bearer token (with --base-url)")
    parser.add_argument("--streams", help="comma-separated subset of streams (default: all)")
    parser.add_argument(
        "--all-variants",
        action="store_true",
        help="also require every price type and every status of the other streams",
    )
    parser.add_argument(
        "--strict-fields",
        action="store_true",
        help="also fail on fields missing from (even optional) or unknown to the SDK types",
    )
    parser.add_argument("--connector", type=Path, help="the source-polar binary (default target/release/source-polar)")
    parser.add_argument("--facts", type=Path, help="the output of `source-polar streams --json`, instead of --connector")
    args = parser.parse_args()
    if args.base_url and not args.token:
        parser.error("--base-url needs --token")

    facts = load_facts(args.connector, args.facts)
    problems = facts_problems(facts)
    for problem in problems:
        print(f"FAIL stream table: {problem}")
    print(f"stream table: {len(facts['streams'])} streams checked against the SDK's services")
    by_name = {stream["name"]: stream for stream in facts["streams"]}
    streams = list(by_name) if not args.streams else [s.strip() for s in args.streams.split(",") if s.strip()]
    if args.dump_dir is not None and not args.streams:
        # The dump holds the lists only.
        streams = [s for s in streams if by_name[s]["shape"]["kind"] == "list"]
    unknown = [s for s in streams if s not in by_name]
    if unknown:
        parser.error(f"unknown streams: {', '.join(unknown)}")

    expected = expected_variants(args.all_variants)
    all_ok = not problems
    for stream in streams:
        if args.dump_dir is not None:
            pages = pages_from_dump(args.dump_dir, stream)
        else:
            pages = pages_from_api(args.base_url, args.token, stream, by_name[stream]["path"])
        all_ok &= check_stream(by_name[stream], pages, expected.get(stream, {}), args.strict_fields)
    print("all streams passed" if all_ok else "some streams failed")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
