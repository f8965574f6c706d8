#!/usr/bin/env bash
# Make sure `prometheus` and `promtool` are on PATH (Debian's `prometheus` package).
#
# Idempotent and quiet when both are already there. Clarion's tests and demos run their own
# Prometheus on 127.0.0.1 with a temporary config and port, so the Debian service that the
# package may start (on 0.0.0.0:9090) is stopped and disabled: it is never what we talk to.
set -euo pipefail

have_binaries() {
    command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1
}

stop_debian_service() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
        service prometheus stop >/dev/null 2>&1 || true
    fi
}

install_package() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "ensure-prometheus: prometheus/promtool missing and not root; run: apt-get install prometheus" >&2
        exit 1
    fi
    echo "ensure-prometheus: installing Debian package prometheus" >&2
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d 101 keeps the maintainer scripts from starting the service during install.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
    fi
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi
    stop_debian_service
}

if ! have_binaries; then
    install_package
fi
have_binaries || { echo "ensure-prometheus: prometheus/promtool still missing" >&2; exit 1; }
