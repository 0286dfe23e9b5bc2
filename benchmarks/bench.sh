#!/usr/bin/env bash
# The benchmark command (`npm run bench`): installs and starts local Kafka + ClickHouse if needed, runs the harness against them, stops what it started.
#
# Arguments go to benchmarks/run.ts (e.g. --customers 20000, --sections kcat,touchstream-rdkafka; see --help).
# Ports and state dir come from the same variables as ops/infra.sh (TOUCHSTREAM_KAFKA_PORT, TOUCHSTREAM_CLICKHOUSE_HTTP_PORT,
# TOUCHSTREAM_REGISTRY_PORT, TOUCHSTREAM_INFRA_DIR, ...). When Kafka and ClickHouse are already up they are used and left up;
# otherwise `ops/infra.sh up` starts them and `down` stops them at the end (TOUCHSTREAM_KEEP_INFRA=1 keeps them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
INFRA="$ROOT/ops/infra.sh"
BROKERS="127.0.0.1:${TOUCHSTREAM_KAFKA_PORT:-9092}"
CLICKHOUSE_URL="http://127.0.0.1:${TOUCHSTREAM_CLICKHOUSE_HTTP_PORT:-8123}"

# The bench needs the broker and ClickHouse (not the schema registry ops/infra.sh also manages).
started=0
status=$(bash "$INFRA" status 2>&1 || true)
if ! grep -q 'kafka: up' <<<"$status" || ! grep -q 'clickhouse: up' <<<"$status"; then
  bash "$INFRA" install
  bash "$INFRA" up
  started=1
fi

on_exit() {
  local rc=$?
  if ((started)) && [[ ${TOUCHSTREAM_KEEP_INFRA:-0} != 1 ]]; then bash "$INFRA" down || true; fi
  exit "$rc"
}
trap on_exit EXIT

t0=$EPOCHREALTIME
node --import tsx benchmarks/run.ts --brokers "$BROKERS" --clickhouse-url "$CLICKHOUSE_URL" "$@"
echo "[bench] wall time: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
