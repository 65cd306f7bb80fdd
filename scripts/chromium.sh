#!/usr/bin/env bash
# Make sure Debian's Chromium (+ chromedriver) is installed for the browser tests.
# Playwright drives it with executable_path=/usr/bin/chromium
# (`playwright install` cannot download browsers here). Fast no-op when present.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "chromium.sh: /usr/bin/chromium missing; run: sudo apt-get install -y chromium chromium-driver fonts-liberation" >&2
    exit 1
fi

echo "chromium.sh: installing chromium + chromium-driver with apt-get ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-liberation fonts-dejavu-core fonts-noto-color-emoji
[ -x /usr/bin/chromium ] || { echo "chromium.sh: /usr/bin/chromium still missing" >&2; exit 1; }
/usr/bin/chromium --version
