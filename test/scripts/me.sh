#!/usr/bin/env bash
# me.sh — GET /v1/users/me: the account $TOKEN belongs to.
#
# Usage: me.sh
# Prints {"id", "email", "is_admin", "created_at"}.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/users/me"
echo
