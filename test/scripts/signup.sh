#!/usr/bin/env bash
# signup.sh — POST /v1/users: create an account (the first account on a server is admin).
#
# Usage: signup.sh EMAIL PASSWORD
#   PASSWORD needs 12 characters or more. Then log in with login.sh.
# Prints the account as JSON (201): {"id", "email", "is_admin", "created_at"}; an e-mail that
# already has an account fails with HTTP 409.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
email="${1:?usage: signup.sh EMAIL PASSWORD}"
password="${2:?usage: signup.sh EMAIL PASSWORD}"

python3 -c 'import json, sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2]}))' \
  "$email" "$password" |
  curl -fsS -X POST "$BASE_URL/v1/users" -H 'Content-Type: application/json' -d @-
echo
