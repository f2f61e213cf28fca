import { describe, expect, it } from 'vitest';
import { DOCTOR_USAGE, parseDoctorArgs } from '../../../agent/cli/doctor-args.js';
import { UsageError } from '../../../agent/errors.js';

/** `kernwatch doctor` arguments: the flags it shares with `run`, --nats and --json. */

function usageError(argv: string[]): string {
  try {
    parseDoctorArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).message;
  }
  throw new Error(`parseDoctorArgs accepted ${argv.join(' ')}`);
}

describe('parseDoctorArgs', () => {
  it('needs nothing: the table, the config defaults', () => {
    expect(parseDoctorArgs([])).toEqual({ json: false, overrides: {} });
  });

  it('takes every flag; those shared with run become the same config overrides', () => {
    expect(
      parseDoctorArgs([
        '--json',
        '--config',
        '/etc/kernwatch/config.yaml',
        '--node',
        'worker-3',
        '--proc-root',
        '/host/proc',
        '--cri-socket',
        '/run/k3s/containerd/containerd.sock',
        '--kubeconfig',
        '/etc/kubernetes/kubelet.conf',
        '--nats',
        'tls://nats-0.nats:4222,tls://nats-1.nats:4222',
      ]),
    ).toEqual({
      json: true,
      configPath: '/etc/kernwatch/config.yaml',
      natsUrl: 'tls://nats-0.nats:4222,tls://nats-1.nats:4222',
      overrides: {
        node: 'worker-3',
        procRoot: '/host/proc',
        criSocket: '/run/k3s/containerd/containerd.sock',
        kubeconfig: '/etc/kubernetes/kubelet.conf',
      },
    });
    expect(parseDoctorArgs(['-c', 'k.yaml']).configPath).toBe('k.yaml');
  });

  it('refuses unknown flags, positionals, empty values and URLs that are not NATS', () => {
    expect(usageError(['--sink', 'stdout'])).toContain("Unknown option '--sink'");
    expect(usageError(['everything'])).toContain("Unexpected argument 'everything'");
    expect(usageError(['--node', ' '])).toBe('--node needs a value.');
    expect(usageError(['--nats', 'http://nats:4222'])).toBe(
      "--nats: Not a NATS URL: 'http://nats:4222' (expected nats://HOST:PORT or tls://HOST:PORT).",
    );
    expect(usageError(['--nats', 'nats://user:secret@nats:4222'])).toContain(
      'Credentials in the NATS URL are refused',
    );
  });

  it('answers --help with the usage', () => {
    expect(usageError(['--help'])).toBe(DOCTOR_USAGE);
    expect(usageError(['-h'])).toBe(DOCTOR_USAGE);
  });
});
