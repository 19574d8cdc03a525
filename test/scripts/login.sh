#!/usr/bin/env bash
# login.sh — POST /v1/auth/token: log in and get an access token that expires (after an hour
# unless STATUSCHECKER_ACCESS_TOKEN_TTL_SECONDS says otherwise).
#
# Usage: export TOKEN=$(login.sh EMAIL PASSWORD)
#   The other scripts send it as "Authorization: Bearer $TOKEN".
# Prints only the access token; a wrong e-mail or password fails with HTTP 401 and prints nothing.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
email="${1:?usage: login.sh EMAIL PASSWORD}"
password="${2:?usage: login.sh EMAIL PASSWORD}"

answer=$(
  python3 -c 'import json, sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2]}))' \
    "$email" "$password" |
    curl -fsS -X POST "$BASE_URL/v1/auth/token" -H 'Content-Type: application/json' -d @-
)
python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' <<<"$answer"
