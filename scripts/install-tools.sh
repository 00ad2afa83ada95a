#!/usr/bin/env bash
# Installs the real servers our tests talk to; idempotent, and quiet when they are already there.
set -euo pipefail
tools_dir=${1:-.tools}
mkdir -p "$tools_dir"

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    sudo_cmd=""
    if [ "$(id -u)" != "0" ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if [ ! -d "$tools_dir/node_modules/dynalite" ]; then
    (cd "$tools_dir" && npm install --silent --no-audit --no-fund --prefix . dynalite@4 >/dev/null)
fi
