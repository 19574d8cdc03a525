#!/usr/bin/env bash
# summary.sh — GET /v1/services/{id}/stats/summary: checks, successes, failures and
# availability over the last 10 minutes, hour, 24 hours, 7, 30 and 365 days.
#
# Usage: summary.sh SERVICE_ID
# Prints {"data": [{"window": "10m", "since", "until", "checks", "successful", "failed",
# "availability_percent"}, ...]}.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: summary.sh SERVICE_ID}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/services/$id/stats/summary"
echo
