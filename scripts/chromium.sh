#!/usr/bin/env bash
# Make Debian's headless-capable `chromium` available and print its path.
#
# Idempotent: does nothing but print the path when chromium is already installed. Otherwise runs
# `apt-get update` and `apt-get install -y chromium` (as root, or through sudo when available).
# Used by tests/trackers/test_mlflow_ui.py; `make test` on a fresh machine calls it via the test.
set -euo pipefail

find_chromium() {
    for name in chromium chromium-browser google-chrome-stable google-chrome; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

if path="$(find_chromium)"; then
    echo "$path"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: chromium is missing and apt-get is not available; install chromium" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "chromium.sh: chromium is missing; run as root (or with sudo) to install it" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >&2
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2

if path="$(find_chromium)"; then
    echo "$path"
    exit 0
fi
echo "chromium.sh: installation finished but no chromium binary was found" >&2
exit 1
