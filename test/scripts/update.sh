#!/usr/bin/env bash
# update.sh — PATCH /v1/services/{id}: change registration fields.
#
# Usage: update.sh SERVICE_ID [JSON]
#   JSON holds the fields to change (name, url, interval_seconds, timeout_seconds, paused,
#   public: true shows the service without a token on /v1/status and the status page);
#   default '{"interval_seconds": 60}'. Changes take effect at the next check.
# Prints the changed service as JSON.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: update.sh SERVICE_ID [JSON]}"
default='{"interval_seconds": 60}'
body="${2:-$default}"

curl -fsS -X PATCH "$BASE_URL/v1/services/$id" \
  -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "$body"
echo
