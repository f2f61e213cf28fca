import { describe, expect, it } from 'vitest';
import { KernwatchError } from '../../../agent/errors.js';
import { parseIpAddress, requireIpAddress } from '../../../agent/responders/nft/ip-address.js';

describe('parseIpAddress', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1', 'ipv4'],
    ['0.0.0.0', '0.0.0.0', 'ipv4'],
    ['fd00:6b77::2', 'fd00:6b77::2', 'ipv6'],
    ['FD00:6B77:0:0::2', 'fd00:6b77::2', 'ipv6'],
    ['fd00:6b77:0000:0000:0000:0000:0000:0002', 'fd00:6b77::2', 'ipv6'],
    // nft (glibc inet_ntop) compresses the longest zero run, the first of equal ones, never a single group.
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 'ipv6'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1', 'ipv6'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0', 'ipv6'],
    ['0:0:0:0:0:0:0:2', '::2', 'ipv6'],
    ['::FFFF:C000:0201', '::ffff:192.0.2.1', 'ipv6'],
  ] as const)('%s is %s (%s), as nft lists it', (text, address, family) => {
    expect(parseIpAddress(text)).toEqual({ address, family });
  });

  it.each([
    '',
    ' 192.0.2.1',
    '192.0.2.1 ',
    '192.0.2.0/24',
    'fd00:6b77::/64',
    '192.0.2.1-192.0.2.9',
    '01.2.3.4',
    '192.0.2',
    '192.0.2.256',
    'fe80::1%eth0',
    'fe80::1%1',
    '[fd00::1]',
    'example.com',
    '::ffff:192.0.2.1/128',
  ])('%j is not a single address', (text) => {
    expect(parseIpAddress(text)).toBeUndefined();
  });
});

describe('requireIpAddress', () => {
  it('returns the parsed address', () => {
    expect(requireIpAddress('FD00::1')).toEqual({ address: 'fd00::1', family: 'ipv6' });
  });

  it('throws a response error that echoes a bounded part of the input', () => {
    const long = `192.0.2.0/24${'x'.repeat(500)}`;
    const error = (() => {
      try {
        requireIpAddress(long);
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(KernwatchError);
    expect((error as KernwatchError).code).toBe('response');
    expect((error as KernwatchError).message).toBe(
      `Not a single IPv4 or IPv6 address: ${JSON.stringify(long.slice(0, 64))}`,
    );
  });
});
