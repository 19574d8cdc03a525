#!/usr/bin/env bash
# register.sh — POST /v1/services: register a service to be checked.
#
# Usage: register.sh [NAME] [URL] [INTERVAL_SECONDS]
#   defaults: example, https://example.com/, 30. The first check is due at once.
# Prints the new service as JSON (201); its "id" is what the other scripts take as $1.
# NAME and URL are put into the JSON as they are: keep them free of quotes and backslashes.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
name="${1:-example}"
url="${2:-https://example.com/}"
interval="${3:-30}"

curl -fsS -X POST "$BASE_URL/v1/services" \
  -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"name\": \"$name\", \"url\": \"$url\", \"interval_seconds\": $interval}"
echo
