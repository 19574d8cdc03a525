#!/usr/bin/env bash
# update.sh — PATCH /v1/services/{id}: change registration fields.
#
# Usage: update.sh SERVICE_ID [JSON]
#   JSON holds the fields to change (name, url, interval_seconds, timeout_seconds, paused);
#   default '{"interval_seconds": 60}'. Changes take effect at the next check.
# Prints the changed service as JSON.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
id="${1:?usage: update.sh SERVICE_ID [JSON]}"
default='{"interval_seconds": 60}'
body="${2:-$default}"

curl -fsS -X PATCH "$BASE_URL/v1/services/$id" \
  -H 'Content-Type: application/json' \
  -d "$body"
echo
