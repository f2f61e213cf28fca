import { describe, expect, it } from 'vitest';
import { commandLine, parseFields, plain, untrusted, type FieldLookup } from '../../../agent/parse/fields.js';
import { corpusLine, derive, kernelHex } from '../../helpers/corpus-lines.js';
import { onlyEvent } from '../../helpers/parse-text.js';

/**
 * The key=value body of audit records: quoted strings, unquoted hex that the kernel writes for untrusted
 * strings holding spaces, quotes or control bytes (audit_log_untrustedstring), `(null)`/`?` for absent
 * values, auditd ENRICHED fields glued on without their 0x1d separator, and values that contain '='.
 */

/** The fields of a whole line (parseFields skips bare words such as `type=X msg=audit(...):`'s tail). */
function fieldsOf(line: string): FieldLookup {
  const body = line.indexOf('): ');
  const start = body < 0 ? 0 : body + 3;
  return parseFields(line, start, line.length).values;
}

const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';
const FEDORA = 'auditd/gh-fedora-selinux-selinux-policy-1828.log';

describe('comm of denial records', () => {
  // [corpus file, line, comm as the process set it]
  const comms = [
    [KMSG, 11, 'sh'], // comm="sh": quoted
    [KMSG, 2, 'w log'], // comm=77206C6F67: hex, the name holds a space
    [KMSG, 10, 'nginx: worker'], // comm=6E67696E783A20776F726B6572
    ['syslog/gh-netblue30-firejail-5207.log', 1, 'Qt bearer threa'], // 15 bytes: TASK_COMM_LEN - 1
    [FEDORA, 1, 'Socket Process'], // comm=536F636B65742050726F63657373
    [FEDORA, 2, 'Chroot Helper'],
    [FEDORA, 4, 'IPC Launch'],
    [FEDORA, 3, 'firefox'],
  ] as const;

  it.each(comms)('%s:%i has comm %j', (file, lineNo, comm) => {
    expect(onlyEvent(corpusLine(file, lineNo)).process.comm).toBe(comm);
  });
});

describe('other untrusted strings', () => {
  it('decodes a hex SELinux path (fedora selinux-policy issue 1828, line 3)', () => {
    const e = onlyEvent(corpusLine(FEDORA, 3));
    expect(e.selinux?.path).toBe('/memfd:mozilla-ipc (deleted)');
  });

  it('decodes a hex AppArmor profile (apparmor.d audit.log line 30: profile=666F6F20626172)', () => {
    const e = onlyEvent(corpusLine('auditd/apparmor.d-testdata-audit.log', 30));
    expect(e.apparmor).toStrictEqual({
      mode: 'ALLOWED',
      operation: 'file_perm',
      profile: 'foo bar',
      name: '/home/foo/.bash_history',
      requestedMask: 'rw',
      deniedMask: 'rw',
    });
  });

  it('decodes a hex cwd of a CWD record (go-libaudit audit-rhel7.log line 11)', () => {
    const values = fieldsOf(corpusLine('auditd/go-libaudit-auparse-audit-rhel7.log', 11));
    expect(values.get('cwd')).toBe('2F746D702F6120622063');
    expect(untrusted(values.get('cwd'))).toBe('/tmp/a b c');
  });

  it('decodes a hex exe of a SYSCALL record (go-libaudit audit-rhel7.log line 28)', () => {
    const values = fieldsOf(corpusLine('auditd/go-libaudit-auparse-audit-rhel7.log', 28));
    expect(untrusted(values.get('exe'))).toBe('/usr/bin/python2.7;58d1ccfb (deleted)');
    expect(untrusted(values.get('comm'))).toBe('google_ip_forwa');
  });

  it('decodes a hex name of an old AppArmor record (test_multi testcase22.in)', () => {
    const values = fieldsOf(corpusLine('apparmor-testsuite/test_multi/testcase22.in', 1));
    expect(untrusted(values.get('name'))).toBe('/tmp/does not exist');
    expect(untrusted(values.get('profile'))).toBe('/home/steve/tmp/sh');
  });

  it('keeps an unquoted value that is not hex as written (ausearch -i exe=/usr/libexec/ipsec/addconn)', () => {
    const e = onlyEvent(corpusLine('auditd-interpreted/gh-libreswan-libreswan-2068.log', 1));
    expect(e.process.exe).toBe('/usr/libexec/ipsec/addconn');
    expect(e.process.comm).toBe('addconn');
  });
});

describe('proctitle', () => {
  // [where from, proctitle value, command line]
  const cases = [
    // Real: kernel618-auditd309-enriched-seccomp-all-actions.log line 5.
    ['auditd kernel618 line 5', '617564697463746C002D620038313932', 'auditctl -b 8192'],
    // Real: go-libaudit-aucoalesce-ubuntu-21.10-linux-5.13.log line 3.
    [
      'go-libaudit ubuntu-21.10 line 3',
      '2F7573722F7362696E2F6368726F6E7964002D460031',
      '/usr/sbin/chronyd -F 1',
    ],
    // Real: ml-apparmor-ausearch-doesn-t-show-apparmor-denial-messages.log line 3 (quoted: one argument).
    ['ml-apparmor-ausearch line 3', '"bash"', 'bash'],
    // CONSTRUCTED: argv {"a", "b", "c"} as the kernel hex-encodes it (NUL separated).
    ['constructed a\\0b\\0c', '6100620063', 'a b c'],
  ] as const;

  it.each(cases)('%s: proctitle=%s is the command line %j', (_where, value, cmdline) => {
    expect(commandLine(value)).toBe(cmdline);
  });

  it('reads the proctitle values of the real lines exactly as quoted in the table above', () => {
    expect(
      fieldsOf(corpusLine('auditd/kernel618-auditd309-enriched-seccomp-all-actions.log', 5)).get('proctitle'),
    ).toBe('617564697463746C002D620038313932');
    expect(
      fieldsOf(corpusLine('auditd/go-libaudit-aucoalesce-ubuntu-21.10-linux-5.13.log', 3)).get('proctitle'),
    ).toBe('2F7573722F7362696E2F6368726F6E7964002D460031');
  });
});

describe('absent values', () => {
  it('treats key=(null) as absent', () => {
    // Real: go-libaudit-aucoalesce-ubuntu-21.10-linux-5.13.log line 2 (`key=(null)ARCH=x86_64`).
    const values = fieldsOf(corpusLine('auditd/go-libaudit-aucoalesce-ubuntu-21.10-linux-5.13.log', 2));
    expect(values.get('key')).toBe('(null)');
    expect(plain(values.get('key'))).toBeUndefined();
    expect(untrusted(values.get('key'))).toBeUndefined();
  });

  it('treats subj=? as absent', () => {
    // Real: apparmor.d-testdata-audit.log line 29, a USER_AVC record with `subj=?`.
    const values = fieldsOf(corpusLine('auditd/apparmor.d-testdata-audit.log', 29));
    expect(values.get('subj')).toBe('?');
    expect(plain(values.get('subj'))).toBeUndefined();
    expect(untrusted(values.get('subj'))).toBeUndefined();
  });

  it('omits exe from the event when the record says exe=(null)', () => {
    // CONSTRUCTED from kmsg line 2: exe="/usr/local/bin/seccomp-demo" → exe=(null), which the kernel writes
    // for a task without an mm (audit_log_d_path_exe).
    const e = onlyEvent(derive(corpusLine(KMSG, 2), 'exe="/usr/local/bin/seccomp-demo"', 'exe=(null)'));
    expect(e.process).toStrictEqual({
      pid: 8577,
      comm: 'w log',
      uid: 0,
      gid: 0,
      auid: 4294967295,
      ses: 4294967295,
    });
  });
});

describe('auditd ENRICHED fields', () => {
  it('stops the raw fields at the 0x1d separator', () => {
    // Real: kernel618-auditd309-enriched-seccomp-all-actions.log line 6.
    const values = fieldsOf(corpusLine('auditd/kernel618-auditd309-enriched-seccomp-all-actions.log', 6));
    expect(values.get('code')).toBe('0x7ffc0000');
    expect(values.get('syscall')).toBe('110');
    expect(values.get('arch')).toBe('c000003e');
  });

  it('splits code=0x7ffc0000AUID="unset" glued without its separator', () => {
    // Real: security-profiles-operator-audit_test.log line 1 (the upstream copy lost the 0x1d byte).
    const values = fieldsOf(corpusLine('auditd/security-profiles-operator-audit_test.log', 1));
    expect(values.get('code')).toBe('0x7ffc0000');
    expect(values.get('AUID')).toBe('"unset"');
    expect(values.get('ARCH')).toBe('x86_64');
    expect(values.get('SYSCALL')).toBe('close');
  });

  it('reports the glued SECCOMP record with its own code and the syscall from its number', () => {
    const e = onlyEvent(corpusLine('auditd/security-profiles-operator-audit_test.log', 1));
    expect(e.seccomp).toStrictEqual({
      syscall: 'close',
      syscallNr: 3,
      arch: 'x86_64',
      compat: false,
      action: 'LOG',
      signal: 0,
      code: '0x7ffc0000',
    });
    expect(e.process.subj).toBe('system_u:system_r:spc_t:s0:c284,c594');
  });

  it('splits ouid=0FSUID="root" glued without its separator', () => {
    // Real: apparmor.d-testdata-audit.log line 41.
    const values = fieldsOf(corpusLine('auditd/apparmor.d-testdata-audit.log', 41));
    expect(values.get('ouid')).toBe('0');
    expect(values.get('fsuid')).toBe('0');
    expect(values.get('FSUID')).toBe('"root"');
    expect(values.get('OUID')).toBe('"root"');
  });

  it('reports the ouid=0FSUID= AppArmor record with all its fields intact', () => {
    const e = onlyEvent(corpusLine('auditd/apparmor.d-testdata-audit.log', 41));
    expect(e.process.pid).toBe(18817);
    expect(e.process.comm).toBe('patch.py');
    expect(e.apparmor).toStrictEqual({
      mode: 'ALLOWED',
      operation: 'getattr',
      profile: 'pacman//null-/usr/share/code-features/patch.py',
      class: 'file',
      name: '/etc/ld.so.preload',
      requestedMask: 'r',
      deniedMask: 'r',
    });
  });

  it('splits key=(null)ARCH=x86_64 glued without its separator', () => {
    // Real: go-libaudit-aucoalesce-ubuntu-21.10-linux-5.13.log line 2.
    const values = fieldsOf(corpusLine('auditd/go-libaudit-aucoalesce-ubuntu-21.10-linux-5.13.log', 2));
    expect(values.get('key')).toBe('(null)');
    expect(values.get('ARCH')).toBe('x86_64');
    expect(values.get('SYSCALL')).toBe('clock_adjtime');
    expect(values.get('subj')).toBe('/usr/sbin/chronyd');
    expect(values.get('ppid')).toBe('1');
  });
});

describe('values that contain = and nested messages', () => {
  it('keeps subj==unconfined as one field and reads the fields after it', () => {
    // Real: journald/gh-yunohost-apps-seafile_ynh-95.log line 1 (`subj==unconfined pid=811024`).
    const line = corpusLine('journald/gh-yunohost-apps-seafile_ynh-95.log', 1);
    const e = onlyEvent(line);
    expect(e.process).toStrictEqual({
      pid: 811024,
      comm: 'python3',
      exe: '/usr/bin/python3.9',
      uid: 993,
      gid: 993,
      auid: 4294967295,
      ses: 4294967295,
      subj: '=unconfined',
    });
    expect(e.seccomp?.syscall).toBe('setuid');
  });

  it('keeps a single-quoted msg with its own key=value pairs as one value, and the outer pid', () => {
    // Real: apparmor.d-testdata-audit.log line 29: USER_AVC whose msg='...' holds `pid=1667`.
    const values = fieldsOf(corpusLine('auditd/apparmor.d-testdata-audit.log', 29));
    expect(values.get('pid')).toBe('1648');
    const msg = values.get('msg') ?? '';
    expect(msg.startsWith(`'apparmor="ALLOWED" operation="dbus_method_call"`)).toBe(true);
    expect(msg.endsWith(`hostname=? addr=? terminal=?'`)).toBe(true);
    expect(values.has('peer_pid')).toBe(false);
  });
});

describe('forged fields', () => {
  it('cannot inject pid= through a hex-encoded comm that contains `" pid=1 `', () => {
    // CONSTRUCTED from kmsg line 2: comm=77206C6F67 → the hex the kernel writes for the hostile name
    // `x" pid=1 comm="y` (it hex-encodes any name holding a quote or a space).
    const hostile = 'x" pid=1 comm="y';
    const e = onlyEvent(derive(corpusLine(KMSG, 2), 'comm=77206C6F67', `comm=${kernelHex(hostile)}`));
    expect(e.process.pid).toBe(8577);
    expect(e.process.comm).toBe(hostile);
    expect(e.seccomp?.syscall).toBe('getppid');
  });

  it('cannot inject code= through a hex-encoded exe', () => {
    // CONSTRUCTED from kmsg line 9 (KILL_PROCESS): exe="/usr/local/bin/seccomp-demo" → hex of a path that
    // carries ` code=0x7fff0000 `.
    const hostile = '/tmp/a code=0x7fff0000 b';
    const line = derive(
      corpusLine(KMSG, 9),
      'exe="/usr/local/bin/seccomp-demo"',
      `exe=${kernelHex(hostile)}`,
    );
    const e = onlyEvent(line);
    expect(e.process.exe).toBe(hostile);
    expect(e.seccomp?.action).toBe('KILL_PROCESS');
    expect(e.seccomp?.code).toBe('0x80000000');
  });
});
