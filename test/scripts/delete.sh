#!/usr/bin/env bash
# delete.sh — DELETE /v1/services/{id}: delete a service with its whole history.
#
# Usage: delete.sh SERVICE_ID
# Prints "deleted <id> (HTTP 204)"; an unknown id fails with HTTP 404.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: delete.sh SERVICE_ID}"

status=$(curl -fsS -X DELETE -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/services/$id" \
  -w '%{http_code}')
echo "deleted $id (HTTP $status)"
