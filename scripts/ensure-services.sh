#!/usr/bin/env bash
# Make sure the services Clarion needs are installed and running on this machine.
#   ensure-services.sh rabbitmq [postgresql]
# RabbitMQ: installed with apt if missing, started if stopped, with its rabbitmq_prometheus
# (metrics on 127.0.0.1:15692, scraped by dashboards/prometheus.yml) and rabbitmq_management
# (UI and HTTP API on 127.0.0.1:15672) plugins enabled, both on loopback.  PostgreSQL (tests only):
# likewise, with a database "test" that user postgres reaches from 127.0.0.1 without a password.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 120); do port_open "$1" && return 0; sleep 0.5; done
  echo "$2 did not open port $1" >&2; return 1
}
apt_install() {
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_rabbitmq() {
  start_rabbitmq
  enable_rabbitmq_plugins
}

RABBITMQ_CONF=/etc/rabbitmq/rabbitmq.conf
enable_rabbitmq_plugins() {  # idempotent; on a running node at once, no restart
  command -v rabbitmq-plugins >/dev/null || return 0
  if [ -d /etc/rabbitmq ]; then  # the plugins' listeners on loopback from every next start
    for key in management.tcp.ip prometheus.tcp.ip; do
      grep -q "^$key" "$RABBITMQ_CONF" 2>/dev/null || echo "$key = 127.0.0.1" >>"$RABBITMQ_CONF"
    done
  fi
  local enabled
  enabled=$(rabbitmq-plugins list -e -m 2>/dev/null || true)
  if grep -qx rabbitmq_prometheus <<<"$enabled" && grep -qx rabbitmq_management <<<"$enabled"; then
    return 0
  fi
  echo "enabling RabbitMQ plugins rabbitmq_prometheus (:15692) and rabbitmq_management (:15672)" >&2
  # the running node has not read those lines: give the listeners loopback before they start
  rabbitmqctl eval 'application:set_env(rabbitmq_management, tcp_config, [{ip, "127.0.0.1"}, {port, 15672}]), application:set_env(rabbitmq_prometheus, tcp_config, [{ip, "127.0.0.1"}, {port, 15692}]).' >/dev/null 2>&1 || true
  rabbitmq-plugins enable --quiet rabbitmq_prometheus rabbitmq_management >/dev/null
  wait_port 15692 "RabbitMQ's prometheus plugin"
}

start_rabbitmq() {
  port_open 5672 && return 0
  if ! command -v rabbitmq-server >/dev/null; then
    echo "installing RabbitMQ with apt" >&2
    apt_install rabbitmq-server
  fi
  port_open 5672 && return 0
  echo "starting RabbitMQ" >&2
  if ! rabbitmqctl status >/dev/null 2>&1; then
    rabbitmq-server -detached >/dev/null 2>&1 || service rabbitmq-server start >/dev/null 2>&1 || true
  fi
  rabbitmqctl start_app >/dev/null 2>&1 || true
  wait_port 5672 RabbitMQ
}

ensure_postgresql() {
  if ! port_open 5432; then
    if ! command -v pg_ctlcluster >/dev/null; then
      echo "installing PostgreSQL with apt" >&2
      apt_install postgresql
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    echo "starting PostgreSQL $version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
      || pg_ctlcluster "$version" main start
    wait_port 5432 PostgreSQL
  fi
  if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    local hba
    hba=$(su postgres -c "psql -tAc 'show hba_file'")
    if ! grep -q "clarion-tests" "$hba"; then
      sed -i "1i host test postgres 127.0.0.1/32 trust # clarion-tests" "$hba"
      su postgres -c "psql -qc 'select pg_reload_conf()'" >/dev/null
    fi
    su postgres -c "psql -tAc \"select 1 from pg_database where datname='test'\"" | grep -q 1 \
      || su postgres -c "createdb test"
  fi
}

for service in "${@:-rabbitmq}"; do
  case "$service" in
    rabbitmq) ensure_rabbitmq ;;
    postgresql) ensure_postgresql ;;
    *) echo "unknown service $service" >&2; exit 2 ;;
  esac
done
