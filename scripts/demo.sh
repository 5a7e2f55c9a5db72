#!/usr/bin/env bash
# Main demo: build, then run a producer and a consumer as separate processes
# over the embedded IPC transport, with SHM regions and transport logs in a
# private temp dir; move frames for a few seconds, print rates and
# publish-to-callback latency (p50/p99), clean up.
#
#   scripts/demo.sh [cmake args...]
#   TP_DEMO_SIZE=65536 TP_DEMO_RATE=10000 TP_DEMO_SECONDS=3 TP_DEMO_CLAIM=1 scripts/demo.sh
#
# TP_DEMO_BACKEND=aeron runs the same demo over the aeron transport backend
# (build with Aeron, e.g. scripts/demo.sh -DTP_WITH_AERON=ON -DTP_AERON_ROOT=/opt/aeron):
# `tp media-driver` runs the Aeron media driver on a private Aeron directory for
# the whole demo and both processes attach to it; TP_DEMO_AERON_DIR=<dir> uses
# a media driver already running there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${TP_BUILD_DIR:-build}"
scripts/build.sh "$@" >/dev/null
SIZE="${TP_DEMO_SIZE:-65536}"
RATE="${TP_DEMO_RATE:-10000}"
SECONDS_RUN="${TP_DEMO_SECONDS:-3}"
CLAIM=()
[ "${TP_DEMO_CLAIM:-0}" = "1" ] && CLAIM=(--claim)

BASE=/dev/shm
[ -d "$BASE" ] && [ -w "$BASE" ] || BASE="${TMPDIR:-/tmp}"
DIR="$(mktemp -d "$BASE/tp-demo-XXXXXX")"
CONSUMER_PID=""
DRIVER_PID=""
cleanup() {
    if [ -n "$CONSUMER_PID" ] && kill -0 "$CONSUMER_PID" 2>/dev/null; then kill "$CONSUMER_PID" 2>/dev/null || true; fi
    if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
        kill "$DRIVER_PID" 2>/dev/null || true
        wait "$DRIVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
mkdir "$DIR/shm" "$DIR/transport"

BACKEND="${TP_DEMO_BACKEND:-embedded}"
TRANSPORT_DIR="$DIR/transport"
DESC="embedded IPC transport"
case "$BACKEND" in
    embedded) ;;
    aeron)
        export TP_TRANSPORT_BACKEND=aeron
        unset TP_AERON_EMBEDDED_DRIVER
        if [ -n "${TP_DEMO_AERON_DIR:-}" ]; then
            TRANSPORT_DIR="$TP_DEMO_AERON_DIR"
            DESC="aeron transport backend, media driver at $TRANSPORT_DIR"
        else
            TRANSPORT_DIR="$DIR/aeron"
            "$BUILD_DIR/tp" media-driver --dir "$TRANSPORT_DIR" > "$DIR/driver.json" &
            DRIVER_PID=$!
            for _ in $(seq 100); do
                grep -q '"up"' "$DIR/driver.json" 2>/dev/null && break
                kill -0 "$DRIVER_PID" 2>/dev/null || { echo "tp media-driver failed (build with -DTP_WITH_AERON=ON)" >&2; exit 1; }
                sleep 0.1
            done
            DESC="aeron transport backend, media driver (tp media-driver) on $TRANSPORT_DIR"
        fi
        ;;
    *) echo "TP_DEMO_BACKEND must be embedded or aeron" >&2; exit 2 ;;
esac

echo "tensorpool demo: producer and consumer processes, $DESC, SHM under $DIR"
echo "  ${SIZE}-byte tensors at ${RATE} frames/s for ${SECONDS_RUN} s (${CLAIM[*]:-copy path})"
"$BUILD_DIR/tp_example_consumer" --transport-dir "$TRANSPORT_DIR" --shm-dir "$DIR/shm" \
    --duration "$((SECONDS_RUN + 3))" --until-seq "$((RATE * SECONDS_RUN - 1))" --check sample --idle yield \
    > "$DIR/consumer.json" &
CONSUMER_PID=$!
"$BUILD_DIR/tp_example_producer" --transport-dir "$TRANSPORT_DIR" --shm-dir "$DIR/shm" \
    --size "$SIZE" --rate "$RATE" --frames "$((RATE * SECONDS_RUN))" --wait-consumers 1 --announce-ms 200 \
    --linger-ms 300 "${CLAIM[@]}" > "$DIR/producer.json"
wait "$CONSUMER_PID" || true
CONSUMER_PID=""

python3 - "$DIR/producer.json" "$DIR/consumer.json" <<'PY'
import json, sys
p = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
c = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print(f"producer: {p['frames']} frames in {p['seconds']:.2f} s = {p['fps']:.0f} frames/s, "
      f"{p['MBps']:.1f} MB/s (epoch {p['epoch']}, descriptors {p['descriptors']})")
print(f"consumer: {c['frames']} frames, {c['intact']} intact, {c['torn']} torn, "
      f"drops gap {c['drops_gap']} late {c['drops_late']}, {c['MBps']:.1f} MB/s")
print(f"latency publish -> callback (same host, CLOCK_MONOTONIC): "
      f"p50 {c['p50_ns']/1000:.1f} us, p99 {c['p99_ns']/1000:.1f} us")
sys.exit(0 if c['torn'] == 0 and c['frames'] > 0 else 1)
PY
