#!/usr/bin/env bash
# Local services for development, the demo and the tests: Apache Kafka (one KRaft node,
# broker and controller, assembled from Maven Central jars by deploy/kafka/pom.xml) and a
# ClickHouse server (Debian's clickhouse-server package), both run with project-local configs.
# Data, logs and the cached jars live under $VOC_STATE_DIR (default .local/).
#
#   services.sh up [SERVICE]    install what is missing, start both (or one), wait until they answer;
#                               `up superset` starts Apache Superset (make bi), never started by `up`
#   services.sh down [SERVICE]  stop both (or one); data stays under .local/ for the next `up`
#   services.sh status  print what runs
#
# Idempotent: `up` twice starts nothing new, `down` twice stops nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${VOC_STATE_DIR:-$ROOT/.local}
KAFKA_HOST=127.0.0.1
KAFKA_PORT=${VOC_LOCAL_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${VOC_LOCAL_KAFKA_CONTROLLER_PORT:-9093}
# A small heap: one node with test-sized traffic; ~350 MB resident measured here.
KAFKA_HEAP=${VOC_LOCAL_KAFKA_HEAP:-512m}
KAFKA_DIR=$STATE/kafka
CH_TCP_PORT=${VOC_LOCAL_CLICKHOUSE_PORT:-9000}
CH_HTTP_PORT=${VOC_LOCAL_CLICKHOUSE_HTTP_PORT:-8123}
READY_TIMEOUT_S=${VOC_READY_TIMEOUT_S:-60}
SUPERSET_PORT=${VOC_LOCAL_SUPERSET_PORT:-8088}
SUPERSET_DIR=$STATE/superset
SUPERSET_ADMIN_PASSWORD=${VOC_SUPERSET_PASSWORD:-voc-superset-local}

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_until() {  # wait_until DESCRIPTION COMMAND...
  local what=$1; shift
  local deadline=$((SECONDS + READY_TIMEOUT_S))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  log "$what is ready"
}

# detach PIDFILE LOG CMD...: run CMD in its own session, outliving this script. The process
# writes its own PID before exec'ing CMD (setsid may fork, so $! would be the wrong one).
detach() {
  local pidfile=$1 logfile=$2; shift 2
  # A pid file left by a process that died (machine rebooted, kill -9) must not pass for the
  # new one's: the wait below would return at once and the caller check a dead pid.
  rm -f "$pidfile"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$logfile" 2>&1 </dev/null &
  for _ in $(seq 1 20); do [[ -s $pidfile ]] && return 0; sleep 0.1; done
  die "could not start $1"
}

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

install_clickhouse() {
  command -v clickhouse-server >/dev/null && return 0
  log "installing Debian's clickhouse-server and clickhouse-client (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

# The HTML report test opens the page in a real browser: Debian's chromium, headless, and a
# Chinese font so that the screenshot shows the text (without one, every character is a box).
install_browser() {
  if command -v chromium >/dev/null && fc-list :lang=zh | grep -q .; then
    log "chromium and a Chinese font already installed"; return 0
  fi
  log "installing Debian's chromium and fonts-wqy-zenhei (apt), for the HTML report test"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    chromium fonts-wqy-zenhei fontconfig >/dev/null
}

# The monitoring tests run Debian's Prometheus for real: promtool on the alerting rules, and a
# server scraping a worker. Installed only, never started here (each test starts its own);
# policy-rc.d keeps the package from starting the system service it ships.
install_prometheus() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    log "prometheus and promtool already installed"; return 0
  fi
  log "installing Debian's prometheus (apt), for the monitoring tests"
  as_root apt-get update -qq
  local policy=/usr/sbin/policy-rc.d created=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && created=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  [[ -n $created ]] && as_root rm -f "$policy"
  command -v promtool >/dev/null || die "prometheus installed but promtool not found"
}

install_java_maven() {
  command -v java >/dev/null && command -v mvn >/dev/null && return 0
  log "installing Java 17 and Maven (apt), to fetch and run Apache Kafka"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    openjdk-17-jre-headless maven >/dev/null
}

# The jars a pom names, copied from the local Maven repository (~/.m2, filled from Maven
# Central on the first run) into DIR/libs; done again only when the pom changes.
maven_jars() {  # maven_jars NAME POM DIR
  local name=$1 pom=$2 dir=$3 libs=$3/libs
  local want; want=$(sha256sum "$pom" | cut -d' ' -f1)
  [[ -f $libs/.pom.sha256 && $(cat "$libs/.pom.sha256") == "$want" ]] && return 0
  install_java_maven
  mkdir -p "$dir"
  log "fetching $name's jars from Maven Central (first run only)"
  rm -rf "$libs.partial"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs.partial" >"$dir/mvn.log" 2>&1 \
    || die "could not fetch $name's jars; see $dir/mvn.log"
  echo "$want" >"$libs.partial/.pom.sha256"
  rm -rf "$libs" && mv "$libs.partial" "$libs"
}

# The broker (deploy/kafka/pom.xml) into $KAFKA_DIR/libs.
kafka_jars() { maven_jars "Apache Kafka" "$ROOT/deploy/kafka/pom.xml" "$KAFKA_DIR"; }

kafka_java() { java -cp "$KAFKA_DIR/libs/*" "$@"; }

# ZooKeeper (deploy/zookeeper/pom.xml) into $STATE/zookeeper/libs, for the ClickHouse cluster
# test, which starts its own server from them.
zookeeper_jars() { maven_jars ZooKeeper "$ROOT/deploy/zookeeper/pom.xml" "$STATE/zookeeper"; }

# server.properties from the template, and the storage formatted once (a KRaft node refuses
# to start on an unformatted log dir). The data survives `down`; `make clean` removes it.
kafka_prepare() {
  mkdir -p "$KAFKA_DIR/data"
  sed -e "s#@STATE@#$KAFKA_DIR#g" -e "s#@PORT@#$KAFKA_PORT#g" \
    -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$ROOT/deploy/kafka/server.properties" >"$KAFKA_DIR/server.properties"
  [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
  local cluster_id; cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null)
  log "formatting Kafka's storage (cluster $cluster_id)"
  kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/format.log" 2>&1 || die "formatting Kafka's storage failed; see $KAFKA_DIR/format.log"
}

kafka_started() {
  pid_alive "$KAFKA_DIR/kafka.pid" || die "Kafka exited while starting; see $KAFKA_DIR/kafka.log"
  grep -q 'Kafka Server started' "$KAFKA_DIR/kafka.log" && port_open $KAFKA_HOST "$KAFKA_PORT"
}

broker_up() {
  local pidfile=$KAFKA_DIR/kafka.pid
  if pid_alive "$pidfile"; then log "Kafka already running (pid $(cat "$pidfile"))"; return 0; fi
  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open $KAFKA_HOST "$port" \
      && die "port $port is taken by another process; stop it or set VOC_LOCAL_KAFKA_PORT / _CONTROLLER_PORT"
  done
  mkdir -p "$KAFKA_DIR"
  kafka_jars
  kafka_prepare
  local version; version=$(ls "$KAFKA_DIR/libs" | sed -n 's/^kafka_2\.13-\(.*\)\.jar$/\1/p')
  log "starting Apache Kafka $version (KRaft) on $KAFKA_HOST:$KAFKA_PORT"
  detach "$pidfile" "$KAFKA_DIR/kafka.log" java "-Xms${KAFKA_HEAP}" "-Xmx${KAFKA_HEAP}" \
    -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.yaml" \
    -cp "$KAFKA_DIR/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  wait_until "Kafka" kafka_started \
    || die "Kafka did not start in ${READY_TIMEOUT_S}s; see $KAFKA_DIR/kafka.log"
}

clickhouse_ready() {
  clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" -q 'SELECT 1' >/dev/null 2>&1
}

clickhouse_up() {
  local dir=$STATE/clickhouse pidfile=$STATE/clickhouse/server.pid
  if pid_alive "$pidfile"; then log "clickhouse already running (pid $(cat "$pidfile"))"; return 0; fi
  port_open 127.0.0.1 "$CH_TCP_PORT" \
    && die "port $CH_TCP_PORT is taken by another process; stop it or set VOC_LOCAL_CLICKHOUSE_PORT"
  install_clickhouse
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/logs"
  sed -e "s#@STATE@#$STATE#g" -e "s#@TCP_PORT@#$CH_TCP_PORT#g" -e "s#@HTTP_PORT@#$CH_HTTP_PORT#g" \
    "$ROOT/deploy/local/clickhouse-config.xml" >"$dir/config.xml"
  cp "$ROOT/deploy/local/clickhouse-users.xml" "$dir/users.xml"
  log "starting ClickHouse $(clickhouse-client --version 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+)+' | head -1) on 127.0.0.1:$CH_TCP_PORT (http $CH_HTTP_PORT)"
  (cd "$dir" && detach "$pidfile" "$dir/logs/stdout.log" clickhouse-server --config-file="$dir/config.xml")
  wait_until "clickhouse" clickhouse_ready \
    || die "clickhouse did not answer in ${READY_TIMEOUT_S}s; see $dir/logs/"
}

# Apache Superset (make bi, tests/integration/test_superset.py): PyPI's apache-superset in its
# own virtualenv, from the pinned deploy/superset/requirements.txt (its SQLAlchemy and Flask
# pins clash with the pipeline's), metadata in SQLite under $SUPERSET_DIR, served by gunicorn
# on 127.0.0.1. Installed and initialized once per requirements file and config.
superset_env() {
  export SUPERSET_CONFIG_PATH=$ROOT/deploy/superset/superset_config.py SUPERSET_HOME=$SUPERSET_DIR
  [[ -s $SUPERSET_DIR/secret_key ]] || (umask 077 && head -c 32 /dev/urandom | base64 >"$SUPERSET_DIR/secret_key")
  SUPERSET_SECRET_KEY=$(cat "$SUPERSET_DIR/secret_key"); export SUPERSET_SECRET_KEY
}

superset_install() {
  local venv=$SUPERSET_DIR/venv stamp=$SUPERSET_DIR/venv/.installed
  local want; want=$(cat "$ROOT/deploy/superset/requirements.txt" "$ROOT/deploy/superset/superset_config.py" | sha256sum)
  [[ -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
  command -v python3 >/dev/null || die "python3 is needed for Superset"
  log "installing Apache Superset into $venv (pinned, deploy/superset/requirements.txt; a few minutes)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet -r "$ROOT/deploy/superset/requirements.txt"
  superset_env
  log "initializing Superset's metadata ($SUPERSET_DIR/superset.db) and its admin user"
  "$venv/bin/superset" db upgrade >"$SUPERSET_DIR/init.log" 2>&1 || die "superset db upgrade failed; see $SUPERSET_DIR/init.log"
  "$venv/bin/superset" fab create-admin --username admin --firstname voc --lastname admin \
    --email admin@localhost --password "$SUPERSET_ADMIN_PASSWORD" >>"$SUPERSET_DIR/init.log" 2>&1 \
    || die "creating Superset's admin failed; see $SUPERSET_DIR/init.log"
  "$venv/bin/superset" init >>"$SUPERSET_DIR/init.log" 2>&1 || die "superset init failed; see $SUPERSET_DIR/init.log"
  echo "$want" >"$stamp"
}

superset_ready() {  # curl is not on every fresh Debian; the venv's Python is
  "$SUPERSET_DIR/venv/bin/python" -c 'import sys, urllib.request
try: sys.exit(urllib.request.urlopen(sys.argv[1], timeout=5).read() != b"OK")
except OSError: sys.exit(1)' "http://127.0.0.1:$SUPERSET_PORT/health"
}

superset_up() {
  local pidfile=$SUPERSET_DIR/superset.pid
  mkdir -p "$SUPERSET_DIR"
  if pid_alive "$pidfile"; then log "superset already running (pid $(cat "$pidfile"))"; return 0; fi
  port_open 127.0.0.1 "$SUPERSET_PORT" \
    && die "port $SUPERSET_PORT is taken by another process; stop it or set VOC_LOCAL_SUPERSET_PORT"
  superset_install
  superset_env
  log "starting Apache Superset on http://127.0.0.1:$SUPERSET_PORT (user admin)"
  # One worker process with threads: the metadata is SQLite and the caches are in memory.
  detach "$pidfile" "$SUPERSET_DIR/superset.log" "$SUPERSET_DIR/venv/bin/gunicorn" \
    --bind "127.0.0.1:$SUPERSET_PORT" --workers 1 --threads 8 --timeout 120 "superset.app:create_app()"
  READY_TIMEOUT_S=$((READY_TIMEOUT_S * 3)) wait_until "superset" superset_ready \
    || die "superset did not answer; see $SUPERSET_DIR/superset.log"
}

stop_pidfile() {  # stop_pidfile NAME PIDFILE
  local name=$1 pidfile=$2
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; log "$name not running"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  # Kafka's clean shutdown (flush, close the log, resign the controller) takes a few seconds.
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$pidfile"
  log "$name stopped"
}

status() {
  for svc in kafka/kafka.pid clickhouse/server.pid superset/superset.pid; do
    if pid_alive "$STATE/$svc"; then echo "${svc%%/*}: running (pid $(cat "$STATE/$svc"))"
    else echo "${svc%%/*}: stopped"; fi
  done
}

kafka_down() { stop_pidfile Kafka "$KAFKA_DIR/kafka.pid"; }
clickhouse_down() { stop_pidfile clickhouse "$STATE/clickhouse/server.pid"; }
superset_down() { stop_pidfile superset "$SUPERSET_DIR/superset.pid"; }

# `up` / `down` take an optional service (kafka or clickhouse): `make chaos` stops and starts
# ClickHouse alone under load.
case ${1:-}:${2:-} in
  up:) broker_up; clickhouse_up ;;
  up:kafka) broker_up ;;
  up:clickhouse) clickhouse_up ;;
  up:superset) superset_up ;;
  down:) superset_down; kafka_down; clickhouse_down ;;
  down:kafka) kafka_down ;;
  down:clickhouse) clickhouse_down ;;
  down:superset) superset_down ;;
  status:) status ;;
  browser:) install_browser ;;
  prometheus:) install_prometheus ;;
  zookeeper:) zookeeper_jars ;;
  *) echo "usage: $0 up|down [kafka|clickhouse|superset] | status | browser | prometheus | zookeeper" >&2; exit 2 ;;
esac
