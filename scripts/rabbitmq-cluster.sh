#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on loopback, beside (never touching) the machine's own RabbitMQ.
#
#   rabbitmq-cluster.sh start [--listen ADDR]   start the three nodes and join them (idempotent)
#   rabbitmq-cluster.sh stop                    stop every node, remove the cluster's folder
#   rabbitmq-cluster.sh status                  each node: running or not, the cluster's members
#   rabbitmq-cluster.sh stop-node N | kill-node N | start-node N   one node (data kept)
#   rabbitmq-cluster.sh urls [ADDR]             CLARION_BROKER_URL for the three nodes
#   rabbitmq-cluster.sh ctl N ARGS...           rabbitmqctl against node N
#
# Node N (1..3) is clarion-haN@localhost: AMQP on 127.0.0.1:$BASE+N (5701..5703 by default,
# and on ADDR too with --listen, e.g. a bridge address that network namespaces reach),
# Erlang distribution on 127.0.0.1:$BASE+20000+N, its own epmd on 127.0.0.1:$EPMD_PORT, data and
# logs under $CLARION_HA_RABBIT_DIR/nodeN, one Erlang cookie and one user (clarion, a random
# password kept in the folder, mode 600).  Plugins are off; CLARION_HA_RABBIT_PLUGINS=
# "rabbitmq_prometheus" (or rabbitmq_management) turns them on, on ports 15700+N / 15670+N.
set -euo pipefail

DIR=${CLARION_HA_RABBIT_DIR:-/tmp/clarion-ha-rabbit}
BASE=${CLARION_HA_RABBIT_BASE_PORT:-5700}
EPMD_PORT=${CLARION_HA_EPMD_PORT:-4371}
PLUGINS=${CLARION_HA_RABBIT_PLUGINS:-}
NODES=(1 2 3)
RMQ_BIN=/usr/lib/rabbitmq/bin  # the Debian wrapper in /usr/sbin su's to rabbitmq and drops our env

say() { echo "rabbitmq-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

node_name() { echo "clarion-ha$1@localhost"; }
amqp_port() { echo $((BASE + $1)); }
dist_port() { echo $((BASE + 20000 + $1)); }

need_rabbitmq() {
  [ -x "$RMQ_BIN/rabbitmq-server" ] || die "RabbitMQ is not installed ($RMQ_BIN/rabbitmq-server \
missing): apt-get install rabbitmq-server"
  [ "$(id -u)" = 0 ] || die "run as root (the nodes run as the calling user, root here)"
}

# Environment shared by the nodes and rabbitmqctl: our cookie ($HOME/.erlang.cookie), our epmd.
common_env() {
  export HOME=$DIR
  export RABBITMQ_CONF_ENV_FILE=$DIR/rabbitmq-env.conf  # not /etc/rabbitmq's (rabbit@localhost)
  export ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_CTL_DIST_PORT_MIN=$((BASE + 20050)) RABBITMQ_CTL_DIST_PORT_MAX=$((BASE + 20070))
  export RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/enabled_plugins
}

node_env() {
  local n=$1 d=$DIR/node$1
  export RABBITMQ_NODENAME; RABBITMQ_NODENAME=$(node_name "$n")
  export RABBITMQ_DIST_PORT; RABBITMQ_DIST_PORT=$(dist_port "$n")
  export RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config
  export RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log RABBITMQ_PID_FILE=$d/pid
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

ctl() {  # ctl N ARGS...: rabbitmqctl against node N
  local n=$1; shift
  ( common_env; "$RMQ_BIN/rabbitmqctl" -n "$(node_name "$n")" "$@" )
}

running() { ctl "$1" -q ping >/dev/null 2>&1; }

write_folder() {
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  [ -s "$DIR/.erlang.cookie" ] || { head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9 \
    > "$DIR/.erlang.cookie"; chmod 400 "$DIR/.erlang.cookie"; }
  [ -s "$DIR/password" ] || { (umask 077; head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9 \
    > "$DIR/password"); }
  : > "$DIR/rabbitmq-env.conf"
  if [ -n "$PLUGINS" ]; then echo "[${PLUGINS}]." > "$DIR/enabled_plugins"
  else echo "[]." > "$DIR/enabled_plugins"; fi
}

write_node_config() {  # write_node_config N LISTEN
  local n=$1 listen=$2 d=$DIR/node$1 port
  port=$(amqp_port "$n")
  mkdir -p "$d/mnesia" "$d/log"
  {
    echo "listeners.tcp.1 = 127.0.0.1:$port"
    [ -z "$listen" ] || echo "listeners.tcp.2 = $listen:$port"
    echo "default_user = clarion"
    echo "default_pass = $(cat "$DIR/password")"
    echo "log.console = false"
    echo "log.file.level = info"
    echo "prometheus.tcp.ip = 127.0.0.1"
    echo "prometheus.tcp.port = $((15700 + n))"
    echo "management.tcp.ip = 127.0.0.1"
    echo "management.tcp.port = $((15670 + n))"
    if [ "$n" != 1 ]; then  # a fresh node joins node 1 as it boots
      echo "cluster_formation.peer_discovery_backend = classic_config"
      echo "cluster_formation.classic_config.nodes.1 = $(node_name 1)"
    fi
  } > "$d/rabbitmq.conf"
  chmod 600 "$d/rabbitmq.conf"
  [ -f "$d/advanced.config" ] || echo "[]." > "$d/advanced.config"
}

wait_booted() {
  local n=$1
  for _ in $(seq 1 120); do
    if ctl "$n" -q await_startup --timeout 5 >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "node $n did not start; see $DIR/node$n/log"
}

start_node() {  # start_node N: boot it if it is not running (a stopped member rejoins by itself)
  local n=$1
  running "$n" && return 0
  [ -f "$DIR/node$n/rabbitmq.conf" ] || die "node $n has no configuration: run 'start' first"
  say "starting $(node_name "$n") on 127.0.0.1:$(amqp_port "$n")"
  ( common_env; node_env "$n"; cd "$DIR"
    "$RMQ_BIN/rabbitmq-server" -detached >>"$DIR/node$n/log/startup.log" 2>&1 )
}

member() {  # member N: is node N listed among the cluster's running nodes (asked of node 1)?
  ctl 1 -q cluster_status --formatter json 2>/dev/null | python3 -c "
import json, sys
status = json.load(sys.stdin)
sys.exit(0 if sys.argv[1] in status.get('running_nodes', []) else 1)" "$(node_name "$1")"
}

join_node() {
  local n=$1
  member "$n" && return 0
  say "joining $(node_name "$n") to $(node_name 1)"
  local log=$DIR/node$n/log/join.log step
  for step in stop_app reset "join_cluster $(node_name 1)" start_app; do
    # shellcheck disable=SC2086  # the step's words are rabbitmqctl's arguments
    ctl "$n" -q $step >>"$log" 2>&1 || die "node $n: '$step' failed; see $log"
  done
}

cmd_start() {
  local listen=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --listen) listen=${2:?--listen needs an address}; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  need_rabbitmq
  write_folder
  local n
  for n in "${NODES[@]}"; do write_node_config "$n" "$listen"; done
  start_node 1
  wait_booted 1
  for n in 2 3; do start_node "$n"; done
  for n in 2 3; do wait_booted "$n"; done
  for n in 2 3; do join_node "$n"; done  # should it not have joined as it booted
  say "cluster up: $(for n in "${NODES[@]}"; do printf '%s ' "$(node_name "$n")"; done)"
}

cmd_stop() {
  if [ -d "$DIR" ] && [ -x "$RMQ_BIN/rabbitmqctl" ]; then
    local n
    for n in "${NODES[@]}"; do
      if running "$n"; then say "stopping $(node_name "$n")"; ctl "$n" -q stop >/dev/null || true; fi
    done
    kill_leftovers
    ( common_env; epmd -kill >/dev/null 2>&1 || true )
  fi
  rm -rf "$DIR"
  say "stopped; $DIR removed"
}

kill_leftovers() {  # a node that did not stop: SIGKILL its VM (found by its data folder)
  local pids
  pids=$(pgrep -f "beam.smp.*$DIR/node" || true)
  [ -z "$pids" ] || { say "killing leftover node VMs: $pids"; kill -9 $pids 2>/dev/null || true; }
}

cmd_status() {
  local n rc=0
  for n in "${NODES[@]}"; do
    if [ -d "$DIR" ] && running "$n"; then
      echo "$(node_name "$n") running amqp=127.0.0.1:$(amqp_port "$n") dist=$(dist_port "$n")"
    else
      echo "$(node_name "$n") stopped"; rc=3
    fi
  done
  for n in "${NODES[@]}"; do
    if [ -d "$DIR" ] && running "$n"; then
      ctl "$n" -q cluster_status --formatter json 2>/dev/null | python3 -c "
import json, sys
status = json.load(sys.stdin)
print('cluster members:', ' '.join(status.get('disk_nodes', [])))
print('running:', ' '.join(status.get('running_nodes', [])))"
      break
    fi
  done
  return $rc
}

cmd_node() {  # cmd_node stop|kill|start N
  local action=$1 n=${2:?node number 1..3}
  case "$n" in 1|2|3) ;; *) die "node number must be 1, 2 or 3" ;; esac
  case "$action" in
    stop) running "$n" && ctl "$n" -q stop >/dev/null; say "$(node_name "$n") stopped" ;;
    kill) local pid; pid=$(cat "$DIR/node$n/pid" 2>/dev/null || true)
          [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; say "$(node_name "$n") killed" ;;
    start) need_rabbitmq; start_node "$n"; wait_booted "$n" ;;
  esac
}

cmd_urls() {
  local host=${1:-127.0.0.1} n urls=()
  [ -s "$DIR/password" ] || die "no cluster here ($DIR): run 'start' first"
  for n in "${NODES[@]}"; do
    urls+=("amqp://clarion:$(cat "$DIR/password")@$host:$(amqp_port "$n")/%2F")
  done
  (IFS=,; echo "${urls[*]}")
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  stop-node) cmd_node stop "${2:-}" ;;
  kill-node) cmd_node kill "${2:-}" ;;
  start-node) cmd_node start "${2:-}" ;;
  urls) cmd_urls "${2:-}" ;;
  ctl) shift; n=${1:?node number}; shift; ctl "$n" "$@" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
