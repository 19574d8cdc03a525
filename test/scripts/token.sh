#!/usr/bin/env bash
# token.sh — POST /v1/tokens: create an API token for a script or scraper. It does not expire;
# revoke it with revoke.sh.
#
# Usage: token.sh NAME [read-only]
#   read-only makes a token that GET requests accept and every change refuses (HTTP 403).
# Prints {"id", "name", "read_only", "created_at", "expires_at", "token"} (201): "token" is the
# secret, shown this once; use it as TOKEN. NAME goes into the JSON as it is: keep it free of
# quotes and backslashes.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
name="${1:?usage: token.sh NAME [read-only]}"
case "${2:-}" in
  '') read_only=false ;;
  read-only) read_only=true ;;
  *) echo "token.sh: second argument must be read-only or absent" >&2; exit 2 ;;
esac

curl -fsS -X POST "$BASE_URL/v1/tokens" \
  -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"name\": \"$name\", \"read_only\": $read_only}"
echo
