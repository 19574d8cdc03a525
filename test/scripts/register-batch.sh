#!/usr/bin/env bash
# register-batch.sh — POST /v1/services:batch: register up to 1,000 services in one request.
#
# Usage: register-batch.sh NAME=URL [NAME=URL ...]
#        register-batch.sh -f FILE
#   Each NAME=URL is a service checked at URL (the default interval); NAME and URL are put
#   into the JSON as they are: keep them free of quotes and backslashes. With -f, FILE (or -
#   for standard input) is the whole body, {"services": [{...}, ...]}, each item what
#   register.sh would send (any field of POST /v1/services, a heartbeat among them).
# All or nothing: prints the services registered, in order, as JSON (201); if any item is
# refused, nothing is registered and the problem is printed, naming each faulty item by its
# index in "errors" (exit code 22).
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh (not a read-only one).
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
usage="usage: register-batch.sh NAME=URL [NAME=URL ...] | -f FILE"

if [[ "${1:-}" == "-f" ]]; then
  body="@${2:?$usage}"
else
  (($# > 0)) || { echo "$usage" >&2; exit 2; }
  items=()
  for pair in "$@"; do
    [[ "$pair" == *=* ]] || { echo "not NAME=URL: $pair" >&2; exit 2; }
    items+=("{\"name\": \"${pair%%=*}\", \"url\": \"${pair#*=}\"}")
  done
  body="{\"services\": [$(IFS=,; echo "${items[*]}")]}"
fi

status=0
curl -sS --fail-with-body -X POST "$BASE_URL/v1/services:batch" \
  -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  --data-binary "$body" || status=$?
echo
exit "$status"
