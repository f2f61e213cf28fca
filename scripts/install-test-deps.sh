#!/usr/bin/env bash
# Installs the Debian packages the test suite and the benchmarks use (run as root on Debian 12).
#   auditd                        a private auditd in tests (never the system one); ausearch for the parse bench
#   containerd runc               a private containerd with the CRI plugin for pods in tests
#   containernetworking-plugins   the bridge CNI those pods get their IPs from (inside a test netns)
#   iptables                      used by the bridge CNI plugin
#   busybox-static                the root filesystem of the test container image
#   gcc libc6-dev file            the seccomp violator and the pause binary, compiled at test time
#   nats-server nftables iputils-ping   delivery and response tests
#   openssl                       the CA and certificates of the NATS TLS tests, made at test time
#   systemd util-linux            journalctl and a private systemd-journald (in its own mount namespace via unshare);
#                                 setpriv for processes with no_new_privs and no capabilities (posture tests)
#   libcap2-bin                   capsh, which cross-checks the capability decoding of the posture tests
set -euo pipefail
pkgs=(auditd containerd runc containernetworking-plugins iptables busybox-static gcc libc6-dev file
  nats-server nftables iputils-ping openssl systemd util-linux libcap2-bin)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d: Debian would start the daemons it installs (auditd, containerd, nats-server); the suite
  # starts private instances of its own and must not find system ones registered with the kernel.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f "$policy"
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now auditd containerd nats-server >/dev/null 2>&1 || true
  fi
fi
echo "test dependencies present: ${pkgs[*]}"
