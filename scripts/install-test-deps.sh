#!/usr/bin/env bash
# Installs the Debian packages the test suite and the benchmark use (run as root on Debian 12).
# auditd: ausearch for the parse benchmark's comparison (the daemon is not started here).
set -euo pipefail
pkgs=(auditd)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the daemon it just installed; the suite starts its own auditd when it needs one.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now auditd >/dev/null 2>&1 || true; fi
fi
echo "test dependencies present: ${pkgs[*]}"
