#!/usr/bin/env bash
# Installs the real servers our tests talk to; idempotent, and quiet when they are already there.
set -euo pipefail
tools_dir=${1:-.tools}
mkdir -p "$tools_dir"

# Debian packages: Prometheus/promtool for the alert rules, Chromium and the one font its
# screenshot of the status page is compared in (docs/status-page.md) for the browser test,
# and a Java runtime for the Spark engine's local-mode tests (PySpark 4 needs Java 17+).
# apt-get runs only when one is missing, so a second run touches nothing.
apt_packages=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    apt_packages+=(prometheus)
fi
if ! command -v chromium >/dev/null 2>&1 || [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    apt_packages+=(chromium fonts-dejavu-core)
fi
if ! command -v java >/dev/null 2>&1; then
    apt_packages+=(openjdk-17-jre-headless)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
    sudo_cmd=""
    if [ "$(id -u)" != "0" ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
        "${apt_packages[@]}" >/dev/null
fi

if [ ! -d "$tools_dir/node_modules/dynalite" ]; then
    (cd "$tools_dir" && npm install --silent --no-audit --no-fund --prefix . dynalite@4 >/dev/null)
fi
