#!/usr/bin/env bash
# PyAirbyte end to end: PyAirbyte drives the release `source-polar` binary against `fake-polar` and reads
# every stream into a DuckDB cache (see test_pyairbyte.py).
#
# Needs the release binaries first: cargo build --release --workspace
#
# Environment:
#   VENV                  the virtualenv to create or reuse (default: <repo>/.venv-pyairbyte)
#   PYTHON                the interpreter to build it with (default: the first of python3.12, python3.11,
#                         python3.10, python3 that is 3.10 to 3.12, as airbyte requires)
#   SOURCE_POLAR_BIN_DIR  where source-polar and fake-polar are (default: <repo>/target/release)
#   PIP_CACHE_DIR         pip's cache, reused between runs (pip's default: ~/.cache/pip)
# Extra arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VENV:-$repo/.venv-pyairbyte}"
requirements="$here/requirements.txt"

bin_dir="${SOURCE_POLAR_BIN_DIR:-$repo/target/release}"
for binary in source-polar fake-polar; do
    if [[ ! -x "$bin_dir/$binary" ]]; then
        echo "run.sh: $bin_dir/$binary is missing: run 'cargo build --release --workspace' first" >&2
        exit 1
    fi
done

supported() { "$1" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; }

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    for candidate in python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
            python="$candidate"
            break
        fi
    done
    if [[ -z "$python" ]]; then
        echo "run.sh: no Python 3.10 to 3.12 found (airbyte needs one); set PYTHON" >&2
        exit 1
    fi
elif ! supported "$python"; then
    echo "run.sh: $python is not Python 3.10 to 3.12, which airbyte requires" >&2
    exit 1
fi

# A venv whose interpreter has gone (machine changed) is rebuilt.
if [[ -d "$venv" ]] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    echo "run.sh: $venv is broken; recreating it" >&2
    rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
    echo "run.sh: creating $venv with $("$python" --version 2>&1)" >&2
    "$python" -m venv "$venv"
fi
# Keep the venv out of git without touching the repo's .gitignore.
printf '*\n' > "$venv/.gitignore"

# Install only when the requirements (or the venv's Python) changed since the last install.
stamp="$venv/.requirements.sha256"
wanted="$( { cat "$requirements"; "$venv/bin/python" --version; } | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
    echo "run.sh: installing $requirements" >&2
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
fi

# No registry download, no telemetry, no live terminal display (the test sets these too).
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 NO_LIVE_PROGRESS=1
export SOURCE_POLAR_BIN_DIR="$bin_dir"

cd "$repo"
# -p no:cacheprovider: no .pytest_cache left in the repo. -s: show the tables and row counts it prints.
exec "$venv/bin/python" -m pytest "$here/test_pyairbyte.py" -v -s -p no:cacheprovider \
    -W ignore::DeprecationWarning -W ignore::FutureWarning "$@"
