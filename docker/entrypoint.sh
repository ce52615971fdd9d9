#!/bin/sh
# Starts a gaprune node from environment variables: writes a HOCON file with the settings the variables give
# (layered over GAPRUNE_CONFIG when set) and runs
#     $GAPRUNE_HOME/gaprune coordinator --config FILE
#     $GAPRUNE_HOME/gaprune worker --config FILE --device DEVICE
# through exec, so the JVM receives the container's signals. The entrypoint of the images (GAPRUNE_HOME=/app);
# outside a container it runs the same way against a checkout or an unpacked distribution.
#
# With arguments whose first word is not an option (`entrypoint.sh session status`, `entrypoint.sh run --out
# DIR`), it runs that gaprune command as given and ignores ROLE. Options (`--foo`) are appended to the node's
# command line.
#
# Variables (default in brackets; docs/runbook.md has the table):
#   ROLE                     coordinator | worker (required)
#   GAPRUNE_HOME             where the launcher `gaprune` is [/app]
#   GAPRUNE_CONFIG           an operator's HOCON file, included first: the variables below win over it []
#   GAPRUNE_NODE_CONFIG      where the generated file goes [${TMPDIR:-/tmp}/gaprune-ROLE-PID.conf]
#   GAPRUNE_SYSTEM_NAME      ActorSystem name, the same on every node [gaprune]
#   GAPRUNE_HOSTNAME         canonical (advertised) host of this node [$HOSTNAME, else `hostname`]
#   GAPRUNE_PORT             Artery port [25520 for a coordinator, 0 (any free port) for a worker]
#   GAPRUNE_BIND_HOSTNAME    address Artery binds when it differs from the canonical one (NAT) []
#   GAPRUNE_SHARD_PORT       a worker's shard port, over which the merger groups pull its shards
#                            (gaprune.stream.tcp-port; bound like Artery) [0: any free port]
#   GAPRUNE_SEED_NODES       comma-separated host:port or pekko:// addresses of the coordinator nodes
#                            [a coordinator: itself; a worker: required]
#   GAPRUNE_HTTP_BIND        coordinator's HTTP front address [127.0.0.1]; any other needs GAPRUNE_HTTP_TOKEN
#   GAPRUNE_HTTP_PORT        coordinator's HTTP front port [8558]
#   GAPRUNE_HTTP_TOKEN       bearer token of the HTTP front; read by the JVM from the environment, never written
#                            (none: the coordinator generates one in its work dir, see docs/operator-api.md)
#   GAPRUNE_HTTP_ALLOWED_HOSTS  comma-separated host names clients use to reach the HTTP front besides loopback
#                            names, IP addresses and this node's GAPRUNE_HOSTNAME, which is always added []
#   GAPRUNE_DATA_ROOTS       comma-separated folders whose files API sessions may name as calibration files
#                            [reference.conf: the work dir and the distribution's data/]
#   GAPRUNE_TLS              on | off: Artery over TLS with mutual authentication (docs/security.md) [the
#                            configuration's, off by default]; a node whose address is not loopback refuses
#                            to start with TLS off unless GAPRUNE_ALLOW_PLAINTEXT=on
#   GAPRUNE_TLS_KEYSTORE     with GAPRUNE_TLS=on: this node's key store (docker/make-pki.sh makes them) []
#   GAPRUNE_TLS_TRUSTSTORE   with GAPRUNE_TLS=on: the trust store holding the CA []
#   GAPRUNE_TLS_KEYSTORE_PASSWORD, GAPRUNE_TLS_TRUSTSTORE_PASSWORD  their passwords (required with
#                            GAPRUNE_TLS=on); read by the JVM from the environment, never written
#   GAPRUNE_ALLOW_PLAINTEXT  on: allow plain TCP beyond loopback (gaprune.cluster.allow-plaintext), only on a
#                            private network where every host that can reach the port is trusted [off]
#   GAPRUNE_MANAGEMENT_BIND  Pekko Management address (/health/alive, /cluster/members) [node's default]
#   GAPRUNE_MANAGEMENT_PORT  Pekko Management port [node's default]
#   GAPRUNE_WORK_DIR         journal (H2), staged shards, accumulators, masks [reference.conf: gaprune-work]
#   GAPRUNE_MODEL            minilm | bge-small | a model directory, the same on every node [minilm]
#   GAPRUNE_THREADS          PyTorch threads of a worker [1]
#   DEVICE                   worker device: cpu | gpu:N [cpu]
#   JOURNAL                  coordinator journal: h2 | postgres [h2]
#   PGHOST PGPORT PGDATABASE PGUSER PGSSLMODE   PostgreSQL [127.0.0.1 5432 gaprune gaprune -]
#   PGPASSWORD / GAPRUNE_PG_PASSWORD            PostgreSQL password (required with JOURNAL=postgres); handed
#                            to the JVM as GAPRUNE_PG_PASSWORD, never written to the file
#   CUDA_VISIBLE_DEVICES     when unset: DEVICE=gpu:N sets it to N, DEVICE=cpu to "" (no GPU)
#   GAPRUNE_DRY_RUN          1: print the file and the command line (one argument per line) and exit
set -eu

die() {
  printf 'gaprune-entrypoint: %s\n' "$*" >&2
  exit 2
}

# A HOCON (JSON) string literal.
quote() {
  case "$1" in
    *"
"*) die "a value contains a line break: $1" ;;
  esac
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

setting() { printf '%s = %s\n' "$1" "$(quote "$2")"; }

number() {
  case "$2" in
    '' | *[!0-9]*) die "$1 must be a number, not \"$2\"" ;;
  esac
}

is_loopback() {
  case "$1" in
    127.* | localhost | ::1 | '[::1]') return 0 ;;
    *) return 1 ;;
  esac
}

GAPRUNE_HOME=${GAPRUNE_HOME:-/app}
launcher="$GAPRUNE_HOME/gaprune"
[ -x "$launcher" ] || die "no launcher at $launcher (set GAPRUNE_HOME to the folder that holds ./gaprune)"

if [ $# -gt 0 ]; then
  case "$1" in
    -*) ;;
    *)
      if [ "${GAPRUNE_DRY_RUN:-}" = 1 ]; then
        printf '%s\n' "$launcher" "$@"
        exit 0
      fi
      exec "$launcher" "$@"
      ;;
  esac
fi

ROLE=${ROLE:-}
case "$ROLE" in
  coordinator | worker) ;;
  '') die "ROLE is not set (coordinator or worker)" ;;
  *) die "ROLE must be coordinator or worker, not \"$ROLE\"" ;;
esac

system=${GAPRUNE_SYSTEM_NAME:-gaprune}
# HOSTNAME: set by Docker (the container hostname) and by bash; empty elsewhere.
# shellcheck disable=SC3028
host=${GAPRUNE_HOSTNAME:-${HOSTNAME:-}}
if [ -z "$host" ]; then
  host=$(hostname 2>/dev/null) || die "GAPRUNE_HOSTNAME is not set and \`hostname\` failed"
fi
if [ "$ROLE" = coordinator ]; then port=${GAPRUNE_PORT:-25520}; else port=${GAPRUNE_PORT:-0}; fi
number GAPRUNE_PORT "$port"

# Seed nodes: "host:port" becomes pekko://SYSTEM@host:port; a bare host gets port 25520.
seeds=''
seed_list=${GAPRUNE_SEED_NODES:-}
if [ -z "$seed_list" ]; then
  [ "$ROLE" = coordinator ] || die "GAPRUNE_SEED_NODES is required for a worker (e.g. coordinator:25520)"
  [ "$port" != 0 ] || die "a coordinator that seeds itself needs a fixed GAPRUNE_PORT"
  seed_list="$host:$port"
fi
set -f
old_ifs=$IFS
IFS=','
for seed in $seed_list; do
  seed=$(printf '%s' "$seed" | tr -d ' \t')
  case "$seed" in
    '') continue ;;
    pekko://*) ;;
    *:*) seed="pekko://$system@$seed" ;;
    *) seed="pekko://$system@$seed:25520" ;;
  esac
  seeds="$seeds${seeds:+, }$(quote "$seed")"
done
IFS=$old_ifs
set +f
[ -n "$seeds" ] || die "GAPRUNE_SEED_NODES holds no address"

device=${DEVICE:-cpu}
if [ "$ROLE" = worker ]; then
  case "$device" in
    cpu) gpu='' ;;
    gpu:*)
      gpu=${device#gpu:}
      number DEVICE "$gpu"
      ;;
    *) die "DEVICE must be cpu or gpu:N, not \"$device\"" ;;
  esac
  # The model runtime puts the model on the process's default device: make that the one DEVICE names.
  if [ -z "${CUDA_VISIBLE_DEVICES+set}" ]; then
    CUDA_VISIBLE_DEVICES=$gpu
    export CUDA_VISIBLE_DEVICES
  fi
fi

journal=${JOURNAL:-h2}
case "$journal" in
  h2 | postgres) ;;
  *) die "JOURNAL must be h2 or postgres, not \"$journal\"" ;;
esac
http_bind=${GAPRUNE_HTTP_BIND:-127.0.0.1}
http_port=${GAPRUNE_HTTP_PORT:-8558}
number GAPRUNE_HTTP_PORT "$http_port"
if [ "$ROLE" = coordinator ]; then
  if ! is_loopback "$http_bind" && [ -z "${GAPRUNE_HTTP_TOKEN:-}" ]; then
    die "GAPRUNE_HTTP_BIND=$http_bind reaches beyond loopback: set GAPRUNE_HTTP_TOKEN (see docs/operator-api.md)"
  fi
  if [ "$journal" = postgres ]; then
    if [ -z "${GAPRUNE_PG_PASSWORD:-}" ]; then
      [ -n "${PGPASSWORD:-}" ] || die "JOURNAL=postgres needs PGPASSWORD (or GAPRUNE_PG_PASSWORD)"
      GAPRUNE_PG_PASSWORD=$PGPASSWORD
    fi
    export GAPRUNE_PG_PASSWORD
    pg_port=${PGPORT:-5432}
    number PGPORT "$pg_port"
    pg_url="jdbc:postgresql://${PGHOST:-127.0.0.1}:$pg_port/${PGDATABASE:-gaprune}"
    if [ -n "${PGSSLMODE:-}" ]; then pg_url="$pg_url?sslmode=$PGSSLMODE"; fi
  fi
fi

management_port=${GAPRUNE_MANAGEMENT_PORT:-}
if [ -n "$management_port" ]; then number GAPRUNE_MANAGEMENT_PORT "$management_port"; fi
shard_port=${GAPRUNE_SHARD_PORT:-}
if [ -n "$shard_port" ]; then number GAPRUNE_SHARD_PORT "$shard_port"; fi
threads=${GAPRUNE_THREADS:-}
if [ -n "$threads" ]; then number GAPRUNE_THREADS "$threads"; fi

user_config=${GAPRUNE_CONFIG:-}
if [ -n "$user_config" ] && [ ! -f "$user_config" ]; then
  die "GAPRUNE_CONFIG names no file: $user_config"
fi

# TLS between nodes: the stores' paths go into the file, their passwords stay in the environment (the JVM reads
# GAPRUNE_TLS_*_PASSWORD; GapruneConfig checks at start that every store is readable).
tls=${GAPRUNE_TLS:-}
case "$tls" in
  '' | off) ;;
  on)
    if [ -z "$user_config" ]; then
      [ -n "${GAPRUNE_TLS_KEYSTORE:-}" ] || die "GAPRUNE_TLS=on needs GAPRUNE_TLS_KEYSTORE (this node's key store; docker/make-pki.sh makes them) or the stores named in GAPRUNE_CONFIG"
      [ -n "${GAPRUNE_TLS_TRUSTSTORE:-}" ] || die "GAPRUNE_TLS=on needs GAPRUNE_TLS_TRUSTSTORE (the trust store holding the CA) or the stores named in GAPRUNE_CONFIG"
    fi
    [ -n "${GAPRUNE_TLS_KEYSTORE_PASSWORD:-}" ] || die "GAPRUNE_TLS=on needs GAPRUNE_TLS_KEYSTORE_PASSWORD in the environment"
    [ -n "${GAPRUNE_TLS_TRUSTSTORE_PASSWORD:-}" ] || die "GAPRUNE_TLS=on needs GAPRUNE_TLS_TRUSTSTORE_PASSWORD in the environment"
    ;;
  *) die "GAPRUNE_TLS must be on or off, not \"$tls\"" ;;
esac
allow_plaintext=${GAPRUNE_ALLOW_PLAINTEXT:-off}
case "$allow_plaintext" in
  on | off) ;;
  *) die "GAPRUNE_ALLOW_PLAINTEXT must be on or off, not \"$allow_plaintext\"" ;;
esac

# A comma-separated list as a HOCON list of strings.
string_list() {
  items=''
  set -f
  old_ifs=$IFS
  IFS=','
  for item in $1; do
    item=$(printf '%s' "$item" | tr -d ' \t')
    [ -n "$item" ] || continue
    items="$items${items:+, }$(quote "$item")"
  done
  IFS=$old_ifs
  set +f
  printf '[%s]' "$items"
}
conf=${GAPRUNE_NODE_CONFIG:-${TMPDIR:-/tmp}/gaprune-$ROLE-$$.conf}

old_umask=$(umask)
umask 077
{
  echo "# Written by docker/entrypoint.sh from the environment (ROLE=$ROLE); later lines win."
  if [ -n "$user_config" ]; then printf 'include required(file(%s))\n' "$(quote "$user_config")"; fi
  setting gaprune.cluster.system-name "$system"
  setting gaprune.cluster.hostname "$host"
  printf 'gaprune.cluster.port = %s\n' "$port"
  printf 'gaprune.cluster.seed-nodes = [%s]\n' "$seeds"
  if [ -n "${GAPRUNE_BIND_HOSTNAME:-}" ]; then
    setting pekko.remote.artery.bind.hostname "$GAPRUNE_BIND_HOSTNAME"
    printf 'pekko.remote.artery.bind.port = %s\n' "$port"
  fi
  if [ "$tls" = on ]; then
    echo 'gaprune.tls.enabled = on'
    if [ -n "${GAPRUNE_TLS_KEYSTORE:-}" ]; then setting gaprune.tls.key-store "$GAPRUNE_TLS_KEYSTORE"; fi
    if [ -n "${GAPRUNE_TLS_TRUSTSTORE:-}" ]; then setting gaprune.tls.trust-store "$GAPRUNE_TLS_TRUSTSTORE"; fi
  elif [ "$tls" = off ]; then
    echo 'gaprune.tls.enabled = off'
  fi
  if [ "$allow_plaintext" = on ]; then echo 'gaprune.cluster.allow-plaintext = on'; fi
  if [ -n "${GAPRUNE_WORK_DIR:-}" ]; then setting gaprune.work-dir "$GAPRUNE_WORK_DIR"; fi
  if [ -n "${GAPRUNE_MODEL:-}" ]; then setting gaprune.model "$GAPRUNE_MODEL"; fi
  if [ -n "${GAPRUNE_MANAGEMENT_BIND:-}" ]; then setting gaprune.management.hostname "$GAPRUNE_MANAGEMENT_BIND"; fi
  if [ -n "$shard_port" ]; then printf 'gaprune.stream.tcp-port = %s\n' "$shard_port"; fi
  # Workers bind Pekko Management on gaprune.management.worker-port (WorkerNode.workerConfig), the coordinator on
  # gaprune.management.port: one container, one node, so both take the port the health check calls.
  if [ -n "$management_port" ]; then
    if [ "$ROLE" = coordinator ]; then
      printf 'gaprune.management.port = %s\n' "$management_port"
    else
      printf 'gaprune.management.worker-port = %s\n' "$management_port"
    fi
  fi
  if [ "$ROLE" = coordinator ]; then
    setting gaprune.http.hostname "$http_bind"
    printf 'gaprune.http.port = %s\n' "$http_port"
    printf 'gaprune.http.allowed-hosts = %s\n' "$(string_list "$host,${GAPRUNE_HTTP_ALLOWED_HOSTS:-}")"
    if [ -n "${GAPRUNE_DATA_ROOTS:-}" ]; then
      printf 'gaprune.data-roots = %s\n' "$(string_list "$GAPRUNE_DATA_ROOTS")"
    fi
    setting gaprune.persistence.backend "$journal"
    if [ "$journal" = postgres ]; then
      setting gaprune.persistence.postgres.url "$pg_url"
      setting gaprune.persistence.postgres.user "${PGUSER:-gaprune}"
    fi
  elif [ -n "$threads" ]; then
    printf 'gaprune.worker.threads = %s\n' "$threads"
  fi
} >"$conf"
umask "$old_umask"

if [ "$ROLE" = coordinator ]; then
  set -- "$launcher" coordinator --config "$conf" "$@"
else
  set -- "$launcher" worker --config "$conf" --device "$device" "$@"
fi
{
  echo "gaprune-entrypoint: $ROLE $host:$port, configuration $conf:"
  sed 's/^/  /' "$conf"
  if [ "$ROLE" = worker ]; then echo "gaprune-entrypoint: CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-}"; fi
  echo "gaprune-entrypoint: exec $*"
} >&2
if [ "${GAPRUNE_DRY_RUN:-}" = 1 ]; then
  printf '%s\n' "$@"
  exit 0
fi
exec "$@"
