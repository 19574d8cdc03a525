#!/usr/bin/env bash
# stats.sh — GET /v1/services/{id}/stats: availability, response times, status codes and
# downtime over a range.
#
# Usage: stats.sh SERVICE_ID [QUERY]
#   QUERY is an optional query string: 'window_seconds=3600' (the last hour; default 600), or
#   'since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z' for a fixed range.
# Prints {"since", "until", "checks", "successful", "failed", "availability_percent",
# "response_time_ms": {avg, max, p50, p95, p99}, "ttfb_ms": {avg, max}, "status_codes",
# "downtime_seconds", "downtime_periods", "percentiles"}.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker.
# TOKEN is an access token from login.sh or an API token from token.sh.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
: "${TOKEN:?log in first: export TOKEN=\$(test/scripts/login.sh EMAIL PASSWORD)}"
id="${1:?usage: stats.sh SERVICE_ID [QUERY]}"
query="${2:-}"

curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL/v1/services/$id/stats${query:+?$query}"
echo
