#!/usr/bin/env bash
# Main demo: build, then run the SHM driver (tp driver), a producer and a
# consumer as three processes over the embedded IPC transport, with SHM
# regions and transport logs in a private temp dir. The producer and the
# consumer attach through the driver, which creates and owns the regions.
# Move frames for a few seconds, print rates and publish-to-callback latency
# (p50/p99), clean up.
#
#   scripts/demo.sh [cmake args...]
#   TP_DEMO_SIZE=65536 TP_DEMO_RATE=10000 TP_DEMO_SECONDS=3 TP_DEMO_CLAIM=1 scripts/demo.sh
#   TP_DEMO_MODE=standalone scripts/demo.sh   # no driver: the producer creates its own regions
#   TP_DEMO_IDLE=yield scripts/demo.sh        # consumer idle strategy: spin (default: lowest latency, one core), yield, backoff
#
# TP_DEMO_BACKEND=aeron runs the same demo over the aeron transport backend
# (build with Aeron, e.g. scripts/demo.sh -DTP_WITH_AERON=ON -DTP_AERON_ROOT=/opt/aeron):
# `tp media-driver` runs the Aeron media driver on a private Aeron directory for
# the whole demo and every process attaches to it; TP_DEMO_AERON_DIR=<dir> uses
# a media driver already running there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${TP_BUILD_DIR:-build}"
scripts/build.sh "$@" >/dev/null
SIZE="${TP_DEMO_SIZE:-65536}"
RATE="${TP_DEMO_RATE:-10000}"
SECONDS_RUN="${TP_DEMO_SECONDS:-3}"
MODE="${TP_DEMO_MODE:-driver}"
CLAIM=()
[ "${TP_DEMO_CLAIM:-0}" = "1" ] && CLAIM=(--claim)

BASE=/dev/shm
[ -d "$BASE" ] && [ -w "$BASE" ] || BASE="${TMPDIR:-/tmp}"
DIR="$(mktemp -d "$BASE/tp-demo-XXXXXX")"
CONSUMER_PID=""
DRIVER_PID=""
SHM_DRIVER_PID=""
stop() { # stop one of our own background processes and wait for it
    if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}
cleanup() {
    stop "$CONSUMER_PID"
    stop "$SHM_DRIVER_PID"
    stop "$DRIVER_PID"
    rm -rf "$DIR"
}
trap cleanup EXIT
mkdir "$DIR/shm" "$DIR/transport"

# wait_up FILE PID WHAT: until FILE has the process's '"up"' line
wait_up() {
    for _ in $(seq 100); do
        grep -q '"up"' "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { echo "$3 failed to start: $(cat "$1" 2>/dev/null)" >&2; exit 1; }
        sleep 0.1
    done
    echo "$3 did not come up in 10 s" >&2
    exit 1
}

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
            "$BUILD_DIR/tp" media-driver --dir "$TRANSPORT_DIR" > "$DIR/media_driver.json" &
            DRIVER_PID=$!
            wait_up "$DIR/media_driver.json" "$DRIVER_PID" "tp media-driver (build with -DTP_WITH_AERON=ON)"
            DESC="aeron transport backend, media driver (tp media-driver) on $TRANSPORT_DIR"
        fi
        ;;
    *) echo "TP_DEMO_BACKEND must be embedded or aeron" >&2; exit 2 ;;
esac

CLIENT_ARGS=(--transport-dir "$TRANSPORT_DIR" --shm-dir "$DIR/shm")
case "$MODE" in
    driver)
        STRIDE=64
        while [ "$STRIDE" -lt "$SIZE" ]; do STRIDE=$((STRIDE * 2)); done
        printf '%s\n' "[driver]" "transport_dir = \"$TRANSPORT_DIR\"" "[shm]" "base_dir = \"$DIR/shm\"" \
            "permissions_mode = \"600\"" "[policies]" "announce_period_ms = 200" "[profiles.demo]" \
            "header_nslots = 1024" "payload_pools = [{ pool_id = 1, stride_bytes = $STRIDE }]" "[streams.demo]" \
            "stream_id = 10000" "profile = \"demo\"" > "$DIR/driver.toml"
        "$BUILD_DIR/tp" driver "$DIR/driver.toml" > "$DIR/shm_driver.json" &
        SHM_DRIVER_PID=$!
        wait_up "$DIR/shm_driver.json" "$SHM_DRIVER_PID" "tp driver"
        CLIENT_ARGS+=(--driver)
        echo "tensorpool demo: SHM driver (tp driver), producer and consumer processes, $DESC, SHM under $DIR"
        ;;
    standalone) echo "tensorpool demo: producer and consumer processes (standalone), $DESC, SHM under $DIR" ;;
    *) echo "TP_DEMO_MODE must be driver or standalone" >&2; exit 2 ;;
esac
echo "  ${SIZE}-byte tensors at ${RATE} frames/s for ${SECONDS_RUN} s (${CLAIM[*]:-copy path})"
"$BUILD_DIR/tp_example_consumer" "${CLIENT_ARGS[@]}" \
    --duration "$((SECONDS_RUN + 3))" --until-seq "$((RATE * SECONDS_RUN - 1))" --check sample --idle "${TP_DEMO_IDLE:-spin}" \
    > "$DIR/consumer.json" &
CONSUMER_PID=$!
"$BUILD_DIR/tp_example_producer" "${CLIENT_ARGS[@]}" \
    --size "$SIZE" --rate "$RATE" --frames "$((RATE * SECONDS_RUN))" --wait-consumers 1 --announce-ms 200 \
    --linger-ms 300 "${CLAIM[@]}" > "$DIR/producer.json"
wait "$CONSUMER_PID" || true
CONSUMER_PID=""
stop "$SHM_DRIVER_PID" # graceful: final announce, leases revoked, ShmDriverShutdown, counters printed
SHM_DRIVER_PID=""

python3 - "$DIR/producer.json" "$DIR/consumer.json" "$DIR/shm_driver.json" <<'PY'
import json, os, sys
p = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
c = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
if os.path.exists(sys.argv[3]):
    d = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
    print(f"driver: {d['attach_ok']} leases granted, {d['attach_rejected']} refused, {d['keepalives']} keepalives, "
          f"{d['epochs_created']} epochs created, {d['announces']} announces")
print(f"producer: {p['frames']} frames in {p['seconds']:.2f} s = {p['fps']:.0f} frames/s, "
      f"{p['MBps']:.1f} MB/s (epoch {p['epoch']}, descriptors {p['descriptors']})")
print(f"consumer: {c['frames']} frames, {c['intact']} intact, {c['torn']} torn, "
      f"drops gap {c['drops_gap']} late {c['drops_late']}, {c['MBps']:.1f} MB/s")
print(f"latency publish -> callback (same host, CLOCK_MONOTONIC): "
      f"p50 {c['p50_ns']/1000:.1f} us, p99 {c['p99_ns']/1000:.1f} us")
sys.exit(0 if c['torn'] == 0 and c['frames'] > 0 else 1)
PY
