import { describe, expect, it } from 'vitest';
import { jsonLine, parseWatchedEvent, printable, watchLine, whereOf } from '../../../agent/cli/watch-line.js';

import {
  ATTRIBUTION,
  EVENT_SOURCE,
  type Attribution,
  type ContainerRef,
  type KernwatchEvent,
  type PodRef,
} from '../../../agent/events.js';
import { eventToJson } from '../../../agent/sinks/event-json.js';
import { constructedLines, corpusLine, derive, kernelHex } from '../../helpers/corpus-lines.js';
import { onlyEvent } from '../../helpers/parse-text.js';

/**
 * The line `kernwatch watch` prints for an event, for events parsed from real corpus lines and then
 * attributed the way the agent attributes them before publishing.
 */

const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';
const CONTAINER_ID = '3b6fd1b8f8b0a2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c';
const POD: PodRef = {
  name: 'web-7f9c8d5b6-x2k4j',
  namespace: 'prod',
  uid: '6a1f0f3e-9b1c-4d2e-8f3a-0c1d2e3f4a5b',
};

/** What the agent publishes: the parsed event with its node, source, attribution and count. */
function published(
  line: string,
  at: { attribution: Attribution; pod?: PodRef; container?: ContainerRef; count?: number },
): KernwatchEvent {
  const e = onlyEvent(line);
  const out: KernwatchEvent = {
    ...e,
    id: `node-a:${e.id.slice('test-node:'.length)}`,
    node: 'node-a',
    source: EVENT_SOURCE.kmsg,
    attribution: at.attribution,
    count: at.count ?? 1,
  };
  if (at.pod !== undefined) out.pod = at.pod;
  if (at.container !== undefined) out.container = at.container;
  return out;
}

const killedInPod = published(corpusLine(KMSG, 9), {
  attribution: ATTRIBUTION.pod,
  pod: POD,
  container: { id: CONTAINER_ID, name: 'nginx', runtime: 'containerd' },
  count: 3,
});
const killedOnHost = published(corpusLine(KMSG, 11), { attribution: ATTRIBUTION.host });
const loggedUnresolved = published(corpusLine(KMSG, 2), { attribution: ATTRIBUTION.unresolved });
const apparmorInBareContainer = published(corpusLine('dmesg/gh-containerd-containerd-2679.log', 1), {
  attribution: ATTRIBUTION.container,
  container: { id: CONTAINER_ID },
});
const selinuxInPodWithoutContainerName = published(
  constructedLines('selinux-avc-full-event.log').join('\n'),
  {
    attribution: ATTRIBUTION.pod,
    pod: { ...POD, namespace: 'mail' },
    container: { id: CONTAINER_ID },
  },
);

describe('watchLine', () => {
  it('shows time, node, namespace/pod/container, kind, outcome, syscall, comm[pid] and the count', () => {
    expect(watchLine(killedInPod)).toBe(
      '2026-11-28T11:38:47.092Z  node-a        prod/web-7f9c8d5b6-x2k4j/nginx            seccomp  killed   ' +
        'getppid (x86_64) KILL_PROCESS         w kill-process[8591]  x3\n',
    );
  });

  it('shows host for a host process and leaves the count out when it is 1', () => {
    expect(watchLine(killedOnHost)).toBe(
      '2026-11-28T11:38:47.104Z  node-a        host                                      seccomp  killed   ' +
        'getppid (x86_64) KILL_PROCESS         sh[8595]\n',
    );
  });

  it('shows unresolved for a process the agent could not attribute', () => {
    expect(watchLine(loggedUnresolved)).toBe(
      '2026-11-28T11:38:47.052Z  node-a        unresolved                                seccomp  logged   ' +
        'getppid (x86_64) LOG                  w log[8577]\n',
    );
  });

  it('shows the AppArmor operation, peer and mask, and a container outside Kubernetes by its short id', () => {
    expect(watchLine(apparmorInBareContainer)).toBe(
      '2018-09-24T19:27:08.528Z  node-a        container:3b6fd1b8f8b0                    apparmor blocked  ' +
        'ptrace unconfined [trace]             ps[2741]\n',
    );
  });

  it('shows the SELinux permissions, class and object, and the container id when its name is unknown', () => {
    expect(watchLine(selinuxInPodWithoutContainerName)).toBe(
      '2007-01-28T21:58:13.977Z  node-a        mail/web-7f9c8d5b6-x2k4j/3b6fd1b8f8b0     selinux  blocked  ' +
        '{ read write } dir maildrop           pickup[13010]\n',
    );
  });

  it('adds the errno name when the kernel still wrote the errno into the record', () => {
    // CONSTRUCTED: kmsg line 3 with code=0x50001 (ERRNO EPERM), as kernels before the errno was masked wrote it.
    const line = derive(corpusLine(KMSG, 3), 'code=0x50000', 'code=0x50001');
    const e = published(line, { attribution: ATTRIBUTION.host });
    expect(e.seccomp?.errnoName).toBe('EPERM');
    expect(watchLine(e)).toBe(
      '2026-11-28T11:38:47.060Z  node-a        host                                      seccomp  blocked  ' +
        'getppid (x86_64) ERRNO EPERM          w errno-eperm[8579]\n',
    );
  });

  it('lines up the kind and the process of every row whose cells fit their columns', () => {
    const rows = [killedInPod, killedOnHost, loggedUnresolved, apparmorInBareContainer].map((e) =>
      watchLine(e),
    );
    // 24 + 2 + 12 + 2 + 40 + 2: after TIME, NODE and WHERE with their separators.
    expect(rows.map((r) => r.search(/ (seccomp|apparmor) /) + 1)).toEqual([82, 82, 82, 82]);
    const processes = ['w kill-process[', 'sh[', 'w log[', 'ps['];
    // ... + 8 + 1 + 7 + 2 + 36 + 2: after KIND, OUTCOME and DENIED.
    expect(rows.map((r, i) => r.indexOf(processes[i] ?? '?'))).toEqual([138, 138, 138, 138]);
  });

  it('does not cut a value longer than its column: the rest of that line moves right', () => {
    const e = { ...killedInPod, node: 'ip-10-0-1-23.eu-west-1.compute.internal' };
    expect(watchLine(e)).toBe(
      '2026-11-28T11:38:47.092Z  ip-10-0-1-23.eu-west-1.compute.internal  prod/web-7f9c8d5b6-x2k4j/nginx            ' +
        'seccomp  killed   getppid (x86_64) KILL_PROCESS         w kill-process[8591]  x3\n',
    );
  });

  it('replaces control characters of a decoded comm so that they never reach the terminal', () => {
    // CONSTRUCTED: kmsg line 2 with its hex comm replaced by one that decodes to an escape sequence and a newline.
    const line = derive(corpusLine(KMSG, 2), 'comm=77206C6F67', `comm=${kernelHex('\u001b[2J\nx\u009b')}`);
    const e = published(line, { attribution: ATTRIBUTION.host });
    expect(e.process.comm).toBe('\u001b[2J\nx\u009b');
    const shown = watchLine(e);
    expect(shown.endsWith('  ?[2J?x?[8577]\n')).toBe(true);
    expect(shown.split('\n')).toHaveLength(2);
  });

  it('colours the outcome only when asked, keeping the columns where they were', () => {
    const plain = watchLine(killedInPod);
    const coloured = watchLine(killedInPod, { colour: true });
    expect(coloured).toBe(plain.replace('killed   ', '\u001b[31mkilled\u001b[0m   '));
    expect(watchLine(loggedUnresolved, { colour: true })).toBe(watchLine(loggedUnresolved));
  });
});

describe('whereOf', () => {
  it('shows namespace/pod when the container is unknown', () => {
    expect(whereOf({ ...loggedUnresolved, attribution: ATTRIBUTION.pod, pod: POD })).toBe(
      'prod/web-7f9c8d5b6-x2k4j',
    );
  });
});

describe('printable', () => {
  it('replaces C0, DEL, C1 and bidirectional controls and keeps other text', () => {
    expect(printable('a\u0000b\u007fc\u0085d\u202ee\u2066f/é→')).toBe('a?b?c?d?e?f/é→');
  });
});

describe('parseWatchedEvent', () => {
  it('accepts every event the agent serialises', () => {
    for (const e of [
      killedInPod,
      killedOnHost,
      loggedUnresolved,
      apparmorInBareContainer,
      selinuxInPodWithoutContainerName,
    ]) {
      const parsed = parseWatchedEvent(eventToJson(e));
      expect(parsed).toEqual({ ok: true, event: e });
    }
  });

  it.each([
    ['not JSON', '{"schema":"kernwatch.v1",', 'not JSON'],
    ['an array', '[1,2]', 'not a JSON object'],
    ['another schema', '{"schema":"kernwatch.v2"}', 'schema is "kernwatch.v2", not kernwatch.v1'],
    ['no schema', '{"id":"x"}', 'schema is missing, not kernwatch.v1'],
  ])('refuses %s with a one-line reason', (_name, text, reason) => {
    expect(parseWatchedEvent(text)).toEqual({ ok: false, reason });
  });

  it.each([
    ['time', (d: Record<string, unknown>) => ({ ...d, time: 1 }), 'time is not a string'],
    ['kind', (d: Record<string, unknown>) => ({ ...d, kind: 'landlock' }), 'kind is not a known kind'],
    [
      'outcome',
      (d: Record<string, unknown>) => ({ ...d, outcome: 'maybe' }),
      'outcome is not a known outcome',
    ],
    ['count', (d: Record<string, unknown>) => ({ ...d, count: 0 }), 'count is not a count >= 1'],
    [
      'process',
      (d: Record<string, unknown>) => ({ ...d, process: { comm: 'x' } }),
      'process.pid is not an integer',
    ],
    ['detail', (d: Record<string, unknown>) => ({ ...d, seccomp: undefined }), 'seccomp is not an object'],
    [
      'syscallNr',
      (d: Record<string, unknown>) => ({ ...d, seccomp: { ...(d.seccomp as object), syscallNr: '110' } }),
      'seccomp.syscallNr is not an integer',
    ],
    [
      'pod',
      (d: Record<string, unknown>) => ({ ...d, pod: { name: 'p' } }),
      'pod is not an object with name and namespace',
    ],
    [
      'container',
      (d: Record<string, unknown>) => ({ ...d, container: { name: 'c' } }),
      'container is not an object with an id',
    ],
  ])('refuses an event whose %s the line cannot show', (_name, change, reason) => {
    const doc = JSON.parse(eventToJson(killedInPod)) as Record<string, unknown>;
    expect(parseWatchedEvent(JSON.stringify(change(doc)))).toEqual({ ok: false, reason });
  });

  it('refuses SELinux permissions that are not a list of strings', () => {
    const doc = JSON.parse(eventToJson(selinuxInPodWithoutContainerName)) as Record<string, unknown>;
    const broken = { ...doc, selinux: { ...(doc.selinux as object), permissions: 'read' } };
    expect(parseWatchedEvent(JSON.stringify(broken))).toEqual({
      ok: false,
      reason: 'selinux.permissions is not an array of strings',
    });
  });
});

describe('jsonLine', () => {
  const encode = (s: string) => new TextEncoder().encode(s);
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);

  it('prints the payload byte for byte with one newline', () => {
    const json = eventToJson(killedInPod);
    expect(decode(jsonLine(encode(json), json))).toBe(`${json}\n`);
  });

  it('drops a trailing newline the publisher added', () => {
    const json = eventToJson(killedOnHost);
    expect(decode(jsonLine(encode(`${json}\r\n`), `${json}\r\n`))).toBe(`${json}\n`);
  });

  it('makes a pretty-printed payload compact so that each event stays on one line', () => {
    const pretty = JSON.stringify(JSON.parse(eventToJson(killedOnHost)), null, 2);
    expect(decode(jsonLine(encode(pretty), pretty))).toBe(`${JSON.stringify(JSON.parse(pretty))}\n`);
  });
});
