#!/usr/bin/env bash
# Full test command (`npm test`): install and start local Kafka + ClickHouse, run vitest against them, always tear down.
#
# Arguments are passed to `vitest run`. TOUCHSTREAM_KEEP_INFRA=1 leaves the servers up afterwards.
# Tests get: TOUCHSTREAM_TEST_KAFKA_BROKERS, TOUCHSTREAM_TEST_CLICKHOUSE_URL, TOUCHSTREAM_TEST_SCHEMA_REGISTRY_URL, and TOUCHSTREAM_TEST_INFRA
# (path of ops/infra.sh, for tests that stop/start the broker with `kafka-stop` / `kafka-start`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
INFRA="$ROOT/ops/infra.sh"

export TOUCHSTREAM_TEST_KAFKA_BROKERS="127.0.0.1:${TOUCHSTREAM_KAFKA_PORT:-9092}"
export TOUCHSTREAM_TEST_CLICKHOUSE_URL="http://127.0.0.1:${TOUCHSTREAM_CLICKHOUSE_HTTP_PORT:-8123}"
export TOUCHSTREAM_TEST_SCHEMA_REGISTRY_URL="http://127.0.0.1:${TOUCHSTREAM_REGISTRY_PORT:-8081}/apis/ccompat/v7"
export TOUCHSTREAM_TEST_INFRA="$INFRA"

TIMINGS=()

# run_phase NAME CMD...: runs CMD, prints and records its wall time, returns its exit code.
run_phase() {
  local name=$1 t0=$EPOCHREALTIME rc=0 dt
  shift
  echo "[test] ==> $name"
  "$@" || rc=$?
  dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  TIMINGS+=("$name ${dt} s")
  echo "[test] <== $name: ${dt} s (exit $rc)"
  return "$rc"
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ ${TOUCHSTREAM_KEEP_INFRA:-0} == 1 ]]; then
    echo "[test] TOUCHSTREAM_KEEP_INFRA=1: leaving Kafka and ClickHouse running (stop with: bash ops/infra.sh down)"
  else
    run_phase down bash "$INFRA" down || echo "[test] WARNING: ops/infra.sh down failed" >&2
  fi
  echo "[test] timings: $(printf '%s; ' "${TIMINGS[@]}")"
  echo "[test] exit $rc"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Any failure here (package, jar download, a server not starting) ends the run non-zero: tests never run without infra.
run_phase install bash "$INFRA" install
run_phase up bash "$INFRA" up

vitest_rc=0
run_phase tests npx vitest run "$@" || vitest_rc=$?
exit "$vitest_rc"
