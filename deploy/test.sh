#!/usr/bin/env bash
# Runs every test: starts PostgreSQL and Redis on loopback when they don't answer (installing them with
# apt-get when absent), then the whole workspace's test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/local/services.sh
ensure_services
cargo test --workspace --locked "$@"
