#!/usr/bin/env bash
# events.sh — GET /v1/services/{id}/events: the service's up/down periods, newest first.
#
# Usage: events.sh SERVICE_ID [QUERY]
#   QUERY is an optional query string, e.g. 'limit=10' or 'cursor=<next_cursor>'.
# Prints {"data": [{"id", "event": "uptime"|"downtime", "date_started", "date_ended"}...],
# "next_cursor": ...}; the open period has "date_ended": null.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: events.sh SERVICE_ID [QUERY]}"
query="${2:-}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/services/$id/events${query:+?$query}"
echo
