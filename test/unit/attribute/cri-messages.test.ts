import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isImageId } from '../../../agent/attribute/cri/container-directory.js';
import {
  parseContainerStatusResponse,
  parseListContainersResponse,
  parsePodSandboxStatusResponse,
  parseVersionResponse,
} from '../../../agent/attribute/cri/cri-messages.js';
import { loadServiceDefinition } from '../../../agent/attribute/cri/cri-transport.js';
import { KernwatchError } from '../../../agent/errors.js';

/**
 * The agent's minimal CRI proto against real wire bytes: responses of containerd 1.6.20 (Debian 12)
 * captured with a byte-passthrough deserializer while a pod ran (pod web-5d4f9c-x2x7k in namespace shop,
 * container `app` created by image id as the kubelet does, container `sidecar` by name and exited 3).
 * containerd sends fields this proto does not declare (mounts, log_path, linux namespaces…): decoding
 * must skip them and read every declared field at its upstream field number.
 */

const CAPTURED = {
  version: 'CgUwLjEuMBIKY29udGFpbmVyZBoKMS42LjIwfmRzMSICdjE=',
  listContainers:
    'CuADCkA1NWVlMTJkMWNmNmRjZDk5ZjNjZDBhYTAzNTk2NmZjYjA4NDAwNjNjY2VmNDQyZTU2MzI3NzIzOGYyYjIyY2VjEkA4NGRj' +
    'ZTExMjVmMmI3ZjljM2NjMzIxOTAwODg1YTNhN2RhYTgzZDczNjUyNjk5ZWJmOGFiMGU5ZTI3NDIzZjE3GgUKA2FwcCJJCkdzaGEy' +
    'NTY6ODUyYWFlOTMzMTk5NDM3YTU5N2ZhNjBlNGJmZTM2NWUyZWFiMzBhMWI0ZTViYjFhNjUwOGMwMGFmNDM5MzRmZipHc2hhMjU2' +
    'Ojg1MmFhZTkzMzE5OTQzN2E1OTdmYTYwZTRiZmUzNjVlMmVhYjMwYTFiNGU1YmIxYTY1MDhjMDBhZjQzOTM0ZmYwATjoxqfRv96N' +
    '9hhCPQoVaW8ua3ViZXJuZXRlcy5wb2QudWlkEiQ1YjBkN2EwZS0zYzFlLTRhNTUtOWE0My0yZjdjMWU5ZDhiNjFCIwobaW8ua3Vi' +
    'ZXJuZXRlcy5wb2QubmFtZXNwYWNlEgRzaG9wQioKFmlvLmt1YmVybmV0ZXMucG9kLm5hbWUSEHdlYi01ZDRmOWMteDJ4N2tCIwoc' +
    'aW8ua3ViZXJuZXRlcy5jb250YWluZXIubmFtZRIDYXBwCrcDCkA0M2VkM2JhYzE4ZTk0OWQ2M2U0YjBmY2U2MjVlZGUyMWY0ZWVl' +
    'YzQwYjA1NjkwOGMyMGU3MjllOWMwM2Q2Y2EwEkA4NGRjZTExMjVmMmI3ZjljM2NjMzIxOTAwODg1YTNhN2RhYTgzZDczNjUyNjk5' +
    'ZWJmOGFiMGU5ZTI3NDIzZjE3GgkKB3NpZGVjYXIiGAoWbG9jYWxob3N0L2J1c3lib3g6MS4zNSpHc2hhMjU2Ojg1MmFhZTkzMzE5' +
    'OTQzN2E1OTdmYTYwZTRiZmUzNjVlMmVhYjMwYTFiNGU1YmIxYTY1MDhjMDBhZjQzOTM0ZmYwAjiY5t/uv96N9hhCPQoVaW8ua3Vi' +
    'ZXJuZXRlcy5wb2QudWlkEiQ1YjBkN2EwZS0zYzFlLTRhNTUtOWE0My0yZjdjMWU5ZDhiNjFCIwobaW8ua3ViZXJuZXRlcy5wb2Qu' +
    'bmFtZXNwYWNlEgRzaG9wQioKFmlvLmt1YmVybmV0ZXMucG9kLm5hbWUSEHdlYi01ZDRmOWMteDJ4N2tCJwocaW8ua3ViZXJuZXRl' +
    'cy5jb250YWluZXIubmFtZRIHc2lkZWNhcg==',
  containerStatusById:
    'CrYDCkA1NWVlMTJkMWNmNmRjZDk5ZjNjZDBhYTAzNTk2NmZjYjA4NDAwNjNjY2VmNDQyZTU2MzI3NzIzOGYyYjIyY2VjEgUKA2Fw' +
    'cBgBIOjGp9G/3o32GCjwhYbqv96N9hhCGAoWbG9jYWxob3N0L2J1c3lib3g6MS4zNUpHc2hhMjU2Ojg1MmFhZTkzMzE5OTQzN2E1' +
    'OTdmYTYwZTRiZmUzNjVlMmVhYjMwYTFiNGU1YmIxYTY1MDhjMDBhZjQzOTM0ZmZiPQoVaW8ua3ViZXJuZXRlcy5wb2QudWlkEiQ1' +
    'YjBkN2EwZS0zYzFlLTRhNTUtOWE0My0yZjdjMWU5ZDhiNjFiIwobaW8ua3ViZXJuZXRlcy5wb2QubmFtZXNwYWNlEgRzaG9wYioK' +
    'FmlvLmt1YmVybmV0ZXMucG9kLm5hbWUSEHdlYi01ZDRmOWMteDJ4N2tiIwocaW8ua3ViZXJuZXRlcy5jb250YWluZXIubmFtZRID' +
    'YXBwejgvdG1wL2V4cC93Mi81YjBkN2EwZS0zYzFlLTRhNTUtOWE0My0yZjdjMWU5ZDhiNjEvYXBwLmxvZ4IBAgoA',
  podSandboxStatus:
    'CuQCCkA4NGRjZTExMjVmMmI3ZjljM2NjMzIxOTAwODg1YTNhN2RhYTgzZDczNjUyNjk5ZWJmOGFiMGU5ZTI3NDIzZjE3Ej4KEHdl' +
    'Yi01ZDRmOWMteDJ4N2sSJDViMGQ3YTBlLTNjMWUtNGE1NS05YTQzLTJmN2MxZTlkOGI2MRoEc2hvcCCWkoTevt6N9hgqDgoMMTk4' +
    'LjUxLjEwMC4yMgYKBBICEAE6IwobaW8ua3ViZXJuZXRlcy5wb2QubmFtZXNwYWNlEgRzaG9wOioKFmlvLmt1YmVybmV0ZXMucG9k' +
    'Lm5hbWUSEHdlYi01ZDRmOWMteDJ4N2s6CgoDYXBwEgN3ZWI6PQoVaW8ua3ViZXJuZXRlcy5wb2QudWlkEiQ1YjBkN2EwZS0zYzFl' +
    'LTRhNTUtOWE0My0yZjdjMWU5ZDhiNjFCIgoba3ViZXJuZXRlcy5pby9jb25maWcuc291cmNlEgNhcGk=',
};

const PROTO = fileURLToPath(new URL('../../../agent/attribute/cri/cri-api.proto', import.meta.url));
const methods = loadServiceDefinition(PROTO, 'runtime.v1.RuntimeService');

function decode(method: string, base64: string): unknown {
  const definition = methods[method];
  if (definition === undefined) throw new Error(`no ${method} in the proto`);
  return definition.responseDeserialize(Buffer.from(base64, 'base64'));
}

const POD_SANDBOX_ID = '84dce1125f2b7f9c3cc321900885a3a7daa83d73652699ebf8ab0e9e27423f17';
const POD_UID = '5b0d7a0e-3c1e-4a55-9a43-2f7c1e9d8b61';
const IMAGE_ID = 'sha256:852aae933199437a597fa60e4bfe365e2eab30a1b4e5bb1a6508c00af43934ff';
const KUBELET_LABELS = {
  'io.kubernetes.pod.name': 'web-5d4f9c-x2x7k',
  'io.kubernetes.pod.namespace': 'shop',
  'io.kubernetes.pod.uid': POD_UID,
};

describe('CRI responses of a real containerd, decoded with the agent proto', () => {
  it('reads the runtime name and versions from Version', () => {
    expect(parseVersionResponse(decode('Version', CAPTURED.version))).toStrictEqual({
      version: '0.1.0',
      runtimeName: 'containerd',
      runtimeVersion: '1.6.20~ds1',
      runtimeApiVersion: 'v1',
    });
  });

  it('reads each container of ListContainers, the image as its creator gave it (an id from the kubelet)', () => {
    expect(parseListContainersResponse(decode('ListContainers', CAPTURED.listContainers))).toStrictEqual([
      {
        id: '55ee12d1cf6dcd99f3cd0aa035966fcb0840063ccef442e563277238f2b22cec',
        podSandboxId: POD_SANDBOX_ID,
        name: 'app',
        attempt: 0,
        image: IMAGE_ID,
        imageRef: IMAGE_ID,
        state: 'CONTAINER_RUNNING',
        createdAtNs: '1795870772915987304',
        labels: { ...KUBELET_LABELS, 'io.kubernetes.container.name': 'app' },
      },
      {
        id: '43ed3bac18e949d63e4b0fce625ede21f4eeec40b056908c20e729e9c03d6ca0',
        podSandboxId: POD_SANDBOX_ID,
        name: 'sidecar',
        attempt: 0,
        image: 'localhost/busybox:1.35',
        imageRef: IMAGE_ID,
        state: 'CONTAINER_EXITED',
        createdAtNs: '1795870772977726232',
        labels: { ...KUBELET_LABELS, 'io.kubernetes.container.name': 'sidecar' },
      },
    ]);
  });

  it('reads the image by name from ContainerStatus of a container created by image id', () => {
    expect(
      parseContainerStatusResponse(decode('ContainerStatus', CAPTURED.containerStatusById)),
    ).toStrictEqual({
      id: '55ee12d1cf6dcd99f3cd0aa035966fcb0840063ccef442e563277238f2b22cec',
      name: 'app',
      state: 'CONTAINER_RUNNING',
      image: 'localhost/busybox:1.35',
      imageRef: IMAGE_ID,
      exitCode: 0,
      startedAtNs: '1795870772967867120',
      finishedAtNs: '0',
      reason: '',
      labels: { ...KUBELET_LABELS, 'io.kubernetes.container.name': 'app' },
    });
  });

  it('reads pod name, namespace, uid and IP from PodSandboxStatus', () => {
    expect(
      parsePodSandboxStatusResponse(decode('PodSandboxStatus', CAPTURED.podSandboxStatus)),
    ).toStrictEqual({
      id: POD_SANDBOX_ID,
      name: 'web-5d4f9c-x2x7k',
      uid: POD_UID,
      namespace: 'shop',
      ready: true,
      ips: ['198.51.100.2'],
      // The capture's linux.namespaces.options.network is POD (0, which proto3 leaves off the wire).
      hostNetwork: false,
      labels: { ...KUBELET_LABELS, app: 'web' },
      annotations: { 'kubernetes.io/config.source': 'api' },
    });
  });

  it('fails with a KernwatchError when a status response carries no status', () => {
    const empty = decode('ContainerStatus', '');
    expect(() => parseContainerStatusResponse(empty)).toThrow(KernwatchError);
    expect(() => parsePodSandboxStatusResponse(decode('PodSandboxStatus', ''))).toThrow(
      'CRI PodSandboxStatus returned no status',
    );
  });

  it('reads an empty ListContainers as no containers', () => {
    expect(parseListContainersResponse(decode('ListContainers', ''))).toStrictEqual([]);
  });
});

describe('telling an image id from an image name', () => {
  it.each([
    [IMAGE_ID, true],
    ['852aae933199437a597fa60e4bfe365e2eab30a1b4e5bb1a6508c00af43934ff', true],
    ['localhost/busybox:1.35', false],
    [
      'docker.io/library/nginx@sha256:852aae933199437a597fa60e4bfe365e2eab30a1b4e5bb1a6508c00af43934ff',
      false,
    ],
    ['sha256:852AAE933199437A597FA60E4BFE365E2EAB30A1B4E5BB1A6508C00AF43934FF', false],
    ['sha256:852aae', false],
    ['', false],
  ])('%s is an id: %s', (image, expected) => {
    expect(isImageId(image)).toBe(expected);
  });
});
