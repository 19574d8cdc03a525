#!/usr/bin/env bash
# alerts.sh — GET /v1/alerts, or GET /v1/services/{id}/alerts with a SERVICE_ID: alerts,
# newest first, each with its message and the delivery status of every receiver.
#
# Usage: alerts.sh [SERVICE_ID] [QUERY]
#   QUERY is an optional query string, e.g. 'kind=down', 'since=2026-01-01T00:00:00Z', 'limit=5'.
# Prints {"data": [{"id", "service_id", "service_name", "kind", "rule", "message",
# "availability_percent", "window_seconds", "time", "downtime_seconds", "delivery_status",
# "deliveries"}...], "next_cursor": ...}.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:-}"
query="${2:-}"

path="/v1/alerts"
if [ -n "$id" ]; then
  path="/v1/services/$id/alerts"
fi
curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL$path${query:+?$query}"
echo
