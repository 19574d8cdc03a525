#!/usr/bin/env bash
# health.sh — GET /v1/health: whether the database answers and the poller's loop is alive.
#
# Usage: health.sh
# Prints {"status": "ok", "database": "ok", "poller": "ok"|"disabled"} when healthy; when
# unhealthy the server answers 503 and curl fails (exit code 22).
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"

curl -fsS "$BASE_URL/v1/health"
echo
