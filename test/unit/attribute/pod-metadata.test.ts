import { describe, expect, it } from 'vitest';
import { podMetadataFromObject, resourceVersionOf } from '../../../agent/attribute/pods/pod-metadata.js';

/**
 * What the pod store keeps of a pod. The object below has the shape the API server sends in a watch
 * event (kubectl get pod -o json of a Deployment's pod, trimmed of spec and status fields not read).
 */

const DEPLOYMENT_POD = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: {
    name: 'web-5d4f9c-x2x7k',
    generateName: 'web-5d4f9c-',
    namespace: 'shop',
    uid: '5b0d7a0e-3c1e-4a55-9a43-2f7c1e9d8b61',
    resourceVersion: '48213',
    creationTimestamp: '2026-01-12T09:14:03Z',
    labels: { app: 'web', 'pod-template-hash': '5d4f9c' },
    annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-12T09:13:58Z' },
    ownerReferences: [
      {
        apiVersion: 'example.com/v1',
        kind: 'Canary',
        name: 'web-canary',
        uid: '0d5e0a57-8b1f-4a8e-9d8e-6b0e2d1c9f10',
      },
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'web-5d4f9c',
        uid: 'c1f0e8a4-2d7b-4c3e-8f5a-9b6d4e2a1c08',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  },
  spec: { nodeName: 'node-a', containers: [{ name: 'web', image: 'nginx:1.27' }] },
  status: {
    phase: 'Running',
    podIP: '10.244.1.7',
    podIPs: [{ ip: '10.244.1.7' }, { ip: 'fd00:10:244:1::7' }],
  },
};

describe('the metadata kept of a pod', () => {
  it('keeps uid, name, namespace, labels, the controller owner, all pod IPs and the node', () => {
    expect(podMetadataFromObject(DEPLOYMENT_POD)).toStrictEqual({
      uid: '5b0d7a0e-3c1e-4a55-9a43-2f7c1e9d8b61',
      name: 'web-5d4f9c-x2x7k',
      namespace: 'shop',
      labels: { app: 'web', 'pod-template-hash': '5d4f9c' },
      owner: { kind: 'ReplicaSet', name: 'web-5d4f9c' },
      ips: ['10.244.1.7', 'fd00:10:244:1::7'],
      nodeName: 'node-a',
    });
  });

  it('omits owner, labels and IPs a pending standalone pod does not have', () => {
    const pending = {
      metadata: { name: 'debug', namespace: 'default', uid: 'a1b2c3d4-0000-4000-8000-000000000001' },
      spec: { containers: [{ name: 'sh', image: 'busybox' }] },
      status: { phase: 'Pending' },
    };
    expect(podMetadataFromObject(pending)).toStrictEqual({
      uid: 'a1b2c3d4-0000-4000-8000-000000000001',
      name: 'debug',
      namespace: 'default',
    });
  });

  it('takes podIP when the older podIPs list is absent', () => {
    const old = { ...DEPLOYMENT_POD, status: { podIP: '10.244.1.9' } };
    expect(podMetadataFromObject(old)?.ips).toStrictEqual(['10.244.1.9']);
  });

  it('refuses an object without a uid, such as a BOOKMARK', () => {
    const bookmark = { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '48300' } };
    expect(podMetadataFromObject(bookmark)).toBeUndefined();
    expect(resourceVersionOf(bookmark)).toBe('48300');
    expect(podMetadataFromObject('not an object')).toBeUndefined();
  });
});
