#!/usr/bin/env bash
# tokens.sh — GET /v1/tokens: the account's API tokens, without their secrets.
#
# Usage: tokens.sh [QUERY]
#   QUERY is an optional query string, e.g. 'limit=10' or 'cursor=<next_cursor>'.
# Prints {"data": [{"id", "name", "read_only", "created_at", "expires_at"}...], "next_cursor": ...}.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
query="${1:-}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/tokens${query:+?$query}"
echo
