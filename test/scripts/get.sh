#!/usr/bin/env bash
# get.sh — GET /v1/services/{id}: one service with its current state.
#
# Usage: get.sh SERVICE_ID
# Prints the service as JSON: registration fields, "status" (up/down/unknown), the open
# "latest_event" and the running "metric" (tick/up/down counts, uptime, response times).
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: get.sh SERVICE_ID}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/services/$id"
echo
