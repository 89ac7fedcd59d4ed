#!/usr/bin/env bash
# make setup: idempotent. Creates the virtual environment from the lock file, installs the missing
# Debian packages of scripts/apt-packages.txt, then runs scripts/setup.d/*.sh in order (builds of
# lab parts, e.g. vcsim). Every step skips itself when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
start=$(date +%s)

# 1. uv, in a tools venv of its own (pinned), then the locked project environment.
if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version | grep -q "$UV_VERSION"; then
  python3 -m venv .tools
  .tools/bin/pip install -q "uv==$UV_VERSION"
fi
.tools/bin/uv sync --frozen --quiet

# 2. Debian packages, only the missing ones.
missing=()
while read -r pkg; do
  [ -z "$pkg" ] && continue
  case "$pkg" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 3. Builds of lab parts.
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  bash "$step"
done
echo "setup: done in $(( $(date +%s) - start )) s"
