import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupIdentity } from '../../../agent/attribute/proc/cgroup-identity.js';
import type { CgroupIdentity } from '../../../agent/attribute/attribution-types.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/**
 * /proc/<pid>/cgroup → container id, runtime, pod uid. Every case is a real file of test/fixtures/cgroup/
 * (see its README for where each comes from); the few lines built here say CONSTRUCTED beside them.
 */

const CGROUP = join(FIXTURES, 'cgroup');
const fixture = (name: string): string => readFileSync(join(CGROUP, name), 'latin1');
const treePaths = fixture('gh-cgroup-paths-from-tree-listings.txt').trimEnd().split('\n');
const treePath = (lineNo: number): string => {
  const p = treePaths[lineNo - 1];
  if (p === undefined) throw new Error(`no line ${lineNo}`);
  return p;
};
const linesOf = (name: string): string[] => fixture(name).trimEnd().split('\n');

describe('real /proc/<pid>/cgroup files', () => {
  const cases: [string, CgroupIdentity][] = [
    [
      'kernel618-hybrid-systemd-burstable-live.cgroup',
      {
        containerId: '809b26f6eb0e42180a5939e5841b865e2432ed6339d075234ab613a5df21f719',
        runtime: 'containerd',
        podUid: '2b6d1c4e-8f3a-4c5e-9d71-0a4b6e2f8c13',
      },
    ],
    [
      'kernel618-hybrid-cgroupfs-besteffort-live.cgroup',
      {
        containerId: '7845f62782427b46e7d09bf4028fa099102bc945993896cbcd584281d6239583',
        podUid: '7f0c9a52-3e1b-4d8a-b6c4-91e25d7a0f38',
      },
    ],
    [
      'kernel618-hybrid-cgroupfs-guaranteed-live.cgroup',
      {
        containerId: '487ac11e095da5612835d46db89b592069997a901abedd9dc382f672e14c9710',
        podUid: '0d3e6b7a-c2f1-4a95-8e4d-5b19f7a2c604',
      },
    ],
    [
      'containerd16-cri-cgroupfs-hybrid.cgroup',
      {
        containerId: 'c623043988eb83aecc26860e1332d982465f715fb605d8c67aadc33523e36464',
        podUid: '648c5f35-d7df-4459-89da-1b65adb0136f',
      },
    ],
    [
      'gh-ctrsploit-280-docker-cgroupfs-hybrid.cgroup',
      { containerId: '2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d', runtime: 'docker' },
    ],
    [
      'gh-duckdb-16608-k8s-docker-cgroupfs-v1.cgroup',
      {
        containerId: '2b7a2f7fb72575bb50a46d68cceaf43a12a597184714cb33af2f6420f5314293',
        podUid: 'c101fead-5fa2-4525-97af-5894973b336e',
      },
    ],
    [
      'gh-runc-4620-crio-systemd-v1.cgroup',
      {
        containerId: '5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c',
        runtime: 'cri-o',
        podUid: 'a5c1f8d5-1919-434d-add7-4afaafdaef89',
      },
    ],
    [
      'gh-opentelemetry-java-4507-containerd-colon-form-v1.cgroup',
      {
        containerId: 'ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459',
        runtime: 'containerd',
        podUid: '0125ec2f-b64a-4868-8f5b-94b56cbab864',
      },
    ],
    [
      'gh-podman-10602-podman-systemd-v1.cgroup',
      { containerId: '2521e906f0a0c758c3a7dc4fd68c197e32e96abb4b36807d0b0ede6d014a7c24', runtime: 'podman' },
    ],
    [
      'gh-podman-20423-podman-v2.cgroup',
      { containerId: 'cf21d19260ace8544fe8b769fc2638bf2c0873dfbfff0b6253f0569b26a1d5eb', runtime: 'podman' },
    ],
    [
      'gh-kubernetes-mesos-565-docker-cgroupfs-v1.cgroup',
      { containerId: '611a8d133d2c636e777745e4dbb1d5866a068fe0f6cc87033e52fe139fca5ba1', runtime: 'docker' },
    ],
  ];

  it.each(cases)('%s names its container', (file, expected) => {
    expect(cgroupIdentity(fixture(file))).toStrictEqual(expected);
  });

  it.each([
    'kernel618-hybrid-host-kthreadd.cgroup',
    'gh-kubernetes-mesos-565-host-v1.cgroup',
    'gh-pharos-cluster-440-host-system-slice-v1.cgroup',
  ])('%s is a host process: no container, no pod', (file) => {
    expect(cgroupIdentity(fixture(file))).toStrictEqual({});
  });

  it("reads CRI-O's monitor (crio-conmon-<id>.scope) as the pod's, not as the container", () => {
    expect(cgroupIdentity(fixture('gh-runc-4620-crio-conmon-systemd-line.cgroup'))).toStrictEqual({
      podUid: 'a5c1f8d5-1919-434d-add7-4afaafdaef89',
    });
  });
});

describe('a process killed by seccomp and not yet reaped (zombie)', () => {
  it.each([
    ['systemd-burstable', '809b26f6eb0e42180a5939e5841b865e2432ed6339d075234ab613a5df21f719'],
    ['cgroupfs-besteffort', '7845f62782427b46e7d09bf4028fa099102bc945993896cbcd584281d6239583'],
    ['cgroupfs-guaranteed', '487ac11e095da5612835d46db89b592069997a901abedd9dc382f672e14c9710'],
  ])('%s: its v1 lines read / and the 0:: line still names the container', (shape, id) => {
    const text = fixture(`kernel618-hybrid-${shape}-zombie.cgroup`);
    expect(text.split('\n').filter((l) => l.endsWith(':/'))).toHaveLength(9);
    expect(cgroupIdentity(text).containerId).toBe(id);
    expect(cgroupIdentity(text)).toStrictEqual(
      cgroupIdentity(fixture(`kernel618-hybrid-${shape}-live.cgroup`)),
    );
  });
});

describe('a zombie whose container cgroup was already removed', () => {
  it("still names its container: the kernel appends ' (deleted)' to the 0:: path", () => {
    const text = fixture('kernel618-hybrid-systemd-besteffort-zombie-cgroup-removed.cgroup');
    expect(text.trimEnd().endsWith('.scope (deleted)')).toBe(true);
    expect(cgroupIdentity(text)).toStrictEqual({
      containerId: '2fea3ede20b3caff363bd6967da0897c58cb7a69391624d422ce4a0414520d80',
      runtime: 'containerd',
      podUid: 'c7efdc4b-8b8e-4de9-bcb2-42a1312a9ecc',
    });
  });
});

describe('cgroup paths of runtimes and node layouts', () => {
  // [line of gh-cgroup-paths-from-tree-listings.txt, identity]
  const cases: [number, string, CgroupIdentity][] = [
    [
      1,
      'docker with the systemd driver in a pod slice',
      {
        containerId: 'abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152',
        runtime: 'docker',
        podUid: '9692aa0e-748e-11e8-8dfa-76d458035df6',
      },
    ],
    [
      2,
      'CRI-O pods inside the docker container of a minikube node (the innermost id wins)',
      {
        containerId: '0765f197c9158576f202e50498b488cd0d2b022fb2462b0a629f214bb51cd57d',
        runtime: 'cri-o',
        podUid: '2cde702b-a0cf-438d-a228-fb164e54434b',
      },
    ],
    [
      3,
      'a static pod, whose uid is a 32-hex manifest hash',
      {
        containerId: '2884d57c0e100d7a9a2f9487ce0bc2986bca3430e988af7a4865aff061f51ac5',
        runtime: 'containerd',
        podUid: '8daa50c3a64c9ff60bb9eab7b44b56fd',
      },
    ],
    [
      4,
      "kind's kubelet-kubepods slices",
      {
        containerId: 'a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e',
        runtime: 'containerd',
        podUid: '1e597579-417e-482f-bf65-5fe170c3aebd',
      },
    ],
    [5, "podman's monitor (libpod-conmon-<id>.scope)", {}],
    [
      6,
      'podman with crun (libpod-<id>.scope/container)',
      { containerId: 'a2bc7b153f034b17f358cde43a7f8c7475147e8a0d1b2573c26473244ec44ce4', runtime: 'podman' },
    ],
    [7, "CRI-O's monitor in system.slice", {}],
    [
      8,
      'a CRI-O container with the systemd driver',
      {
        containerId: '15b6e0c6490cad17fcf69eb837794349b4df96f84ba96c6be9828fe281c055a9',
        runtime: 'cri-o',
        podUid: 'c8bad552-5c99-4d4f-b71c-c426c0cde014',
      },
    ],
    [
      9,
      'a podman pod (not a Kubernetes pod: no pod uid)',
      { containerId: '3a5d6b2a4ffcb29587ddfb5f5edf7fc7a9ba51e0755d796b81b589ceab858d83', runtime: 'podman' },
    ],
  ];

  it.each(cases)('line %i, %s', (lineNo, _what, expected) => {
    // CONSTRUCTED line form: the real path behind `0::` as a cgroup v2 host would show it.
    expect(cgroupIdentity(`0::${treePath(lineNo)}\n`)).toStrictEqual(expected);
  });
});

describe('nesting and disagreement', () => {
  it('takes the kind pod container, not the node container, when a host sees the whole nested path', () => {
    // CONSTRUCTED: line 4's kind path below a docker node scope, as the host's 0:: line shows a kind pod.
    const node = '2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d';
    const id = cgroupIdentity(`0::/system.slice/docker-${node}.scope${treePath(4)}\n`);
    expect(id.containerId).toBe('a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e');
    expect(id.podUid).toBe('1e597579-417e-482f-bf65-5fe170c3aebd');
  });

  it('reports only the pod, not the node container, for a pod-level cgroup inside a node container', () => {
    // CONSTRUCTED: the kubernetes-mesos docker path with a cgroupfs pod directory below it.
    expect(
      cgroupIdentity(
        '0::/docker/611a8d133d2c636e777745e4dbb1d5866a068fe0f6cc87033e52fe139fca5ba1/kubepods/besteffort/pod7f0c9a52-3e1b-4d8a-b6c4-91e25d7a0f38\n',
      ),
    ).toStrictEqual({ podUid: '7f0c9a52-3e1b-4d8a-b6c4-91e25d7a0f38' });
  });

  it('takes the inner id of docker-in-docker', () => {
    // CONSTRUCTED: the mesos docker id with the ctrsploit docker id below it.
    expect(
      cgroupIdentity(
        '4:memory:/docker/611a8d133d2c636e777745e4dbb1d5866a068fe0f6cc87033e52fe139fca5ba1/docker/2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d\n',
      ),
    ).toStrictEqual({
      containerId: '2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d',
      runtime: 'docker',
    });
  });

  it('prefers the 0:: line when it and the v1 lines name different containers', () => {
    // CONSTRUCTED: the v1 lines of the cgroupfs capture followed by the 0:: line of the systemd capture.
    const v1 = linesOf('kernel618-hybrid-cgroupfs-besteffort-live.cgroup').filter(
      (l) => !l.startsWith('0::'),
    );
    const unified = linesOf('kernel618-hybrid-systemd-burstable-live.cgroup').filter((l) =>
      l.startsWith('0::'),
    );
    expect(cgroupIdentity([...v1, ...unified].join('\n'))).toStrictEqual(
      cgroupIdentity(fixture('kernel618-hybrid-systemd-burstable-live.cgroup')),
    );
  });

  it('takes the v1 container when the 0:: line names no container (docker on a hybrid host)', () => {
    const id = cgroupIdentity(fixture('gh-ctrsploit-280-docker-cgroupfs-hybrid.cgroup'));
    expect(id.containerId).toBe('2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d');
  });

  it("takes the container from the other v1 lines when name=systemd shows CRI-O's monitor", () => {
    // CONSTRUCTED: runc#4620's process showed crio-conmon on name=systemd and crio-<id> elsewhere.
    const text =
      fixture('gh-runc-4620-crio-conmon-systemd-line.cgroup') +
      fixture('gh-runc-4620-crio-systemd-v1.cgroup');
    expect(cgroupIdentity(text).containerId).toBe(
      '5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c',
    );
  });
});

describe('forms without a real sample', () => {
  const ctr = '5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c';
  it.each<[string, string, CgroupIdentity]>([
    // CONSTRUCTED from runc#4620's id: CRI-O with the cgroupfs driver names the directory crio-<id>.
    [
      'CRI-O cgroupfs',
      `0::/kubepods/burstable/poda5c1f8d5-1919-434d-add7-4afaafdaef89/crio-${ctr}`,
      { containerId: ctr, runtime: 'cri-o', podUid: 'a5c1f8d5-1919-434d-add7-4afaafdaef89' },
    ],
    // CONSTRUCTED: crun's cgroup split mode (--cgroups=split) names the payload libpod-payload-<id>.
    [
      'podman split mode',
      `0::/machine.slice/libpod-payload-${ctr}.scope`,
      { containerId: ctr, runtime: 'podman' },
    ],
    // CONSTRUCTED: a guaranteed pod with the systemd driver (no QoS slice).
    [
      'guaranteed pod, systemd driver',
      `0::/kubepods.slice/kubepods-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/cri-containerd-${ctr}.scope`,
      { containerId: ctr, runtime: 'containerd', podUid: 'a5c1f8d5-1919-434d-add7-4afaafdaef89' },
    ],
  ])('%s', (_what, text, expected) => {
    expect(cgroupIdentity(text)).toStrictEqual(expected);
  });
});

describe('what is not a container id', () => {
  const ctr = '5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c';
  it.each([
    ['63 hex digits', `0::/docker/${ctr.slice(1)}`],
    ['65 hex digits', `0::/docker/${ctr}0`],
    ['upper-case hex', `0::/docker/${ctr.toUpperCase()}`],
    ['docker- without .scope', `0::/system.slice/docker-${ctr}`],
    ['cri-containerd- without .scope', `0::/kubepods.slice/cri-containerd-${ctr}`],
    ['a colon form with an unknown runtime tag', `0::/x.slice:other:${ctr}`],
    ['an empty file', ''],
    ['lines without two colons', `garbage\n/docker/${ctr}\n`],
  ])('%s', (_what, text) => {
    expect(cgroupIdentity(text)).toStrictEqual({});
  });

  it.each([
    [
      'a uid with a wrong separator position',
      '0::/kubepods/burstable/pod7f0c9a523-e1b-4d8a-b6c4-91e25d7a0f38',
    ],
    ['a slice without kubepods', '0::/machine.slice/machine-pod7f0c9a52_3e1b_4d8a_b6c4_91e25d7a0f38.slice'],
    ['a 31-hex uid', '0::/kubepods/burstable/pod8daa50c3a64c9ff60bb9eab7b44b56f'],
  ])('%s is no pod uid', (_what, text) => {
    expect(cgroupIdentity(text)).toStrictEqual({});
  });

  it('reads a file without its final newline as it reads it with one', () => {
    const text = fixture('kernel618-hybrid-systemd-burstable-live.cgroup');
    expect(cgroupIdentity(text.trimEnd())).toStrictEqual(cgroupIdentity(text));
  });
});
