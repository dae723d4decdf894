"""PyAirbyte end to end: the real `source-polar` binary, driven by PyAirbyte, against `fake-polar`.

What it proves: PyAirbyte can check the connector, discover its streams, read them all into a
DuckDB cache with exactly the rows the server holds, and type the columns as the connector's schemas say
(`created_at` a timestamp, amounts BIGINT). It reads twice: PyAirbyte's default read (which asks for
`incremental` on every stream; the seven with a change signal sync incrementally, the others in full) and
`force_full_refresh=True`. After the default read, the fake changes (creates, updates, deleted customers,
late events) and a second default read into the same cache hands the connector PyAirbyte's saved state: it
reads only what changed, and the cached tables equal the server's.

Runs without the internet: offline mode (no registry download, no telemetry) and a local executable.

Binaries: `$SOURCE_POLAR_BIN_DIR` (default `<repo>/target/release`) must hold `source-polar` and `fake-polar`
(`cargo build --release --workspace`).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

# PyAirbyte reads these when it is imported, so they are set before the import below.
_SCRATCH = Path(tempfile.mkdtemp(prefix="pyairbyte-source-polar-"))
os.environ["AIRBYTE_OFFLINE_MODE"] = "1"  # no connector registry download, no telemetry
os.environ["DO_NOT_TRACK"] = "1"  # telemetry off (offline mode implies it; belt and braces)
os.environ["AIRBYTE_LOCAL_REGISTRY"] = "0"  # registry disabled even if offline mode were ignored
os.environ["NO_LIVE_PROGRESS"] = "1"  # plain progress lines, no live terminal display
os.environ.setdefault("AIRBYTE_PROJECT_DIR", str(_SCRATCH / "project"))  # not the repo's cwd
os.environ.setdefault("AIRBYTE_CACHE_ROOT", str(_SCRATCH / "cache"))
os.environ.setdefault("AIRBYTE_LOGGING_ROOT", str(_SCRATCH / "logs"))
os.environ.setdefault("AIRBYTE_PRINT_FULL_ERROR_LOGS", "1")  # a failure shows the connector's log
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)

import airbyte as ab  # noqa: E402
import pytest  # noqa: E402
import sqlalchemy  # noqa: E402
from airbyte.caches import DuckDBCache  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("SOURCE_POLAR_BIN_DIR") or REPO / "target" / "release").resolve()
SOURCE_BIN = BIN_DIR / "source-polar"
FAKE_BIN = BIN_DIR / "fake-polar"

TOKEN = "polar_oat_FAKE0123456789abcdefghijklmnopqrstuvwx"  # fake_polar::TOKEN
RECORDS = 230
# The connector's stream table (`source-polar streams --json`): every stream, and those that sync incrementally.
_FACTS = json.loads(
    subprocess.run([str(SOURCE_BIN), "streams", "--json"], check=True, capture_output=True, text=True).stdout
)
STREAMS = [stream["name"] for stream in _FACTS["streams"]]
EXPECTED_ROWS = {name: (1 if name == "organizations" else RECORDS) for name in STREAMS}
# Metrics: one row per day from the organization's first to today (set from the server once it runs).
EXPECTED_ROWS["metrics"] = -1
# The streams that sync incrementally (Polar records their changes); the others are read in full every time.
INCREMENTAL = [stream["name"] for stream in _FACTS["streams"] if "incremental" in stream["sync_modes"]]


def created_column(stream: str) -> str:
    """When a record was created: `created_at`; an event's or a metrics period's `timestamp`."""
    return "timestamp" if stream in ("events", "metrics") else "created_at"


def primary_key(stream: str) -> str:
    """The connector's primary key (`id`; a metrics period's `timestamp`), by the stream table."""
    return next(facts["primary_key"] for facts in _FACTS["streams"] if facts["name"] == stream)


# Columns whose DuckDB type the schemas decide: (table, column) -> accepted type names.
TIMESTAMP_TYPES = {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}
EXPECTED_TYPES = {
    **{(name, created_column(name)): TIMESTAMP_TYPES for name in STREAMS},
    ("orders", "total_amount"): {"BIGINT"},
    ("orders", "net_amount"): {"BIGINT"},
    ("subscriptions", "amount"): {"BIGINT"},
    ("refunds", "amount"): {"BIGINT"},
    ("checkouts", "amount"): {"BIGINT"},
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    request = urllib.request.Request(f"{url}/v1/organizations/", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback only)
            return response.status == 200
    except urllib.error.HTTPError:
        return True  # it answered, even if not with 200
    except OSError:
        return False


@pytest.fixture()
def fake_polar():
    """Starts `fake-polar serve` on a free loopback port; yields its base URL."""
    for binary in (SOURCE_BIN, FAKE_BIN):
        if not binary.is_file():
            pytest.fail(
                f"{binary} is missing: run `cargo build --release --workspace` or set SOURCE_POLAR_BIN_DIR",
                pytrace=False,
            )
    port = _free_port()
    process = subprocess.Popen(
        [str(FAKE_BIN), "serve", "--port", str(port), "--records", str(RECORDS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            if process.poll() is not None:
                pytest.fail(f"fake-polar exited with {process.returncode}: {''.join(output)}")
            if time.monotonic() > deadline:
                pytest.fail(f"fake-polar did not answer on {url} within 30 s: {''.join(output)}")
            time.sleep(0.1)
        printed = "".join(output)
        if printed and not re.search(rf"127\.0\.0\.1:{port}\b", printed):
            pytest.fail(f"fake-polar is not on the port it was given: {printed}")
        import json

        with urllib.request.urlopen(f"{url}/_fake/objects/metrics", timeout=10) as response:  # noqa: S310
            EXPECTED_ROWS["metrics"] = len(json.load(response))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture()
def source(fake_polar):
    return ab.get_source(
        "source-polar",
        config={
            "organization_access_token": TOKEN,
            "base_url": fake_polar,
            "requests_per_minute": 100_000,
        },
        local_executable=SOURCE_BIN,
        install_if_missing=False,
    )


def _query(cache: DuckDBCache, sql: str) -> list[tuple]:
    with cache.get_sql_engine().connect() as connection:
        return [tuple(row) for row in connection.execute(sqlalchemy.text(sql)).fetchall()]


def _scalar(cache: DuckDBCache, sql: str):
    (row,) = _query(cache, sql)
    return row[0]


def _table(cache: DuckDBCache, stream: str) -> str:
    """The stream's table, schema-qualified and quoted."""
    return f'"{cache.schema_name}"."{cache.processor.get_sql_table_name(stream)}"'


def _table_names(cache: DuckDBCache) -> list[str]:
    rows = _query(
        cache,
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = '{cache.schema_name}' ORDER BY table_name",
    )
    return [row[0] for row in rows]


def _column_types(cache: DuckDBCache, stream: str) -> dict[str, str]:
    rows = _query(
        cache,
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{cache.schema_name}' "
        f"AND table_name = '{cache.processor.get_sql_table_name(stream)}'",
    )
    return {name: data_type.upper() for name, data_type in rows}


def _check_cache(cache: DuckDBCache, label: str) -> None:
    """Row counts, unique ids, column types and typed values of all tables; prints what it saw."""
    tables = _table_names(cache)
    print(f"[{label}] DuckDB {cache.db_path}, schema {cache.schema_name}")
    print(f"[{label}] tables: {tables}")

    counts: dict[str, int] = {}
    for name in STREAMS:
        table = cache.processor.get_sql_table_name(name)
        assert table in tables, f"table {table} for stream {name} is missing"
        counts[name] = _scalar(cache, f"SELECT COUNT(*) FROM {_table(cache, name)}")
        types = _column_types(cache, name)
        shown = {column: types.get(column) for (t, column) in EXPECTED_TYPES if t == name}
        print(f"[{label}] {table}: {counts[name]} rows, {len(types)} columns, {shown}")
    assert counts == EXPECTED_ROWS

    for name in STREAMS:
        # No duplicated and no missing primary keys; every creation time parsed into a timestamp.
        created = created_column(name)
        distinct_ids, null_created = _query(
            cache,
            f'SELECT COUNT(DISTINCT "{primary_key(name)}"), COUNT(*) - COUNT("{created}") FROM {_table(cache, name)}',
        )[0]
        assert distinct_ids == EXPECTED_ROWS[name], f"{name}: {distinct_ids} distinct ids"
        assert null_created == 0, f"{name}: {null_created} rows with a NULL created_at"

    for (name, column), accepted in EXPECTED_TYPES.items():
        actual = _column_types(cache, name).get(column)
        assert actual in accepted, f"{name}.{column} is {actual}, expected one of {sorted(accepted)}"

    # Amounts arrive as integers, not floats or strings.
    total = _scalar(cache, f"SELECT SUM(total_amount) FROM {_table(cache, 'orders')}")
    assert isinstance(total, int), f"SUM(orders.total_amount) is {total!r}"
    assert total > 0


def _read(source, cache: DuckDBCache, *, force_full_refresh: bool, label: str) -> None:
    result = source.read(cache=cache, force_full_refresh=force_full_refresh)
    # What PyAirbyte reports matches what the server holds.
    read_counts = {name: len(dataset) for name, dataset in result.streams.items()}
    print(f"\n[{label}] PyAirbyte read: {result.processed_records} records, {read_counts}")
    assert read_counts == EXPECTED_ROWS
    assert result.processed_records == sum(EXPECTED_ROWS.values())
    _check_cache(cache, label)


def test_check_and_discover(source) -> None:
    source.check()
    assert sorted(source.get_available_streams()) == sorted(STREAMS)
    for stream in source.discovered_catalog.streams:
        assert stream.source_defined_primary_key == [[primary_key(stream.name)]], stream.name
        assert created_column(stream.name) in stream.json_schema["properties"], stream.name


@pytest.mark.parametrize("force_full_refresh", [False, True], ids=["default-read", "force-full-refresh"])
def test_read_into_duckdb(source, fake_polar, force_full_refresh: bool, tmp_path: Path) -> None:
    source.check()
    source.select_all_streams()

    # What PyAirbyte will send: its default read asks for incremental on every stream (the connector reads
    # those without a change signal in full); force_full_refresh asks for full_refresh.
    catalog = source.get_configured_catalog(force_full_refresh=force_full_refresh)
    modes = {stream.sync_mode.value for stream in catalog.streams}
    assert modes == ({"full_refresh"} if force_full_refresh else {"incremental"})
    assert {stream.destination_sync_mode.value for stream in catalog.streams} == {"overwrite"}

    # The file's name is DuckDB's catalog name: it must differ from the schema's.
    cache = DuckDBCache(db_path=tmp_path / "source_polar_cache.duckdb", schema_name="polar")
    label = "force_full_refresh=True" if force_full_refresh else "default read"
    _read(source, cache, force_full_refresh=force_full_refresh, label=label)

    if not force_full_refresh:
        # Polar changes (records created, updated, customers deleted, some events late), then a second default
        # read into the same cache hands the connector the state the first one saved: it reads only what
        # changed, and the cached tables equal the server's.
        _post(f"{fake_polar}/_fake/change-round/0")
        result = source.read(cache=cache, force_full_refresh=False)
        # Streams without a change signal are read in full, and so is any stream whose changes would cost
        # more requests to read again than the whole (small) stream; the rest read only their changes.
        print(f"\n[incremental read] {result.processed_records} records")
        assert result.processed_records < sum(EXPECTED_ROWS.values()) - 2 * RECORDS, "the second read is incremental"
        _check_incremental_cache(cache, fake_polar)


def _post(url: str) -> None:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
        assert response.status == 204


def _server_objects(base: str, stream: str) -> dict[str, dict]:
    import json

    with urllib.request.urlopen(f"{base}/_fake/objects/{stream}", timeout=10) as response:  # noqa: S310
        return {item["id"]: item for item in json.load(response)}


def _check_incremental_cache(cache: DuckDBCache, base: str) -> None:
    """Each incremental table, without the rows marked deleted, holds exactly the server's records at their
    latest version (modified_at, which the fake sets on each update; an event's timestamp, as events never
    change)."""
    for name in INCREMENTAL:
        server = _server_objects(base, name)
        version = "timestamp" if name == "events" else "modified_at"
        rows = _query(
            cache,
            f'SELECT id, CAST("{version}" AS VARCHAR), _ab_cdc_deleted_at FROM {_table(cache, name)}',
        )
        live = {row_id: modified for row_id, modified, deleted in rows if deleted is None}
        deleted = [row_id for row_id, _, deleted_at in rows if deleted_at is not None]
        print(f"[incremental read] {name}: {len(live)} rows, {len(deleted)} marked deleted, server {len(server)}")
        assert len(rows) == len({row[0] for row in rows}), f"{name}: duplicate ids in the cache"
        assert set(live) == set(server), f"{name}: ids differ from the server's"
        for row_id, modified in live.items():
            expected = server[row_id][version]
            if expected is None:
                assert modified is None, f"{name} {row_id}: modified_at {modified}, server null"
            else:
                assert modified is not None and _same_instant(modified, expected), (
                    f"{name} {row_id}: modified_at {modified}, server {expected}"
                )
    assert _query(cache, f"SELECT COUNT(*) FROM {_table(cache, 'customers')} WHERE _ab_cdc_deleted_at IS NOT NULL")[0][0] >= 2


def _same_instant(cached: str, polar: str) -> bool:
    from datetime import datetime, timezone

    def parse(text: str) -> datetime:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    return parse(cached) == parse(polar)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v", "-s"]))
