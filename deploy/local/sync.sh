#!/usr/bin/env bash
# The main job, end to end on this machine: a BC sandbox with 50,000 customers, Ferry's worker on the
# Redis queue, a full import into PostgreSQL, 100 changes at the source, and the incremental run that
# carries exactly those. Starts PostgreSQL and Redis when they don't answer; stops what it started.
#   deploy/local/sync.sh [CUSTOMERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/local/services.sh
ensure_services
customers="${1:-50000}"

cargo build --release --locked -p ferry-scheduler -p ferry-worker -p ferry-sandbox
bin=target/release
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The sandbox prints its address once it accepts connections.
"$bin/ferry-sandbox" --listen 127.0.0.1:0 --customers "$customers" --contacts 1000 --seed 7 >"$work/sandbox.out" &
pids+=($!)
for _ in $(seq 1 600); do
  grep -q '^listening on ' "$work/sandbox.out" && break
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/sandbox.out")
[ -n "$base" ] || { echo "sandbox did not start" >&2; exit 1; }
sed "s#http://127.0.0.1:8080#$base#g" config/examples/customers.toml >"$work/customers.toml"

database="ferry_sync_demo"
psql "$FERRY_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
export FERRY__DATABASE__URL="postgres://postgres@127.0.0.1:${PG_PORT}/$database"
export FERRY__QUEUE__URL="$FERRY_TEST_REDIS_URL"
export FERRY__QUEUE__PREFIX="ferry-demo-$$"
export FERRY__LOG__LEVEL=warn
export BC_CLIENT_SECRET=ferry-secret

"$bin/ferry" apply "$work/customers.toml"
"$bin/ferry-worker" &
pids+=($!)

echo "== full import"
"$bin/ferry" run customers --wait
echo "== 100 customers change at the source"
curl -fsS -X POST "$base/_sandbox/mutate" -H 'content-type: application/json' \
  -d '{"entity":"RescoCustomer","update":100}' >/dev/null
echo "== incremental run"
"$bin/ferry" run customers --wait
echo "== target table"
psql "$FERRY__DATABASE__URL" -Atc "SELECT count(*) || ' rows in customer' FROM customer"
echo "data is in $FERRY__DATABASE__URL (table customer); runs: FERRY__DATABASE__URL=$FERRY__DATABASE__URL $bin/ferry runs"
