#!/usr/bin/env bash
# Longer fuzzing campaign (docs/FUZZING.md): run each target in chunks of
# CHUNK seconds (default 120), each chunk under `flock /tmp/tp-cpu.lock` so a
# shared machine is not starved, until TARGET_EXECS executions (default 1e7)
# or BUDGET seconds (default 1800) per target. The corpus grows in
# $BUILD/tests/fuzz/campaign/<target>; per-chunk stats go to
# $BUILD/tests/fuzz/campaign/<target>.log and one summary line per target to stdout.
#
#   tests/fuzz/run_campaign.sh build-fuzz [target...]
set -euo pipefail
BUILD="${1:?usage: run_campaign.sh BUILD_DIR [target...]}"
shift
CHUNK="${CHUNK:-120}"
TARGET_EXECS="${TARGET_EXECS:-10000000}"
BUDGET="${BUDGET:-1800}"
SRC="$(cd "$(dirname "$0")" && pwd)"
FUZZ="$BUILD/tests/fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz_proto_wire fuzz_proto_driver fuzz_codec_ext fuzz_shm_uri fuzz_shm_path fuzz_superblock fuzz_toml
        fuzz_driver_config)
fi
for t in "${targets[@]}"; do
    corpus="$FUZZ/campaign/$t"
    artifacts="$FUZZ/campaign/$t-artifacts"
    log="$FUZZ/campaign/$t.log"
    mkdir -p "$corpus" "$artifacts"
    dict=()
    [ -f "$SRC/dict/$t.dict" ] && dict=(-dict="$SRC/dict/$t.dict")
    execs=0
    secs=0
    fuzz_secs=0
    crashes=0
    cov=""
    while [ "$execs" -lt "$TARGET_EXECS" ] && [ "$secs" -lt "$BUDGET" ]; do
        out="$(flock /tmp/tp-cpu.lock "$FUZZ/$t" -max_total_time="$CHUNK" -runs=$((TARGET_EXECS - execs)) -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" "$SRC/corpus/$t" 2>&1)" || crashes=$((crashes + 1))
        n="$(printf '%s\n' "$out" | sed -n 's/^stat::number_of_executed_units: *//p' | tail -1)" || true
        line="$(printf '%s\n' "$out" | grep -E '^#[0-9]+' | grep -E 'cov:' | tail -1)" || true
        [ -n "$line" ] && cov="$(printf '%s\n' "$line" | grep -oE 'cov: [0-9]+ ft: [0-9]+')"
        # Fuzzing time of the chunk as libFuzzer reports it ("Done N runs in S second(s)"), without lock waits.
        s="$(printf '%s\n' "$out" | sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' | tail -1)" || true
        execs=$((execs + ${n:-0}))
        secs=$((secs + CHUNK))
        fuzz_secs=$((fuzz_secs + ${s:-$CHUNK}))
        printf '%s chunk execs=%s seconds=%s total=%s %s\n' "$(date -u +%H:%M:%S)" "${n:-0}" "${s:-?}" "$execs" "$cov" >>"$log"
        printf '%s\n' "$out" | grep -E 'ERROR|invariant failed|runtime error|Test unit written' >>"$log" || true
    done
    printf '%s execs=%s seconds=%s exec/s=%s %s crashes=%s corpus=%s\n' "$t" "$execs" "$fuzz_secs" \
        "$((execs / (fuzz_secs > 0 ? fuzz_secs : 1)))" "$cov" "$crashes" "$(ls "$corpus" | wc -l)"
done
