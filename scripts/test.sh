#!/usr/bin/env bash
# Build (see build.sh) and run the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${TP_BUILD_DIR:-build}"
scripts/build.sh "$@"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"${TP_TEST_JOBS:-2}" --timeout 600
