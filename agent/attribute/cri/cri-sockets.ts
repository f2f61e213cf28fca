import { existsSync } from 'node:fs';

/** Where containerd and CRI-O put their sockets on common distributions, in order of preference. */
export const WELL_KNOWN_CRI_SOCKETS = [
  '/run/containerd/containerd.sock',
  '/run/crio/crio.sock',
  '/run/k3s/containerd/containerd.sock',
  '/var/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock',
] as const;

/** The first well-known CRI socket that exists, or undefined. */
export function findCriSocket(
  candidates: readonly string[] = WELL_KNOWN_CRI_SOCKETS,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  return candidates.find((p) => exists(p));
}
