#!/usr/bin/env bash
# ticks.sh — GET /v1/services/{id}/ticks: the service's raw check results, newest first.
#
# Usage: ticks.sh SERVICE_ID [QUERY]
#   QUERY is an optional query string, e.g. 'limit=5' or 'since=2025-01-01T00:00:00Z'
#   (RFC 3339 with an offset; 'until=' bounds the other end, 'cursor=' pages on).
# Prints {"data": [{"checked_at", "up", "response_time_ms", "ttfb_ms", "status_code",
# "error"}...], "next_cursor": ...}.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: ticks.sh SERVICE_ID [QUERY]}"
query="${2:-}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/services/$id/ticks${query:+?$query}"
echo
