#!/usr/bin/env bash
# delete.sh — DELETE /v1/services/{id}: delete a service with its whole history.
#
# Usage: delete.sh SERVICE_ID
# Prints "deleted <id> (HTTP 204)"; an unknown id fails with HTTP 404.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
id="${1:?usage: delete.sh SERVICE_ID}"

curl -fsS -X DELETE "$BASE_URL/v1/services/$id" -w "deleted $id (HTTP %{http_code})\n"
