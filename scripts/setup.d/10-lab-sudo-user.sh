#!/usr/bin/env bash
# The lab's VM sshd offers the login vmscale uses by default: "vmscale", a non-root system user
# with passwordless sudo (what an operator gives vmscale on real VMs). Created only when setup runs
# as root: a lab run by another user logs in as that user instead (lab/sshd.py). Idempotent.
set -euo pipefail

user=vmscale
sudoers=/etc/sudoers.d/vmscale-lab

if [ "$(id -u)" -ne 0 ]; then
  exit 0
fi
if ! command -v sudo >/dev/null || ! command -v visudo >/dev/null; then
  echo "lab sudo user: the sudo package is required (scripts/apt-packages.txt)" >&2
  exit 1
fi
if ! id -u "$user" >/dev/null 2>&1; then
  echo "setup: creating the lab's SSH user $user (passwordless sudo)"
  useradd --system --create-home --home-dir "/var/lib/$user" --shell /bin/bash "$user"
fi
# No password, but not locked: sshd (UsePAM no) refuses key logins to a locked ("!") account.
if [ "$(getent shadow "$user" | cut -d: -f2)" != "*" ]; then
  usermod -p '*' "$user"
fi
want="$user ALL=(root) NOPASSWD: ALL"
if [ ! -f "$sudoers" ] || [ "$(cat "$sudoers")" != "$want" ]; then
  tmp=$(mktemp)
  printf '%s\n' "$want" >"$tmp"
  visudo -cqf "$tmp"
  install -m 0440 -o root -g root "$tmp" "$sudoers"
  rm -f "$tmp"
fi
