#!/usr/bin/env bash
# metrics.sh — GET /metrics: the Prometheus scrape endpoint (text exposition format).
#
# Usage: metrics.sh [PATTERN]
#   PATTERN, if given, keeps only lines matching it (grep -E), e.g. 'statuschecker_service_up'.
# Shows per-service state (statuschecker_service_up, ..._response_time_seconds), check
# counts by result, check durations and schedule lag.
# BASE_URL (default http://127.0.0.1:9999) names the running statuschecker (no /v1 here).
# METRICS_TOKEN, when set, is sent as a bearer token: the server asks for it when
# STATUSCHECKER_METRICS_TOKEN is set (and answers 401 without it).
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:9999}"
pattern="${1:-}"

scrape() {
  curl -fsS ${METRICS_TOKEN:+-H "Authorization: Bearer $METRICS_TOKEN"} "$BASE_URL/metrics"
}
if [[ -n "$pattern" ]]; then
  scrape | grep -E -- "$pattern"
else
  scrape
fi
