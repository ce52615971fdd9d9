#!/bin/sh
# Container health check, run inside the container (so a loopback-bound endpoint is reachable):
#   ROLE=coordinator: GET /health on the coordinator's HTTP front (200 healthy, 503 not), with the bearer
#                     token when GAPRUNE_HTTP_TOKEN is set (passed on stdin, not on the command line);
#   ROLE=worker:      GET /health/alive on the node's Pekko Management endpoint.
# Exit 0 when the endpoint answers 2xx, 1 otherwise (what Docker's HEALTHCHECK expects).
set -eu

case "${ROLE:-}" in
  coordinator)
    host=${GAPRUNE_HTTP_BIND:-127.0.0.1}
    port=${GAPRUNE_HTTP_PORT:-8558}
    path=/health
    token=${GAPRUNE_HTTP_TOKEN:-}
    ;;
  worker)
    host=${GAPRUNE_MANAGEMENT_BIND:-127.0.0.1}
    port=${GAPRUNE_MANAGEMENT_PORT:-7626}
    path=/health/alive
    token=''
    ;;
  *)
    echo "healthcheck: ROLE must be coordinator or worker" >&2
    exit 1
    ;;
esac
case "$host" in
  0.0.0.0 | '') host=127.0.0.1 ;;
  :: | '[::]') host='[::1]' ;;
  *:*) case "$host" in \[*) ;; *) host="[$host]" ;; esac ;;
esac
url="http://$host:$port$path"
timeout=${GAPRUNE_HEALTH_TIMEOUT:-4}

if [ -n "$token" ]; then
  printf 'Authorization: Bearer %s\n' "$token" | curl -fsS -o /dev/null --max-time "$timeout" -H @- "$url" || exit 1
else
  curl -fsS -o /dev/null --max-time "$timeout" "$url" </dev/null || exit 1
fi
