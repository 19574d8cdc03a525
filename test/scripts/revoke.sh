#!/usr/bin/env bash
# revoke.sh — DELETE /v1/tokens/{id}: revoke an API token; it stops working at once.
#
# Usage: revoke.sh TOKEN_ID
#   TOKEN_ID is the token's "id" from token.sh or tokens.sh (not its secret).
# Prints "revoked <id> (HTTP 204)"; an unknown id fails with HTTP 404.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: revoke.sh TOKEN_ID}"

status=$(curl -fsS -X DELETE -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/tokens/$id" \
  -w '%{http_code}')
echo "revoked $id (HTTP $status)"
