import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseContainerInfoResponse, summarizeOciSpec } from '../../../agent/attribute/cri/cri-messages.js';
import { DEFAULT_CONTAINER_CAPABILITIES } from '../../../agent/posture/capabilities.js';
import { KernwatchError } from '../../../agent/errors.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/**
 * The `info` map of CRI ContainerStatus (verbose) as containerd 1.6.20 sent it for three running
 * containers (test/fixtures/proc/README.md): its `info` key holds one JSON document with the main pid
 * and the OCI runtime spec the CRI plugin generated for runc.
 */
function response(name: string): unknown {
  const info: unknown = JSON.parse(
    readFileSync(join(FIXTURES, 'proc', `containerd16-${name}.info.json`), 'utf8'),
  );
  return { status: { id: 'c' }, info };
}

describe('parseContainerInfoResponse on containerd 1.6 answers', () => {
  it('summarises a container with a Localhost profile, no_new_privs, a read-only root and one capability', () => {
    expect(parseContainerInfoResponse(response('confined'))).toStrictEqual({
      pid: 16436,
      runtimeSpec: {
        seccomp: {
          defaultAction: 'SCMP_ACT_ALLOW',
          actions: ['SCMP_ACT_ERRNO', 'SCMP_ACT_KILL_PROCESS'],
          flags: [],
        },
        noNewPrivileges: true,
        rootReadonly: true,
        effectiveCapabilities: ['CAP_NET_BIND_SERVICE'],
      },
    });
  });

  it('has no seccomp section for an Unconfined container (no linux.seccomp in the spec)', () => {
    expect(parseContainerInfoResponse(response('plain'))).toStrictEqual({
      pid: 16466,
      runtimeSpec: {
        noNewPrivileges: false,
        rootReadonly: false,
        effectiveCapabilities: [...DEFAULT_CONTAINER_CAPABILITIES],
      },
    });
  });

  it("reads RuntimeDefault as containerd's deny-by-default profile", () => {
    expect(parseContainerInfoResponse(response('runtime-default')).runtimeSpec?.seccomp).toStrictEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO'],
      flags: [],
    });
  });
});

describe('parseContainerInfoResponse on other shapes', () => {
  it('answers {} when the runtime sent no info (not verbose, or a runtime that fills none)', () => {
    expect(parseContainerInfoResponse({ status: {}, info: {} })).toStrictEqual({});
    expect(parseContainerInfoResponse({ status: {} })).toStrictEqual({});
    expect(parseContainerInfoResponse({ info: { info: '[]' } })).toStrictEqual({});
  });

  it('keeps a pid only when it is a positive integer (0: the container is not running)', () => {
    expect(parseContainerInfoResponse({ info: { info: '{"pid":0}' } })).toStrictEqual({});
    expect(parseContainerInfoResponse({ info: { info: '{"pid":"12"}' } })).toStrictEqual({});
    expect(parseContainerInfoResponse({ info: { info: '{"pid":12,"runtimeSpec":"x"}' } })).toStrictEqual({
      pid: 12,
    });
  });

  it('fails with a KernwatchError carrying the JSON error when the info is not JSON', () => {
    let failure: unknown;
    try {
      parseContainerInfoResponse({ info: { info: '{"pid":' } });
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(KernwatchError);
    expect((failure as Error).cause).toBeInstanceOf(SyntaxError);
  });
});

describe('summarizeOciSpec', () => {
  it('reads flags, MAC profiles and skips values of the wrong type', () => {
    expect(
      summarizeOciSpec({
        process: {
          noNewPrivileges: 'yes',
          capabilities: { effective: ['CAP_KILL', 7, null] },
          apparmorProfile: 'cri-containerd.apparmor.d',
          selinuxLabel: 'system_u:system_r:container_t:s0:c4,c5',
        },
        root: { readonly: 1 },
        linux: {
          seccomp: {
            defaultAction: 'SCMP_ACT_LOG',
            flags: ['SECCOMP_FILTER_FLAG_LOG', 3],
            syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO' }, 'junk', { action: 'SCMP_ACT_ERRNO' }, {}],
          },
        },
      }),
    ).toStrictEqual({
      seccomp: {
        defaultAction: 'SCMP_ACT_LOG',
        actions: ['SCMP_ACT_ERRNO'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
      },
      noNewPrivileges: false,
      rootReadonly: false,
      effectiveCapabilities: ['CAP_KILL'],
      apparmorProfile: 'cri-containerd.apparmor.d',
      selinuxLabel: 'system_u:system_r:container_t:s0:c4,c5',
    });
  });

  it('is undefined for anything but an object, and all-false for an empty spec', () => {
    expect(summarizeOciSpec(null)).toBeUndefined();
    expect(summarizeOciSpec([])).toBeUndefined();
    expect(summarizeOciSpec({})).toStrictEqual({
      noNewPrivileges: false,
      rootReadonly: false,
      effectiveCapabilities: [],
    });
  });
});
