# syntax=docker/dockerfile:1
#
# The kernwatch node agent: `docker build -t kernwatch .`, run by the DaemonSet in deploy/.
#
# test/integration/deploy/image-build.test.ts builds this file without a Docker engine: it executes these
# very instructions itself (test/helpers/dockerfile-build.ts) and starts the result. It knows only the
# instructions and flags used here and refuses any other, so a change here that it cannot follow fails
# the test instead of going untested.

# One Node release for all stages, the one CI tests with. A tag, not a digest: no registry was reachable
# where this was written to read a digest from, and an unverified one would be worse than none; pin it
# (node:20.20.2-bookworm-slim@sha256:...) where images are released.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /src
# The dependencies before the sources, so that a source change reuses this layer. --ignore-scripts: no
# dependency needs its install script to build or run kernwatch (protobufjs's only warns about version
# schemes; esbuild's, pulled in by vitest, only checks a binary tsc does not use), so none gets to run
# code during the build.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# The agent's sources only (.dockerignore admits nothing else): tsconfig.build.json also names
# test/bench and test/helpers, which are absent here, so dist/ holds the agent alone.
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-build-assets.mjs scripts/
COPY agent/ agent/
RUN npm run build

# The production dependencies from the same lockfile, in a stage of their own so that nothing the build
# installed (typescript, vitest, eslint, their binaries) can reach the runtime image.
FROM node:20.20.2-bookworm-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20.20.2-bookworm-slim AS runtime
# nftables for the quarantine responder, which runs nft. systemd for journalctl, the only Debian package
# that ships it: on a node without auditd the agent in its unprivileged pod cannot open /dev/kmsg, and
# reads journald's copy of the kernel log instead by running `journalctl --directory=<host journal>`
# (agent/sources/journald/). systemd's other programs (systemctl, systemd-run, busctl, the daemons in
# /lib/systemd, ...) and what it pulls in (libsystemd-shared, libcryptsetup12, libssl3, dmsetup) stay as
# dpkg installed them: they need a running systemd, a D-Bus or capabilities, none of which is here, and
# offer nothing the shell and coreutils below do not; deleting files of installed packages would make
# dpkg's records, and image scanners, describe another image. Nothing of systemd runs here: the
# ENTRYPOINT starts node, which starts journalctl.
# The rest of this step takes out of the base image what neither node, nft nor journalctl needs and what
# would help someone who got code execution here:
# - npm, npx, corepack and yarn (they fetch and run code), Node's C headers and the base image's
#   entrypoint script;
# - apt with its keys (no installing tools later), passwd and adduser (user management), e2fsprogs (mkfs,
#   debugfs, which reads block devices raw); dpkg --purge names them one by one and fails if anything
#   left depends on them. mount (mount, umount, losetup) stays, because systemd depends on it; like
#   dmsetup it does nothing without CAP_SYS_ADMIN, which the DaemonSet never adds;
# - the machine ID systemd's installation generates, which every container of the image would share
#   (journalctl --directory does not use it);
# - apt's lists and caches, dpkg's logs and backups. /var/lib/dpkg/status stays, so image scanners
#   still see every package that remains.
# What remains besides are Debian's Essential packages (dash and bash, coreutils, util-linux, perl-base,
# ...): dpkg and every package's maintainer scripts assume them, and removing them leaves an image no
# tool can inspect or patch reliably. kernwatch itself starts no shell (nft and journalctl are spawned
# directly), the ENTRYPOINT below is exec form, and the DaemonSet drops every capability but the ones it
# adds.
# This is the one step the image test does not execute (it has no apt; the host's nft and journalctl
# stand in): the closing nft, journalctl and node commands are what checks it, in the real build.
RUN set -eu; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends nftables systemd; \
    rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
        /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-v* /usr/local/include/node \
        /usr/local/bin/docker-entrypoint.sh; \
    dpkg --purge apt libapt-pkg6.0 gpgv debian-archive-keyring adduser passwd \
        e2fsprogs logsave libext2fs2 libss2; \
    rm -f /etc/machine-id; \
    rm -rf /var/lib/apt /var/cache/apt /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/apt \
        /var/log/dpkg.log /var/log/alternatives.log; \
    nft --version; \
    journalctl --version; \
    node --version
WORKDIR /app
# package.json makes dist/ ES modules ("type": "module"); the lockfile tells image scanners the exact
# version of every dependency in node_modules.
COPY --from=prod-deps /src/package.json /src/package-lock.json ./
COPY --from=prod-deps /src/node_modules/ node_modules/
COPY --from=build /src/dist/agent/ dist/agent/
LABEL org.opencontainers.image.title="kernwatch" \
      org.opencontainers.image.description="Runtime security agent for Kubernetes nodes: reports the kernel's seccomp, AppArmor and SELinux denials per pod." \
      org.opencontainers.image.licenses="Apache-2.0"
# Root, on purpose: what the agent reads is root's (audit.log is 0600 in a 0700 directory, the CRI socket
# 0660 root), and as their owner it needs no capability to read them, where a non-root user would need
# CAP_DAC_READ_SEARCH, which Kubernetes cannot give it. The DaemonSet drops every capability and adds back
# only what a configured responder needs (NET_ADMIN for nft), so this is root without root's powers.
USER root
ENTRYPOINT ["node", "/app/dist/agent/cli/main.js"]
CMD ["run"]
