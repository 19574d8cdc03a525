#!/usr/bin/env bash
# pause.sh — PATCH /v1/services/{id} with {"paused": ...}: stop or resume checking.
#
# Usage: pause.sh SERVICE_ID [true|false]
#   true (the default) pauses: the service is not checked and keeps its status;
#   false resumes: the service is due at once.
# Prints the changed service as JSON.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: pause.sh SERVICE_ID [true|false]}"
paused="${2:-true}"
case "$paused" in
  true | false) ;;
  *) echo "pause.sh: second argument must be true or false" >&2; exit 2 ;;
esac

curl -fsS -X PATCH "$BASE_URL/v1/services/$id" \
  -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"paused\": $paused}"
echo
