# Sourced by test.sh and sync.sh: make sure PostgreSQL and Redis answer on loopback.
# Uses the ones already running (127.0.0.1:5432 with trust auth, 127.0.0.1:6379); otherwise installs
# them with apt-get when absent and starts private instances that only listen on 127.0.0.1.
set -euo pipefail

FERRY_STATE_DIR="${FERRY_STATE_DIR:-/var/tmp/ferry-services}"
PG_PORT="${FERRY_PG_PORT:-5432}"
REDIS_PORT="${FERRY_REDIS_PORT:-6379}"

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "need root (or sudo) to apt-get install $*" >&2
    exit 1
  fi
  if [ -z "${FERRY_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    FERRY_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_answers() {
  psql "postgres://postgres@127.0.0.1:${PG_PORT}/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

ensure_postgres() {
  if command -v psql >/dev/null && pg_answers; then
    return
  fi
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing postgresql…" >&2
    apt_install postgresql postgresql-client
  fi
  local bin data
  bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  data="$FERRY_STATE_DIR/postgres"
  if pg_answers; then return; fi
  mkdir -p "$FERRY_STATE_DIR"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    chown -R postgres:postgres "$data"
    su postgres -s /bin/sh -c "$bin/initdb -D '$data' -A trust -U postgres >/dev/null"
  fi
  chown -R postgres:postgres "$data"
  echo "starting a private PostgreSQL on 127.0.0.1:${PG_PORT}…" >&2
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$data' -l '$data/log' -w start \
    -o \"-c listen_addresses=127.0.0.1 -p ${PG_PORT} -k '$data' -c fsync=off -c max_connections=200\"" >/dev/null
  pg_answers || { echo "PostgreSQL did not come up; see $data/log" >&2; exit 1; }
}

redis_answers() {
  [ "$(redis-cli -h 127.0.0.1 -p "${REDIS_PORT}" ping 2>/dev/null)" = "PONG" ]
}

ensure_redis() {
  if command -v redis-cli >/dev/null && redis_answers; then
    return
  fi
  if ! command -v redis-server >/dev/null; then
    echo "installing redis-server…" >&2
    apt_install redis-server
  fi
  mkdir -p "$FERRY_STATE_DIR/redis"
  echo "starting a private Redis on 127.0.0.1:${REDIS_PORT}…" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port "${REDIS_PORT}" --save "" --appendonly no \
    --dir "$FERRY_STATE_DIR/redis" --logfile "$FERRY_STATE_DIR/redis/redis.log"
  for _ in $(seq 1 50); do
    redis_answers && return
    sleep 0.1
  done
  echo "Redis did not come up; see $FERRY_STATE_DIR/redis/redis.log" >&2
  exit 1
}

# libfaketime runs a worker with a skewed clock in the lease tests (Debian's faketime package).
ensure_faketime() {
  if ! command -v faketime >/dev/null; then
    echo "installing faketime…" >&2
    apt_install faketime
  fi
}

# The console's tests drive a real headless Chromium through ChromeDriver (Debian's packages).
ensure_browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "installing chromium and chromium-driver…" >&2
    apt_install chromium chromium-driver
  fi
}

ensure_services() {
  ensure_postgres
  ensure_redis
  ensure_faketime
  ensure_browser
  export FERRY_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:${PG_PORT}/postgres"
  export FERRY_TEST_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"
}
