#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests
# (common.testing.browser drives it headless with Playwright, which never downloads a browser).
# Where it is missing it is installed with apt-get, as root (or with sudo that asks nothing);
# otherwise says exactly what to run.
set -uo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and this is no Debian-like system: install Chromium so that it is at $CHROMIUM" >&2
  exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo)
  else
    echo "ensure-chromium: $CHROMIUM is missing; install it as root: apt-get install -y chromium" >&2
    exit 1
  fi
fi

echo "ensure-chromium: installing Debian's chromium (headless browser tests)"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq || echo "ensure-chromium: apt-get update failed; trying the package lists there are" >&2
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
  echo "ensure-chromium: apt-get install chromium failed" >&2
  exit 1
fi
[ -x "$CHROMIUM" ] || { echo "ensure-chromium: chromium installed, but $CHROMIUM is not there" >&2; exit 1; }
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null)"
