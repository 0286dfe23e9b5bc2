#!/usr/bin/env bash
# Local test infrastructure for touchstream: Kafka 4.3.1 (KRaft, one node) and ClickHouse 18.16 on 127.0.0.1, without Docker.
#
# Usage: ops/infra.sh install|up|down|status|kafka-stop|kafka-start|topics ARGS...
#   install      apt packages (clickhouse-server, clickhouse-client, kcat, docker-compose, chromium for the live page's
#                browser test), the Kafka jars and Apicurio, if missing
#   up           start Kafka, ClickHouse and Apicurio Registry in the background and wait until all answer (no-op if healthy)
#   down         stop them (SIGTERM, then SIGKILL) and delete their data, so the next `up` starts empty
#   status       say whether each server is up; exit 0 only if all are
#   kafka-stop   stop the broker only, keeping its data (for restart-mid-stream tests)
#   kafka-start  start the broker only, on its existing data
#   topics ...   run org.apache.kafka.tools.TopicCommand against the broker, e.g. `topics --list`
#
# Nothing is written inside the repository. Environment (defaults in brackets):
#   TOUCHSTREAM_INFRA_DIR [~/.cache/touchstream/infra]  configs, data, pid files, logs
#   TOUCHSTREAM_CACHE_DIR [~/.cache/touchstream]        Kafka jar cache
#   TOUCHSTREAM_KAFKA_PORT [9092]  TOUCHSTREAM_KAFKA_CONTROLLER_PORT [9093]
#   TOUCHSTREAM_CLICKHOUSE_HTTP_PORT [8123]  TOUCHSTREAM_CLICKHOUSE_TCP_PORT [9010]
#   TOUCHSTREAM_KAFKA_START_TIMEOUT [90]  TOUCHSTREAM_CLICKHOUSE_START_TIMEOUT [30]  (seconds)
#   TOUCHSTREAM_REGISTRY_PORT [8081]  TOUCHSTREAM_REGISTRY_MANAGEMENT_PORT [8091]  TOUCHSTREAM_REGISTRY_START_TIMEOUT [90]
#   Apicurio Registry (Confluent-compatible API at /apis/ccompat/v7, in-memory storage) runs beside them: 3.3.3 on a
#   JDK 21+ found under /usr/lib/jvm (or TOUCHSTREAM_APICURIO_JAVA), else 3.0.9 on the default JDK 17.
set -euo pipefail

OPS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST=127.0.0.1
CACHE_DIR=${TOUCHSTREAM_CACHE_DIR:-$HOME/.cache/touchstream}
STATE_DIR=${TOUCHSTREAM_INFRA_DIR:-$HOME/.cache/touchstream/infra}
KAFKA_PORT=${TOUCHSTREAM_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${TOUCHSTREAM_KAFKA_CONTROLLER_PORT:-9093}
CH_HTTP_PORT=${TOUCHSTREAM_CLICKHOUSE_HTTP_PORT:-8123}
CH_TCP_PORT=${TOUCHSTREAM_CLICKHOUSE_TCP_PORT:-9010}
KAFKA_TIMEOUT=${TOUCHSTREAM_KAFKA_START_TIMEOUT:-90}
CH_TIMEOUT=${TOUCHSTREAM_CLICKHOUSE_START_TIMEOUT:-30}
REGISTRY_PORT=${TOUCHSTREAM_REGISTRY_PORT:-8081}
# Quarkus' management interface defaults to 0.0.0.0:9000 (ClickHouse's native port): always give it its own loopback port.
REGISTRY_MANAGEMENT_PORT=${TOUCHSTREAM_REGISTRY_MANAGEMENT_PORT:-8091}
REGISTRY_TIMEOUT=${TOUCHSTREAM_REGISTRY_START_TIMEOUT:-90}

KAFKA_VERSION=4.3.1
KAFKA_POM=$OPS_DIR/kafka/pom.xml
# The jar cache is keyed by the pom's content, so editing the pom triggers a fresh download.
KAFKA_LIBS=$CACHE_DIR/kafka-$KAFKA_VERSION-$(sha256sum "$KAFKA_POM" | cut -c1-12)
KAFKA_DIR=$STATE_DIR/kafka
KAFKA_CONF=$KAFKA_DIR/server.properties
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_LOG=$KAFKA_DIR/kafka.log

CH_BIN=/usr/sbin/clickhouse-server
CH_DIR=$STATE_DIR/clickhouse
CH_CONF=$CH_DIR/config.xml
CH_PID=$CH_DIR/clickhouse.pid
CH_LOG=$CH_DIR/clickhouse.log

JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

# Apicurio 3.3.x needs Java 21+; pick a JDK by its release file (no JVM start), else fall back to 3.0.9 on JDK 17.
apicurio_java() {
  local release major
  if [[ -n ${TOUCHSTREAM_APICURIO_JAVA:-} ]]; then echo "$TOUCHSTREAM_APICURIO_JAVA"; return 0; fi
  for release in /usr/lib/jvm/*/release; do
    [[ -f $release ]] || continue
    major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release")
    if [[ -n $major ]] && ((major >= 21)) && [[ -x $(dirname "$release")/bin/java ]]; then
      echo "$(dirname "$release")/bin/java"
      return 0
    fi
  done
  echo "$JAVA"
}
APICURIO_JAVA=$(apicurio_java)
if [[ $APICURIO_JAVA == "$JAVA" ]]; then APICURIO_VERSION=3.0.9; else APICURIO_VERSION=3.3.3; fi
APICURIO_HOME=$CACHE_DIR/apicurio-registry-$APICURIO_VERSION
REG_DIR=$STATE_DIR/apicurio
REG_PID=$REG_DIR/apicurio.pid
REG_LOG=$REG_DIR/apicurio.log
# On the command line of our registry process only: running_pid's marker.
REG_MARKER=-Dtouchstream.infra.registry=$REG_DIR
BROKER_JAVA_OPTS=(-Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$OPS_DIR/kafka/log4j2-broker.properties")
TOOL_JAVA_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  -Dlog4j2.configurationFile="$OPS_DIR/kafka/log4j2-tools.properties")
# chromium: the headless browser the live KPI page's test drives (playwright-core, pointed at /usr/bin/chromium).
APT_PACKAGES=(clickhouse-server clickhouse-client kcat docker-compose chromium)

export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- helpers

log() { printf '[infra] %s\n' "$*"; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# Seconds elapsed since a $EPOCHREALTIME value, one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

as_root() {
  if ((EUID == 0)); then "$@"; else sudo -n "$@"; fi
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Prints the pid from a pid file if that process is alive and its command line contains the marker
# (our own config file path), so a recycled pid or a zombie never counts as "running".
running_pid() {
  local pidfile=$1 marker=$2 pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# Fails with a clear message if someone else already listens on a port we need.
require_port_free() {
  local port=$1 what=$2
  if port_open "$port"; then
    command -v ss >/dev/null && ss -ltnp "sport = :$port" >&2 || true
    die "$HOST:$port (for $what) is already in use by another process; stop it or set the matching TOUCHSTREAM_*_PORT"
  fi
}

print_log_tail() {
  local name=$1 file=$2
  printf '[infra] ---- last 50 lines of %s (%s) ----\n' "$name" "$file" >&2
  tail -n 50 "$file" >&2 2>/dev/null || true
  printf '[infra] ---- end of %s log ----\n' "$name" >&2
}

# launch PIDFILE MARKER LOGFILE CMD...: runs CMD in the background in its own session (nohup, no stdin, without
# the lock fd), records its pid, and waits until that pid has exec'd into CMD: before that its command line is
# still this script's, and running_pid would wrongly call it dead.
launch() {
  local pidfile=$1 marker=$2 logfile=$3 pid i
  shift 3
  [[ -f $logfile ]] && mv -f "$logfile" "$logfile.prev"
  (cd "$(dirname "$pidfile")" && exec setsid nohup "$@" >"$logfile" 2>&1 </dev/null 9>&-) &
  pid=$!
  echo "$pid" >"$pidfile"
  for ((i = 0; i < 100; i++)); do
    running_pid "$pidfile" "$marker" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 0 # already gone: the wait step reports it, with the log
    sleep 0.05
  done
}

# SIGTERM, wait up to $4 seconds, then SIGKILL.
stop_server() {
  local name=$1 pidfile=$2 marker=$3 grace=$4 pid t0 i
  if ! pid=$(running_pid "$pidfile" "$marker"); then
    rm -f "$pidfile"
    log "$name not running"
    return 0
  fi
  t0=$EPOCHREALTIME
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    running_pid "$pidfile" "$marker" >/dev/null || break
    sleep 0.1
  done
  if running_pid "$pidfile" "$marker" >/dev/null; then
    log "$name (pid $pid) still running after ${grace} s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      running_pid "$pidfile" "$marker" >/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
  log "$name stopped ($(since "$t0") s)"
}

# Serialises install/up/down across concurrent callers. Closed (9>&-) in every server we launch.
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w 900 9 || die "timed out waiting for $STATE_DIR/.lock"
}

# ---------------------------------------------------------------- install

install_packages() {
  local missing=() p installed_server=0
  for p in "${APT_PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  command -v "$JAVA" >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]} == 0)); then
    log "apt packages already installed (${APT_PACKAGES[*]})"
    return 0
  fi
  [[ " ${missing[*]} " == *" clickhouse-server "* ]] && installed_server=1

  log "apt-get install ${missing[*]}"
  # The clickhouse-server package's postinst runs `invoke-rc.d clickhouse-server start`, which would
  # bring up a system instance on 127.0.0.1:8123/9000. A policy-rc.d that answers 101 forbids that;
  # add one for the duration of the install unless the machine already has one.
  local added_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    as_root sh -c 'printf "#!/bin/sh\n# temporary, from touchstream ops/infra.sh install\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    added_policy=1
  fi
  local rc=0
  {
    as_root apt-get update -qq &&
      as_root apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        -o DPkg::Lock::Timeout=300 "${missing[@]}"
  } || rc=$?
  ((added_policy)) && as_root rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get failed (exit $rc)"

  if ((installed_server)); then
    # We run our own instance from `up`; make sure the packaged service is neither running nor enabled.
    if [[ -d /run/systemd/system ]]; then
      as_root systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
    else
      # Not `/etc/init.d/clickhouse-server stop`: its second start-stop-daemon call kills every
      # clickhouse-server process, ours included. The packaged service runs as user clickhouse; ours does not.
      as_root start-stop-daemon --stop --quiet --oknodo --retry=TERM/30/KILL/5 \
        --user clickhouse --exec "$CH_BIN" >/dev/null 2>&1 || true
      as_root update-rc.d clickhouse-server disable >/dev/null 2>&1 || true
    fi
  fi
}

install_kafka_libs() {
  if [[ -f $KAFKA_LIBS/.complete ]]; then
    log "kafka $KAFKA_VERSION jars already cached in $KAFKA_LIBS"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$CACHE_DIR"
  local work
  work=$(mktemp -d "$CACHE_DIR/.kafka-download.XXXXXX")
  # Build from a copy of the pom so Maven writes nothing inside the repository.
  cp "$KAFKA_POM" "$work/pom.xml"
  log "downloading kafka $KAFKA_VERSION jars with maven"
  if ! (cd "$work" && mvn -B -q -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory="$work/libs" 9>&-); then
    rm -rf "$work"
    die "maven could not fetch the kafka jars"
  fi
  rm -rf "$KAFKA_LIBS"
  mv "$work/libs" "$KAFKA_LIBS"
  rm -rf "$work"
  touch "$KAFKA_LIBS/.complete"
  log "kafka jars cached: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS"
}

install_apicurio() {
  if [[ -f $APICURIO_HOME/.complete ]]; then
    log "apicurio registry $APICURIO_VERSION already cached in $APICURIO_HOME"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$CACHE_DIR"
  local work jar
  work=$(mktemp -d "$CACHE_DIR/.apicurio-download.XXXXXX")
  log "downloading apicurio registry $APICURIO_VERSION (tar.gz:all, ~160 MB) with maven"
  if ! (cd "$work" && mvn -B -q -Dstyle.color=never dependency:copy \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" -DoutputDirectory="$work" 9>&-); then
    rm -rf "$work"
    die "maven could not fetch apicurio-registry-app $APICURIO_VERSION"
  fi
  mkdir -p "$work/home"
  tar xzf "$work"/apicurio-registry-app-*.tar.gz -C "$work/home" || { rm -rf "$work"; die "could not unpack apicurio"; }
  # 3.3.x ships a Quarkus fast-jar (quarkus-run.jar); 3.0.x a -runner.jar beside lib/.
  jar=$(find "$work/home" -name quarkus-run.jar -o -name '*-runner.jar' | head -n 1)
  [[ -n $jar ]] || { rm -rf "$work"; die "no runnable jar in the apicurio distribution"; }
  rm -rf "$APICURIO_HOME"
  mv "$work/home" "$APICURIO_HOME"
  rm -rf "$work"
  echo "${jar#"$work/home/"}" >"$APICURIO_HOME/.complete"
  log "apicurio registry $APICURIO_VERSION cached in $APICURIO_HOME"
}

cmd_install() {
  local t0=$EPOCHREALTIME
  take_lock
  install_packages
  install_kafka_libs
  install_apicurio
  log "install done ($(since "$t0") s)"
}

require_installed() {
  [[ -f $KAFKA_LIBS/.complete ]] || die "kafka jars missing: run ops/infra.sh install"
  [[ -x $CH_BIN ]] || die "$CH_BIN missing: run ops/infra.sh install"
  command -v curl >/dev/null || die "curl missing: run ops/infra.sh install"
  [[ -f $APICURIO_HOME/.complete ]] || die "apicurio registry $APICURIO_VERSION missing: run ops/infra.sh install"
}

# ---------------------------------------------------------------- kafka

# kafka_tool CLASS ARGS...: runs a Kafka CLI class. The first successful TopicCommand run dumps a class-data-sharing
# archive next to the jars; later runs map it and start in ~0.7 s instead of ~1.6 s (a stale or unusable
# archive is silently ignored by the JVM).
kafka_tool() {
  local jsa=$KAFKA_LIBS/.tools.jsa cds rc=0
  if [[ -f $jsa ]]; then
    cds=(-XX:SharedArchiveFile="$jsa")
  elif [[ $1 == org.apache.kafka.tools.TopicCommand && -w $KAFKA_LIBS ]]; then
    cds=(-XX:ArchiveClassesAtExit="$jsa.$$")
  else
    cds=()
  fi
  "$JAVA" "${cds[@]}" -Xlog:cds=off -Xlog:cds+dynamic=off "${TOOL_JAVA_OPTS[@]}" -cp "$KAFKA_LIBS/*" "$@" || rc=$?
  if [[ -f $jsa.$$ ]]; then
    if ((rc == 0)); then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; fi
  fi
  return "$rc"
}

write_kafka_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_CONF" <<EOF
# Generated by ops/infra.sh at every start: change the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=4
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
# Fewer internal partitions than the default 50: the first consumer group joins faster.
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Never delete by age: retention is judged on record timestamps, and tests replay old event times.
log.retention.ms=-1
# Kafka 4 rejects records stamped more than 1 h in the future by default; tests may use any event time.
log.message.timestamp.after.max.ms=9223372036854775807
log.message.timestamp.before.max.ms=9223372036854775807
EOF
  cat >"$KAFKA_DIR/admin.properties" <<EOF
# Client settings for the readiness probe: fail fast instead of retrying for a minute.
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

# Readiness: the port accepts connections and a real metadata round trip (TopicCommand --list) works.
kafka_ready() {
  port_open "$KAFKA_PORT" &&
    timeout 30 bash "$OPS_DIR/infra.sh" _tool org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$HOST:$KAFKA_PORT" --command-config "$KAFKA_DIR/admin.properties" --list \
      >/dev/null 2>&1
}

KAFKA_T0=
# Starts the broker process if it is not running; sets KAFKA_T0 when it launched one (empty = was already up).
kafka_launch() {
  local pid
  KAFKA_T0=
  if pid=$(running_pid "$KAFKA_PID" "$KAFKA_CONF"); then
    return 0
  fi
  rm -f "$KAFKA_PID"
  require_port_free "$KAFKA_PORT" "kafka"
  require_port_free "$KAFKA_CONTROLLER_PORT" "kafka controller"
  KAFKA_T0=$EPOCHREALTIME
  write_kafka_config
  if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
    # A KRaft cluster id is 16 random bytes, URL-safe base64 without padding (what `random-uuid` prints).
    local cluster_id
    # Like Kafka's own Uuid.randomUuid, never start with '-': the tool's argument parser would take it for an option.
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
      cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONF" >"$KAFKA_DIR/format.log" 2>&1 ||
      { print_log_tail "kafka storage format" "$KAFKA_DIR/format.log"; die "kafka storage format failed"; }
  fi
  launch "$KAFKA_PID" "$KAFKA_CONF" "$KAFKA_LOG" \
    "$JAVA" "${BROKER_JAVA_OPTS[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
}

# wait_server NAME PIDFILE MARKER LOG TIMEOUT T0 READY_FN WHERE: waits until READY_FN succeeds.
# T0 empty means "not launched by this call": answer at once if it is already ready.
# Fails with the log tail when the process dies or the timeout passes.
wait_server() {
  local name=$1 pidfile=$2 marker=$3 logfile=$4 timeout=$5 t0=$6 ready=$7 where=$8 pid deadline
  if [[ -z $t0 ]]; then
    pid=$(running_pid "$pidfile" "$marker") || die "$name is not running"
    t0=$EPOCHREALTIME
    if "$ready"; then
      log "$name already running (pid $pid) on $where"
      return 0
    fi
    log "$name process $pid is running but not answering yet; waiting"
  fi
  deadline=$(awk -v a="$t0" -v t="$timeout" 'BEGIN { printf "%d", a + t }')
  while :; do
    # Right after launch the process can briefly look like something else (exec in progress): ask twice.
    if ! running_pid "$pidfile" "$marker" >/dev/null && ! { sleep 1; running_pid "$pidfile" "$marker" >/dev/null; }; then
      print_log_tail "$name" "$logfile"
      rm -f "$pidfile"
      die "$name exited during start-up"
    fi
    if "$ready"; then
      log "$name ready on $where ($(since "$t0") s)"
      return 0
    fi
    if ((EPOCHSECONDS >= deadline)); then
      print_log_tail "$name" "$logfile"
      stop_server "$name" "$pidfile" "$marker" 10
      die "$name did not become ready within ${timeout} s"
    fi
    sleep 0.3
  done
}

kafka_wait() {
  wait_server kafka "$KAFKA_PID" "$KAFKA_CONF" "$KAFKA_LOG" "$KAFKA_TIMEOUT" "$KAFKA_T0" kafka_ready "$HOST:$KAFKA_PORT"
}

# ---------------------------------------------------------------- clickhouse

write_clickhouse_config() {
  mkdir -p "$CH_DIR"/{data,tmp,user_files,format_schemas}
  cat >"$CH_CONF" <<EOF
<?xml version="1.0"?>
<!-- Generated by ops/infra.sh at every start: change the script, not this file. -->
<yandex>
    <logger>
        <level>information</level>
        <console>1</console>
    </logger>
    <listen_host>$HOST</listen_host>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
    <users_config>/etc/clickhouse-server/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <!-- Longer than @clickhouse/client's idle socket TTL (2.5 s), so the client always closes first. -->
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
EOF
}

clickhouse_ready() {
  [[ $(curl -sf --max-time 2 "http://$HOST:$CH_HTTP_PORT/ping" 2>/dev/null) == Ok.* ]]
}

CH_T0=
clickhouse_launch() {
  local pid
  CH_T0=
  if pid=$(running_pid "$CH_PID" "$CH_CONF"); then
    return 0
  fi
  rm -f "$CH_PID"
  require_port_free "$CH_HTTP_PORT" "clickhouse http"
  require_port_free "$CH_TCP_PORT" "clickhouse native tcp"
  CH_T0=$EPOCHREALTIME
  write_clickhouse_config
  launch "$CH_PID" "$CH_CONF" "$CH_LOG" "$CH_BIN" --config-file="$CH_CONF"
}

clickhouse_wait() {
  wait_server clickhouse "$CH_PID" "$CH_CONF" "$CH_LOG" "$CH_TIMEOUT" "$CH_T0" clickhouse_ready \
    "http://$HOST:$CH_HTTP_PORT, native tcp $HOST:$CH_TCP_PORT"
}

# ---------------------------------------------------------------- apicurio registry

registry_ready() {
  curl -sf --max-time 2 "http://$HOST:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null 2>&1
}

REG_T0=
registry_launch() {
  local pid
  REG_T0=
  if pid=$(running_pid "$REG_PID" "$REG_MARKER"); then
    return 0
  fi
  rm -f "$REG_PID"
  require_port_free "$REGISTRY_PORT" "apicurio registry"
  require_port_free "$REGISTRY_MANAGEMENT_PORT" "apicurio registry management"
  mkdir -p "$REG_DIR"
  REG_T0=$EPOCHREALTIME
  # In-memory storage: every `up` starts with an empty registry, like the broker and ClickHouse after `down`.
  launch "$REG_PID" "$REG_MARKER" "$REG_LOG" \
    "$APICURIO_JAVA" -Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$REG_MARKER" \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host="$HOST" -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
    -jar "$APICURIO_HOME/$(<"$APICURIO_HOME/.complete")"
}

registry_wait() {
  wait_server "apicurio registry" "$REG_PID" "$REG_MARKER" "$REG_LOG" "$REGISTRY_TIMEOUT" "$REG_T0" registry_ready \
    "http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"
}

# ---------------------------------------------------------------- commands

# If `up` fails half-way, stop whatever this invocation launched, so a failed `up` leaves nothing behind.
up_failed() {
  [[ -n $KAFKA_T0 ]] && stop_server kafka "$KAFKA_PID" "$KAFKA_CONF" 10
  [[ -n $CH_T0 ]] && stop_server clickhouse "$CH_PID" "$CH_CONF" 10
  [[ -n $REG_T0 ]] && stop_server "apicurio registry" "$REG_PID" "$REG_MARKER" 10
  return 0
}

cmd_up() {
  local t0=$EPOCHREALTIME
  require_installed
  take_lock
  trap up_failed EXIT
  # Launch both first, then wait: ClickHouse starts while the JVM warms up.
  kafka_launch
  clickhouse_launch
  registry_launch
  clickhouse_wait
  kafka_wait
  registry_wait
  trap - EXIT
  log "up done ($(since "$t0") s); state in $STATE_DIR"
}

cmd_down() {
  local t0=$EPOCHREALTIME
  take_lock
  stop_server kafka "$KAFKA_PID" "$KAFKA_CONF" 30
  stop_server clickhouse "$CH_PID" "$CH_CONF" 15
  stop_server "apicurio registry" "$REG_PID" "$REG_MARKER" 15
  [[ -n $STATE_DIR && $STATE_DIR != / ]] || die "refusing to clean STATE_DIR='$STATE_DIR'"
  rm -rf "$KAFKA_DIR/data" "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/user_files" "$CH_DIR/format_schemas"
  log "down done, data removed ($(since "$t0") s); logs kept in $STATE_DIR"
}

cmd_status() {
  local pid ok=0
  if pid=$(running_pid "$KAFKA_PID" "$KAFKA_CONF"); then
    if port_open "$KAFKA_PORT" && { command -v kcat >/dev/null &&
      timeout 10 kcat -b "$HOST:$KAFKA_PORT" -L -m 5 >/dev/null 2>&1 || kafka_ready; }; then
      log "kafka: up (pid $pid) on $HOST:$KAFKA_PORT"
    else
      log "kafka: process $pid running but not answering on $HOST:$KAFKA_PORT"
      ok=1
    fi
  else
    log "kafka: down"
    ok=1
  fi
  if pid=$(running_pid "$CH_PID" "$CH_CONF"); then
    if clickhouse_ready; then
      log "clickhouse: up (pid $pid) on http://$HOST:$CH_HTTP_PORT"
    else
      log "clickhouse: process $pid running but not answering on http://$HOST:$CH_HTTP_PORT"
      ok=1
    fi
  else
    log "clickhouse: down"
    ok=1
  fi
  if pid=$(running_pid "$REG_PID" "$REG_MARKER"); then
    if registry_ready; then
      log "apicurio registry: up (pid $pid) on http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"
    else
      log "apicurio registry: process $pid running but not answering on http://$HOST:$REGISTRY_PORT"
      ok=1
    fi
  else
    log "apicurio registry: down"
    ok=1
  fi
  return "$ok"
}

cmd_kafka_stop() {
  take_lock
  stop_server kafka "$KAFKA_PID" "$KAFKA_CONF" 30
}

cmd_kafka_start() {
  require_installed
  take_lock
  kafka_launch
  kafka_wait
}

cmd_topics() {
  [[ -f $KAFKA_LIBS/.complete ]] || die "kafka jars missing: run ops/infra.sh install"
  kafka_tool org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$HOST:$KAFKA_PORT" "$@"
}

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kafka-stop) cmd_kafka_stop ;;
  kafka-start) cmd_kafka_start ;;
  topics) shift; cmd_topics "$@" ;;
  _tool) shift; kafka_tool "$@" ;; # internal: lets `timeout` run kafka_tool
  *) usage ;;
esac
