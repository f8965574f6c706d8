#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the browser tests (Playwright drives it
# with executable_path; nothing ever downloads a browser of its own: no `playwright install`).
#
# Idempotent and quiet when it is already there. Prints where it is on success.
set -euo pipefail

CHROMIUM=${CLARION_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: $CHROMIUM missing and not root; run: apt-get install chromium" >&2
    exit 1
fi
echo "ensure-chromium: installing Debian package chromium (about a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
[ -x "$CHROMIUM" ] || { echo "ensure-chromium: $CHROMIUM still missing" >&2; exit 1; }
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")" >&2
