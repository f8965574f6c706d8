#!/usr/bin/env bash
# "Hosts" for the high-availability drill: Linux network namespaces on a private bridge.
#
#   ha-hosts.sh up [NAMES...]      bridge clha0 (10.213.0.1/24) and one namespace per name
#                                  (default: a b c → clha-a 10.213.0.11, clha-b .12, clha-c .13)
#   ha-hosts.sh down               remove the namespaces, their links, the bridge, and what
#                                  open-postgres added
#   ha-hosts.sh status             the bridge, each namespace and its link, PostgreSQL's access
#   ha-hosts.sh cut NAME | mend NAME   take a host's link down / bring it back
#   ha-hosts.sh open-postgres      let the hosts reach PostgreSQL at 10.213.0.1:5432 (a listen
#                                  address in conf.d and a pg_hba line for the subnet; restarts
#                                  PostgreSQL once if it is not listening there yet)
#   ha-hosts.sh close-postgres     remove both again (and reload; the listener on the vanished
#                                  address goes with PostgreSQL's next restart)
#
# A namespace has no default route: it reaches the bridge's subnet only (the host's side,
# 10.213.0.1, where the drill's services listen, and the other hosts). Nothing is forwarded and
# no firewall rule is made. CLARION_HA_SUBNET changes the /24 (default 10.213.0).
set -euo pipefail

SUBNET=${CLARION_HA_SUBNET:-10.213.0}
BRIDGE=clha0
HOST_ADDR=$SUBNET.1
MARK="clarion-ha"  # marks the pg_hba line and names the conf.d file
PG_CONF_NAME=95-clarion-ha.conf

say() { echo "ha-hosts: $*" >&2; }
die() { say "$*"; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "run as root (network namespaces and PostgreSQL's files need it)"
  command -v ip >/dev/null || die "ip (iproute2) is missing: apt-get install iproute2"
}

ns_of() { echo "clha-$1"; }
veth_of() { echo "clha-$1"0; }  # the host's end, on the bridge; the namespace's end is eth0

host_number() {  # a → 11, b → 12, …
  local name=$1 letters=abcdefghij
  local rest=${letters%%"$name"*}
  [ "${#rest}" -lt "${#letters}" ] && [ "${#name}" = 1 ] || die "host names are single letters a..j"
  echo $((11 + ${#rest}))
}

addr_of() { echo "$SUBNET.$(host_number "$1")"; }

make_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
  ip link add "$BRIDGE" type bridge
  ip addr add "$HOST_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  say "bridge $BRIDGE at $HOST_ADDR/24"
}

make_host() {
  local name=$1 ns veth addr
  ns=$(ns_of "$name"); veth=$(veth_of "$name"); addr=$(addr_of "$name")
  ip netns list | grep -qw "$ns" && return 0
  ip netns add "$ns"
  ip link add "$veth" type veth peer name "${veth%0}1"
  ip link set "${veth%0}1" netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" link set "${veth%0}1" name eth0
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  say "host $name: namespace $ns at $addr"
}

our_namespaces() { ip netns list | awk '{print $1}' | grep '^clha-' || true; }

cmd_up() {
  need_root
  make_bridge
  local names=("$@") name
  [ ${#names[@]} -gt 0 ] || names=(a b c)
  for name in "${names[@]}"; do make_host "$name"; done
}

cmd_down() {
  need_root
  cmd_close_postgres
  local ns
  for ns in $(our_namespaces); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip link del "${ns}0" 2>/dev/null || true  # deletes both ends of the pair
    ip netns del "$ns"
    say "removed $ns"
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; say "removed $BRIDGE"; fi
}

cmd_link() {  # cmd_link down|up NAME
  need_root
  local veth; veth=$(veth_of "${2:?host name}")
  ip link show "$veth" >/dev/null 2>&1 || die "no host $2"
  ip link set "$veth" "$1"
  say "host $2: link $1"
}

pg_cluster() {  # "VERSION NAME" of the cluster on port 5432
  pg_lsclusters -h 2>/dev/null | awk '$3 == 5432 {print $1, $2; exit}'
}

pg_psql() { psql -h 127.0.0.1 -U postgres -d postgres -qAtc "$1"; }

pg_listening_here() { ss -ltn | awk '{print $4}' | grep -qx "$HOST_ADDR:5432"; }

cmd_open_postgres() {
  need_root
  local cluster version name conf hba current
  cluster=$(pg_cluster); [ -n "$cluster" ] || die "no PostgreSQL cluster on port 5432"
  read -r version name <<<"$cluster"
  conf=/etc/postgresql/$version/$name/conf.d/$PG_CONF_NAME
  hba=$(pg_psql "show hba_file")
  ip addr show "$BRIDGE" >/dev/null 2>&1 || die "no bridge $BRIDGE: run 'up' first"
  if [ ! -f "$conf" ]; then
    current=$(pg_psql "show listen_addresses")
    echo "listen_addresses = '$current,$HOST_ADDR'  # $MARK: scripts/ha-hosts.sh" > "$conf"
  fi
  grep -q "# $MARK" "$hba" || sed -i "1i host all all $SUBNET.0/24 trust # $MARK" "$hba"
  pg_psql "select pg_reload_conf()" >/dev/null
  if ! pg_listening_here; then
    say "restarting PostgreSQL $version/$name once to listen on $HOST_ADDR"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$name" restart
  fi
  for _ in $(seq 1 60); do pg_listening_here && { say "PostgreSQL at $HOST_ADDR:5432"; return 0; }
    sleep 0.5; done
  die "PostgreSQL is not listening on $HOST_ADDR:5432"
}

cmd_close_postgres() {
  local cluster version name conf hba changed=""
  cluster=$(pg_cluster); [ -n "$cluster" ] || return 0
  read -r version name <<<"$cluster"
  conf=/etc/postgresql/$version/$name/conf.d/$PG_CONF_NAME
  [ -f "$conf" ] && { rm -f "$conf"; changed=1; }
  hba=$(pg_psql "show hba_file" 2>/dev/null || echo /etc/postgresql/$version/$name/pg_hba.conf)
  if grep -q "# $MARK" "$hba" 2>/dev/null; then sed -i "/# $MARK\$/d" "$hba"; changed=1; fi
  if [ -n "$changed" ]; then
    pg_psql "select pg_reload_conf()" >/dev/null 2>&1 || true
    say "PostgreSQL: the hosts' listen address and pg_hba line removed"
  fi
}

cmd_status() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge $BRIDGE $HOST_ADDR/24 up"
  else echo "bridge $BRIDGE absent"; fi
  local ns state
  for ns in $(our_namespaces); do
    state=$(ip -br link show "${ns}0" 2>/dev/null | awk '{print $2}')
    echo "$ns $(ip -n "$ns" -br -4 addr show eth0 | awk '{print $3}') link ${state:-missing}"
  done
  if pg_listening_here; then echo "postgresql listening on $HOST_ADDR:5432"
  else echo "postgresql not reachable from the hosts"; fi
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  cut) cmd_link down "${2:-}" ;;
  mend) cmd_link up "${2:-}" ;;
  open-postgres) cmd_open_postgres ;;
  close-postgres) need_root; cmd_close_postgres ;;
  *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
