import { isIP, SocketAddress } from 'node:net';
import { ERROR_CODES, KernwatchError } from '../../errors.js';

export const IP_FAMILIES = { ipv4: 'ipv4', ipv6: 'ipv6' } as const;
export type IpFamily = (typeof IP_FAMILIES)[keyof typeof IP_FAMILIES];

export interface IpAddress {
  /** Dotted quad, or IPv6 in the form nft prints (lowercase, longest zero run compressed). */
  readonly address: string;
  readonly family: IpFamily;
}

/** Longest input echoed back in an error message: the text may come from anywhere. */
const MAX_ECHOED_CHARS = 64;

/**
 * One host address, or undefined for anything else: CIDRs, ranges, hostnames, surrounding spaces and
 * IPv6 zone ids (`fe80::1%eth0`, which isIP accepts but a set element cannot hold).
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  if (text.includes('%')) return undefined;
  const version = isIP(text);
  if (version === 4) return { address: text, family: IP_FAMILIES.ipv4 };
  if (version !== 6) return undefined;
  // SocketAddress formats with libuv's inet_ntop, the same rules glibc's inet_ntop applies when nft prints
  // an ipv6_addr (zero runs of two or more groups compressed, IPv4-mapped tails dotted): an address given
  // here compares equal to the one nft lists.
  return { address: new SocketAddress({ address: text, family: 'ipv6' }).address, family: IP_FAMILIES.ipv6 };
}

export function requireIpAddress(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (parsed === undefined) {
    throw new KernwatchError(
      ERROR_CODES.response,
      `Not a single IPv4 or IPv6 address: ${JSON.stringify(text.slice(0, MAX_ECHOED_CHARS))}`,
    );
  }
  return parsed;
}
