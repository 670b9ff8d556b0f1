#!/usr/bin/env bash
# Local infrastructure for development and CI on machines without Docker:
# a real Apache Kafka 4.x broker (KRaft, one combined node, jars from Maven Central) and a real
# MongoDB-wire store (FerretDB 1.24 embedded in our own Go main, backed by SQLite or PostgreSQL).
#
# Usage: deploy/local/infra.sh up|down|status|reset|fetch|up-kafka|up-store|down-kafka|down-store
#        deploy/local/infra.sh down --wipe     (= reset: stop, then delete Kafka and store data)
#
# Environment (defaults):
#   COCREATE_VAR_DIR   <repo>/var      data (kafka/, store/), logs (log/), pid files (run/)
#   COCREATE_CACHE_DIR <repo>/.cache   Kafka jars (kafka/libs), our FerretDB binary (bin/)
#   KAFKA_PORT 9092, KAFKA_CONTROLLER_PORT 9093, KAFKA_HEAP 768m
#   STORE_PORT 27017, STORE_BACKEND postgresql|sqlite (default postgresql, see docs/store-backend.md)
#   STORE_PG_PORT 5433 (private PostgreSQL cluster of the postgresql backend)
#   STORE_LOG_LEVEL warn (FerretDB: debug|info|warn|error; info logs every connection)
#   KAFKA_START_TIMEOUT 90, STORE_START_TIMEOUT 60, STOP_TIMEOUT 15 (seconds)
# Every command is idempotent; `up` also recovers after a crash (stale pid files, our own
# leftover processes). Processes that are not ours are never touched.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"

abspath() { mkdir -p "$1" && (cd "$1" && pwd); }
VAR=$(abspath "${COCREATE_VAR_DIR:-$ROOT/var}")
CACHE=$(abspath "${COCREATE_CACHE_DIR:-$ROOT/.cache}")
LOG="$VAR/log"
RUN="$VAR/run"

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${KAFKA_HEAP:-768m}
STORE_PORT=${STORE_PORT:-27017}
STORE_BACKEND=${STORE_BACKEND:-postgresql}
STORE_PG_PORT=${STORE_PG_PORT:-5433}
STORE_LOG_LEVEL=${STORE_LOG_LEVEL:-warn}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STORE_START_TIMEOUT=${STORE_START_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-15}

KAFKA_LIBS="$CACHE/kafka/libs"
KAFKA_DIR="$VAR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_LOG="$LOG/kafka.log"
KAFKA_PID="$RUN/kafka.pid"

FERRET_BIN="$CACHE/bin/cocreate-ferretdb"
STORE_DIR="$VAR/store"
STORE_LOG="$LOG/store.log"
STORE_PID="$RUN/store.pid"
PG_DATA="$STORE_DIR/pg"
PG_LOG="$LOG/postgres.log"
PG_DB=ferretdb

say() { printf '%s\n' "infra: $*"; }
die() { printf '%s\n' "infra: ERROR: $*" >&2; exit 1; }

for v in KAFKA_PORT KAFKA_CONTROLLER_PORT STORE_PORT STORE_PG_PORT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a port number, got '${!v}'"
done
case "$STORE_BACKEND" in sqlite|postgresql) ;; *) die "STORE_BACKEND must be sqlite or postgresql, got '$STORE_BACKEND'";; esac

# ---------------------------------------------------------------- processes

cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }
# Alive and not a zombie.
alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$({ cut -d')' -f2 <"/proc/$1/stat"; } 2>/dev/null | cut -d' ' -f2)
  [[ $st != Z && -n $st ]]
}

# Our processes are recognised by their command line, never by name alone.
is_our_kafka() { local c; c=$(cmdline "$1"); [[ $c == *kafka.Kafka* && $c == *"$KAFKA_CONF"* ]]; }
is_our_store() { local c; c=$(cmdline "$1"); [[ $c == "$FERRET_BIN "* ]]; }
is_our_pg() { local c; c=$(cmdline "$1"); [[ $c == *postgres* && $c == *"$PG_DATA"* ]]; }

# All pids of one kind of ours (kafka|store), from /proc.
our_pids() {
  local kind=$1 p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    "is_our_$kind" "$p" && echo "$p"
  done
  return 0
}

# Pids listening on a TCP port (any address).
port_pids() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}

# Fails with a clear message if anything that is not ours listens on the port.
check_port_free_of_foreign() {
  local port=$1 what=$2 kind=$3 p
  for p in $(port_pids "$port"); do
    if ! "is_our_$kind" "$p"; then
      die "port $port (for $what) is held by pid $p, which is not ours: $(cmdline "$p" | cut -c1-160)
       Stop it, or choose another port (see the variables at the top of deploy/local/infra.sh)."
    fi
  done
  if [[ -z $(port_pids "$port") ]] && ! port_closed "$port"; then
    die "port $port (for $what) accepts connections but its owner is not visible to us; choose another port"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_closed() { ! port_open "$1"; }

# SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL.
stop_pids() {
  local what=$1; shift
  local pids=("$@") p i
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    local any=0
    for p in "${pids[@]}"; do alive "$p" && any=1; done
    ((any)) || return 0
    sleep 0.1
  done
  say "$what did not stop within ${STOP_TIMEOUT}s: SIGKILL"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.3
}

# Pid from a pid file if that process is alive and ours; removes a stale file.
pid_of() {
  local file=$1 kind=$2 p
  [[ -f $file ]] || return 0
  p=$(cat "$file" 2>/dev/null || true)
  if [[ $p =~ ^[0-9]+$ ]] && "is_our_$kind" "$p"; then echo "$p"; else rm -f "$file"; fi
}

# Protocol-level probes (stdlib Python only): Kafka ApiVersions and a MongoDB-wire ping.
probe() {
  python3 - "$@" <<'PY'
import socket, struct, sys
kind, port = sys.argv[1], int(sys.argv[2])
def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.settimeout(5)
    if kind == "kafka":
        # ApiVersions v3: request header v2, compact strings; response header v0.
        cid = b"cocreate-infra"
        hdr = struct.pack(">hhih", 18, 3, 7, len(cid)) + cid + b"\x00"
        body = bytes([len(cid) + 1]) + cid + bytes([2]) + b"1" + b"\x00"
        msg = hdr + body
        s.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        data = recv_exact(s, size)
        corr, err = struct.unpack(">ih", data[:6])
        sys.exit(0 if corr == 7 and err == 0 else 1)
    else:
        el = b"\x10ping\x00" + struct.pack("<i", 1) + b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
        doc = struct.pack("<i", len(el) + 5) + el + b"\x00"
        body = struct.pack("<I", 0) + b"\x00" + doc
        s.sendall(struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body)
        size = struct.unpack("<i", recv_exact(s, 4))[0]
        data = recv_exact(s, size - 4)
        sys.exit(0 if b"\x01ok\x00" + struct.pack("<d", 1.0) in data else 1)
except Exception:
    sys.exit(1)
PY
}

# ---------------------------------------------------------------- fetch / build

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

fetch_kafka() {
  local pom="$HERE/kafka/pom.xml" stamp want
  want=$(stamp_of "$pom")
  stamp="$CACHE/kafka/libs.stamp"
  if [[ -d $KAFKA_LIBS && -f $stamp && $(cat "$stamp") == "$want" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn (Maven) is required to fetch Kafka"
  command -v java >/dev/null || die "java (17+) is required to run Kafka"
  say "kafka: fetching jars from Maven Central ($(grep -o '<kafka.version>[^<]*' "$pom" | cut -d'>' -f2))..."
  local tmp="$CACHE/kafka/libs.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$CACHE/kafka/mvn.log" 2>&1; then
    tail -n 30 "$CACHE/kafka/mvn.log" >&2
    die "kafka: maven failed (full log: $CACHE/kafka/mvn.log)"
  fi
  rm -rf "$KAFKA_LIBS" && mv "$tmp" "$KAFKA_LIBS" && echo "$want" > "$stamp"
}

build_ferretdb() {
  local src="$HERE/ferretdb" stamp="$FERRET_BIN.stamp" want f files=()
  for f in "$src"/*.go; do [[ $f == *_test.go ]] || files+=("$f"); done
  want=$(stamp_of "${files[@]}" "$src/go.mod" "$src/go.sum")
  if [[ -x $FERRET_BIN && -f $stamp && $(cat "$stamp") == "$want" ]]; then return 0; fi
  command -v go >/dev/null || die "go is required to build FerretDB"
  say "store: building FerretDB 1.24 (go build, first time takes a few minutes)..."
  mkdir -p "$CACHE/bin"
  if ! (cd "$src" && go build -trimpath -o "$FERRET_BIN.tmp" .) >"$CACHE/bin/go-build.log" 2>&1; then
    tail -n 30 "$CACHE/bin/go-build.log" >&2
    die "store: go build failed (full log: $CACHE/bin/go-build.log)"
  fi
  mv -f "$FERRET_BIN.tmp" "$FERRET_BIN" && echo "$want" > "$stamp"
}

# ---------------------------------------------------------------- kafka

# java + options, for a heap size; the main class and its arguments follow.
kafka_jvm() {
  printf '%s\n' java "-Xmx$1" -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties" "-Dkafka.logs.dir=$LOG" \
    -cp "$KAFKA_LIBS/*"
}
kafka_java() {
  local jvm
  mapfile -t jvm < <(kafka_jvm "$1")
  shift
  "${jvm[@]}" "$@"
}

render_kafka_conf() {
  local t
  t=$(<"$HERE/kafka/server.properties")
  t=${t//'${KAFKA_PORT}'/$KAFKA_PORT}
  t=${t//'${KAFKA_CONTROLLER_PORT}'/$KAFKA_CONTROLLER_PORT}
  t=${t//'${KAFKA_DATA_DIR}'/$KAFKA_DATA}
  mkdir -p "$KAFKA_DIR"
  printf '%s\n' "$t" > "$KAFKA_CONF.tmp" && mv -f "$KAFKA_CONF.tmp" "$KAFKA_CONF"
}

format_kafka() {
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    local was
    was=$(cat "$KAFKA_DIR/controller.port" 2>/dev/null || echo "$KAFKA_CONTROLLER_PORT")
    [[ $was == "$KAFKA_CONTROLLER_PORT" ]] || die "kafka: data in $KAFKA_DATA was formatted for controller port $was, not $KAFKA_CONTROLLER_PORT: use that port, or '$0 reset'"
    return 0
  fi
  local id
  id=$(kafka_java 256m kafka.tools.StorageTool random-uuid 2>>"$LOG/kafka.out") || die "kafka: StorageTool random-uuid failed (see $LOG/kafka.out)"
  mkdir -p "$KAFKA_DATA"
  if ! kafka_java 256m kafka.tools.StorageTool format -t "$id" -c "$KAFKA_CONF" --standalone >>"$LOG/kafka.out" 2>&1; then
    tail -n 20 "$LOG/kafka.out" >&2
    die "kafka: StorageTool format failed"
  fi
  echo "$KAFKA_CONTROLLER_PORT" > "$KAFKA_DIR/controller.port"
  say "kafka: formatted new KRaft storage (cluster id $id)"
}

kafka_healthy() { port_open "$KAFKA_PORT" && probe kafka "$KAFKA_PORT"; }

up_kafka() {
  mkdir -p "$LOG" "$RUN"
  local pid
  pid=$(pid_of "$KAFKA_PID" kafka)
  if [[ -n $pid ]] && kafka_healthy; then
    say "kafka: already running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
    return 0
  fi
  fetch_kafka
  # Leftovers of ours (crash, lost pid file, half-started broker) go first; one healthy broker
  # of ours that only lost its pid file is adopted.
  local old
  old=$(our_pids kafka | tr '\n' ' ')
  if [[ -z $pid && $old =~ ^[0-9]+\ $ ]] && kafka_healthy; then
    echo "${old% }" > "$KAFKA_PID"
    say "kafka: already running (pid ${old% }, 127.0.0.1:$KAFKA_PORT; pid file restored)"
    return 0
  fi
  if [[ -n ${old// /} ]]; then
    say "kafka: stopping earlier broker process(es) of ours: $old"
    # shellcheck disable=SC2086
    stop_pids kafka $old
  fi
  rm -f "$KAFKA_PID"
  check_port_free_of_foreign "$KAFKA_PORT" "Kafka" kafka
  check_port_free_of_foreign "$KAFKA_CONTROLLER_PORT" "the Kafka controller" kafka
  render_kafka_conf
  format_kafka

  local t0=$SECONDS offset=0
  [[ -f $KAFKA_LOG ]] && offset=$(stat -c %s "$KAFKA_LOG")
  echo "--- $(date '+%F %T') infra.sh up" >>"$LOG/kafka.out"
  local jvm
  mapfile -t jvm < <(kafka_jvm "$KAFKA_HEAP")
  nohup setsid "${jvm[@]}" kafka.Kafka "$KAFKA_CONF" >>"$LOG/kafka.out" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" > "$KAFKA_PID"
  say "kafka: starting (pid $pid, heap $KAFKA_HEAP, 127.0.0.1:$KAFKA_PORT)..."
  while :; do
    if ! alive "$pid"; then
      kafka_fail "the broker exited during start-up"
    fi
    # The log may have rolled over: then look at the whole (new) file.
    local size=0
    [[ -f $KAFKA_LOG ]] && size=$(stat -c %s "$KAFKA_LOG")
    ((size >= offset)) || offset=0
    if [[ -f $KAFKA_LOG ]] && tail -c +$((offset + 1)) "$KAFKA_LOG" | grep 'Kafka Server started' >/dev/null &&
      kafka_healthy; then
      break
    fi
    ((SECONDS - t0 < KAFKA_START_TIMEOUT)) || kafka_fail "not ready after ${KAFKA_START_TIMEOUT}s"
    sleep 0.5
  done
  say "kafka: ready on 127.0.0.1:$KAFKA_PORT in $((SECONDS - t0))s"
}

kafka_fail() {
  say "kafka: $1; last lines of $KAFKA_LOG:" >&2
  { tail -n 12 "$KAFKA_LOG" | cut -c1-240; } >&2 2>/dev/null || true
  { grep -v '^Bootstrap metadata' "$LOG/kafka.out" | tail -n 5 | cut -c1-240; } >&2 2>/dev/null || true
  local p
  p=$(pid_of "$KAFKA_PID" kafka)
  [[ -n $p ]] && stop_pids kafka "$p"
  rm -f "$KAFKA_PID"
  die "kafka failed to start (logs: $KAFKA_LOG, $LOG/kafka.out)"
}

down_kafka() {
  local pids
  pids=$( (pid_of "$KAFKA_PID" kafka; our_pids kafka) | sort -u | tr '\n' ' ')
  if [[ -z ${pids// /} ]]; then
    rm -f "$KAFKA_PID"
    say "kafka: not running"
    return 0
  fi
  # shellcheck disable=SC2086
  stop_pids kafka $pids
  rm -f "$KAFKA_PID"
  say "kafka: stopped"
}

# ---------------------------------------------------------------- postgresql (store backend)

PG_BIN=
find_pg() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $PG_BIN && -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]]
}

ensure_pg_installed() {
  find_pg && return 0
  command -v apt-get >/dev/null || die "store: PostgreSQL is missing and apt-get is not available"
  say "store: installing Debian's postgresql package (apt-get)..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >"$LOG/apt.log" 2>&1; then
    tail -n 20 "$LOG/apt.log" >&2
    die "store: apt-get install postgresql failed"
  fi
  find_pg || die "store: postgresql installed but initdb/pg_ctl not found under /usr/lib/postgresql/*/bin"
}

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
pg_sql() { as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$STORE_PG_PORT" -U postgres -d postgres -tA "$@"; }

up_pg() {
  ensure_pg_installed
  if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "store: user 'postgres' is missing (reinstall the postgresql package)"
  fi
  mkdir -p "$STORE_DIR" "$LOG"
  touch "$PG_LOG"
  [[ $(id -u) == 0 ]] && chown postgres: "$PG_LOG"
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    rm -rf "$PG_DATA" && mkdir -p "$PG_DATA"
    [[ $(id -u) == 0 ]] && chown postgres: "$PG_DATA"
    chmod 700 "$PG_DATA"
    as_pg test -w "$PG_DATA" || die "store: user postgres cannot write $PG_DATA (is a parent directory private?)"
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C >"$LOG/initdb.log" 2>&1; then
      tail -n 20 "$LOG/initdb.log" >&2
      die "store: initdb failed"
    fi
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- cocreate local store (deploy/local/infra.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 256MB
# dev/CI store: a crash of the machine may lose the last few hundred ms of commits
# (never corrupts). Production uses MongoDB from the compose file.
synchronous_commit = off
# Checkpoints every 30 min or 4 GB of WAL (not 5 min / 1 GB): under load the store wrote 1 GB of WAL in
# minutes, and each checkpoint, with the full pages written after it, stalled every command for a while
# (the notifications benchmark's p99 at 50 changes/s: 0.5-1.4 s with them, 0.32-0.37 s without).
checkpoint_timeout = 30min
max_wal_size = 4GB
# Our queries are small and prepared: never worth compiling.
jit = off
log_min_messages = warning
EOF
    say "store: initialised PostgreSQL cluster in $PG_DATA"
  fi
  if pg_running; then
    # A cluster of ours from an earlier run, maybe on another port: restart it on ours.
    local p
    p=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    if port_open "$STORE_PG_PORT" && [[ " $(port_pids "$STORE_PG_PORT" | tr '\n' ' ') " == *" $p "* ]]; then
      return 0
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1 || true
  fi
  check_port_free_of_foreign "$STORE_PG_PORT" "the store's PostgreSQL" pg
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-p $STORE_PG_PORT" -w -t "$STORE_START_TIMEOUT" start >/dev/null 2>&1 9>&-; then
    tail -n 20 "$PG_LOG" >&2
    die "store: PostgreSQL failed to start (log: $PG_LOG)"
  fi
  say "store: PostgreSQL started (127.0.0.1:$STORE_PG_PORT)"
  if [[ -z $(pg_sql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
    pg_sql -c "CREATE DATABASE $PG_DB" >/dev/null || die "store: cannot create database $PG_DB"
  fi
}

down_pg() {
  find_pg || return 0
  [[ -d $PG_DATA ]] || return 0
  if pg_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1 ||
      as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    say "store: PostgreSQL stopped"
  fi
}

# ---------------------------------------------------------------- store (FerretDB)

store_args() {
  local a=("$FERRET_BIN" -listen "127.0.0.1:$STORE_PORT" -handler "$STORE_BACKEND" -log-level "$STORE_LOG_LEVEL")
  # FerretDB's private socket behind our front (Unix socket paths are limited to ~107 bytes).
  local sock="$RUN/store-$STORE_PORT.sock"
  ((${#sock} < 100)) && a+=(-socket "$sock")
  if [[ $STORE_BACKEND == sqlite ]]; then
    a+=(-sqlite "$STORE_DIR/sqlite")
  else
    a+=(-postgres "postgres://postgres@127.0.0.1:$STORE_PG_PORT/$PG_DB")
  fi
  printf '%s\n' "${a[@]}"
}

store_healthy() { port_open "$STORE_PORT" && probe mongo "$STORE_PORT"; }

up_store() {
  mkdir -p "$LOG" "$RUN" "$STORE_DIR"
  local pid args want
  mapfile -t args < <(store_args)
  want="${args[*]} "
  build_ferretdb # cheap when the sources did not change
  pid=$(pid_of "$STORE_PID" store)
  # Same arguments, same binary (a rebuilt one shows as "(deleted)"), answering.
  if [[ -n $pid && $(cmdline "$pid") == "$want" && $(readlink "/proc/$pid/exe") == "$FERRET_BIN" ]] && store_healthy &&
    { [[ $STORE_BACKEND != postgresql ]] || { find_pg && pg_running; }; }; then
    say "store: already running (pid $pid, 127.0.0.1:$STORE_PORT, $STORE_BACKEND)"
    return 0
  fi
  local old
  old=$(our_pids store | tr '\n' ' ')
  if [[ -n ${old// /} ]]; then
    say "store: stopping earlier FerretDB process(es) of ours: $old"
    # shellcheck disable=SC2086
    stop_pids store $old
  fi
  rm -f "$STORE_PID"
  check_port_free_of_foreign "$STORE_PORT" "the store" store
  if [[ $STORE_BACKEND == postgresql ]]; then
    up_pg
  else
    down_pg # a cluster left from the other backend: not needed now
  fi

  local t0=$SECONDS
  echo "--- $(date '+%F %T') infra.sh up ($STORE_BACKEND)" >>"$STORE_LOG"
  nohup setsid "${args[@]}" >>"$STORE_LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" > "$STORE_PID"
  say "store: starting FerretDB (pid $pid, $STORE_BACKEND, 127.0.0.1:$STORE_PORT)..."
  until store_healthy; do
    if ! alive "$pid" || ((SECONDS - t0 >= STORE_START_TIMEOUT)); then
      alive "$pid" && stop_pids store "$pid"
      rm -f "$STORE_PID"
      tail -n 20 "$STORE_LOG" >&2
      die "store: FerretDB $( alive "$pid" && echo "not ready after ${STORE_START_TIMEOUT}s" || echo "exited") (log: $STORE_LOG)"
    fi
    sleep 0.3
  done
  say "store: ready on 127.0.0.1:$STORE_PORT in $((SECONDS - t0))s"
}

down_store() {
  local pids
  pids=$( (pid_of "$STORE_PID" store; our_pids store) | sort -u | tr '\n' ' ')
  if [[ -n ${pids// /} ]]; then
    # shellcheck disable=SC2086
    stop_pids store $pids
    say "store: FerretDB stopped"
  else
    say "store: not running"
  fi
  rm -f "$STORE_PID"
  down_pg
}

# ---------------------------------------------------------------- status / reset

status() {
  local rc=0 pid
  pid=$(pid_of "$KAFKA_PID" kafka)
  if [[ -n $pid ]] && kafka_healthy; then
    say "kafka: running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
  elif [[ -n $pid ]]; then
    say "kafka: process $pid alive but not answering on 127.0.0.1:$KAFKA_PORT"; rc=1
  else
    say "kafka: stopped"; rc=1
  fi
  pid=$(pid_of "$STORE_PID" store)
  if [[ -n $pid ]] && store_healthy; then
    say "store: running (pid $pid, 127.0.0.1:$STORE_PORT, $(cmdline "$pid" | grep -o -- '-handler [a-z]*' | cut -d' ' -f2))"
  elif [[ -n $pid ]]; then
    say "store: process $pid alive but not answering on 127.0.0.1:$STORE_PORT"; rc=1
  else
    say "store: stopped"; rc=1
  fi
  if find_pg && [[ -d $PG_DATA ]] && pg_running && port_open "$STORE_PG_PORT"; then
    say "store: PostgreSQL cluster running (127.0.0.1:$STORE_PG_PORT)"
  fi
  return $rc
}

reset() {
  down_kafka
  down_store
  rm -rf "$KAFKA_DIR" "$STORE_DIR"
  say "deleted Kafka and store data under $VAR"
}

# ---------------------------------------------------------------- main

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
  exit 2
}

cmd=${1:-}
[[ -n $cmd ]] || usage
shift || true

mkdir -p "$RUN" "$LOG"
# One infra.sh at a time for this var dir (the lock fd is closed for every process we start).
exec 9>"$RUN/infra.lock"
flock -w 120 9 || die "another infra.sh is still running (lock $RUN/infra.lock)"

case "$cmd" in
  up)         up_kafka; up_store ;;
  up-kafka)   up_kafka ;;
  up-store)   up_store ;;
  down)       if [[ ${1:-} == --wipe ]]; then reset; else down_store; down_kafka; fi ;;
  down-kafka) down_kafka ;;
  down-store) down_store ;;
  status)     status ;;
  reset)      reset ;;
  fetch)      fetch_kafka; build_ferretdb ;;
  *)          usage ;;
esac
