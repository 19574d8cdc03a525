#!/usr/bin/env bash
# list.sh — GET /v1/services: one page of services in registration order.
#
# Usage: list.sh [QUERY]
#   QUERY is an optional query string, e.g. 'status=up&limit=10' or 'name=api'.
#   Pass the page's "next_cursor" as 'cursor=...' to get the next page.
# Prints {"data": [...services...], "next_cursor": ...} as JSON.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
query="${1:-}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/services${query:+?$query}"
echo
