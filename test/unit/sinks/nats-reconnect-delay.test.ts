import { describe, expect, test } from 'vitest';
import { natsServers, ReconnectDelay } from '../../../agent/sinks/nats/nats-connection.js';
import { denialFilterSubject, denialSubject, subjectToken } from '../../../agent/sinks/nats/nats-subjects.js';
import { subjectCovers } from '../../../agent/sinks/nats/stream-setup.js';

describe('NATS reconnect delay', () => {
  test('grows with the length of the outage, not with the number of times it is asked', () => {
    let now = 1_000_000;
    const delay = new ReconnectDelay(
      250,
      10_000,
      () => 1,
      () => now,
    );
    delay.disconnected();
    // The client asks on every pass of its loop: a hundred asks at the start of an outage stay quick.
    for (let i = 0; i < 100; i++) expect(delay.next()).toBe(250);
    now += 8_000;
    expect(delay.next()).toBe(2_000);
    now += 60_000;
    expect(delay.next()).toBe(10_000);
    delay.connected();
    expect(delay.next()).toBe(250);
  });

  test('is jittered between half and all of its step', () => {
    const delay = new ReconnectDelay(
      1000,
      10_000,
      () => 0,
      () => 0,
    );
    expect(delay.next()).toBe(500);
  });
});

describe('NATS subjects and URLs', () => {
  test.each([
    ['node-a', 'node-a'],
    ['node.example.com', 'node_example_com'],
    ['a*b>c d\te', 'a_b_c_d_e'],
    ['', '_'],
  ])('token %j is %j', (value, token) => {
    expect(subjectToken(value)).toBe(token);
  });

  test('denial subjects name node, kind and namespace, _host without a pod', () => {
    expect(denialSubject('n.1', 'seccomp', 'prod')).toBe('kernwatch.v1.denial.n_1.seccomp.prod');
    expect(denialSubject('n1', 'apparmor', undefined)).toBe('kernwatch.v1.denial.n1.apparmor._host');
    expect(denialFilterSubject({ kind: 'selinux' })).toBe('kernwatch.v1.denial.*.selinux.*');
  });

  test.each([
    ['kernwatch.>', 'kernwatch.>', true],
    ['>', 'kernwatch.>', true],
    ['kernwatch.v1.>', 'kernwatch.>', false],
    ['kernwatch.*', 'kernwatch.>', false],
    ['other.>', 'kernwatch.>', false],
  ])('stream subject %s covers %s: %s', (pattern, wanted, covers) => {
    expect(subjectCovers(pattern, wanted)).toBe(covers);
  });

  test('URLs: several servers, TLS scheme kept, credentials refused', () => {
    expect(natsServers('nats://a:4222, tls://b:4443')).toEqual(['nats://a:4222', 'tls://b:4443']);
    expect(() => natsServers('nats://user:pw@a:4222')).toThrow(/Credentials in the NATS URL are refused/);
    expect(() => natsServers('http://a')).toThrow(/Not a NATS URL/);
  });
});
