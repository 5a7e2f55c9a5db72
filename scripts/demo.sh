#!/usr/bin/env bash
# Build (see build.sh) and run the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${TP_BUILD_DIR:-build}"
scripts/build.sh
exec "$BUILD_DIR/tp" demo "$@"
