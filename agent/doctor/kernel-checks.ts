import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECK_ID, fail, pass, warn, type CheckResult } from './doctor-types.js';
import { parseLsmList } from '../posture/lsm.js';
import { actionsLoggedPath, parseActionsLogged } from '../posture/seccomp-actions-logged.js';

/**
 * What the kernel itself decides about visibility: which seccomp actions it logs, how much of the kernel
 * log audit records may take without auditd, which MAC LSMs can produce denials, and the cgroup layout
 * attribution reads. Sysctls are read under the proc root (kernel.* sysctls are not namespaced, so a
 * pod's /proc/sys shows the host's); LSM and cgroup facts under the sys root.
 */

/** The seccomp actions kernwatch's visibility rests on: KILL_* and LOG (see DESIGN.md). */
const REQUIRED_SECCOMP_ACTIONS = ['kill_process', 'kill_thread', 'log'] as const;
/** Logged only for filters loaded with SECCOMP_FILTER_FLAG_LOG; listed in the detail when missing. */
const FLAG_LOG_ACTIONS = ['errno', 'trap', 'user_notif', 'trace'] as const;

/**
 * kernel.seccomp.actions_logged. Missing `log` is a fail: SCMP_ACT_LOG is how audit-mode profiles
 * report, and such a denial leaves no other trace. Missing kill_process / kill_thread is a warn: the kill
 * is not recorded, but the container still dies of SIGSYS, which the kubelet reports.
 */
export async function seccompActionsLoggedCheck(procRoot: string): Promise<CheckResult> {
  const id = CHECK_ID.seccompActionsLogged;
  const path = actionsLoggedPath(procRoot);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') {
      return fail(
        id,
        `${path} does not exist: this kernel does not log seccomp actions (Linux 4.14 or later with CONFIG_SECCOMP_FILTER does)`,
        'run a kernel with seccomp logging (4.14+)',
      );
    }
    return warn(
      id,
      `cannot read ${path} (${code})`,
      'check `sysctl kernel.seccomp.actions_logged` on the host',
    );
  }
  const logged = parseActionsLogged(text);
  const missing = REQUIRED_SECCOMP_ACTIONS.filter((a) => !logged.includes(a));
  const flagMissing = FLAG_LOG_ACTIONS.filter((a) => !logged.includes(a));
  const facts =
    `actions_logged: ${logged.join(' ') || '(none)'}` +
    (flagMissing.length === 0
      ? ''
      : `; not logged even with SECCOMP_FILTER_FLAG_LOG: ${flagMissing.join(' ')}`);
  if (missing.length === 0) return pass(id, facts);
  const wanted = [...new Set([...logged, ...REQUIRED_SECCOMP_ACTIONS])].join(' ');
  const fix = `sysctl -w kernel.seccomp.actions_logged="${wanted}" (and persist it in /etc/sysctl.d/)`;
  if (missing.includes('log')) {
    return fail(
      id,
      `${facts}; missing ${missing.join(', ')}: SCMP_ACT_LOG denials are not recorded at all`,
      fix,
    );
  }
  return warn(id, `${facts}; missing ${missing.join(', ')}: seccomp kills are not recorded`, fix);
}

/** The kernel's defaults for printk_ratelimit (seconds) and printk_ratelimit_burst. */
const PRINTK_DEFAULTS = { intervalSeconds: 5, burst: 10 } as const;

/**
 * Without an audit daemon the kernel prints audit records through printk_ratelimit(): at most `burst`
 * records per `interval` seconds, the rest are lost ("kauditd_printk_skb: N callbacks suppressed").
 * Irrelevant while a daemon is registered. Warns when the limit is no higher than the defaults.
 */
export async function printkRatelimitCheck(
  procRoot: string,
  daemonRegistered: boolean,
): Promise<CheckResult> {
  const id = CHECK_ID.printkRatelimit;
  const intervalPath = join(procRoot, 'sys/kernel/printk_ratelimit');
  const burstPath = join(procRoot, 'sys/kernel/printk_ratelimit_burst');
  const [interval, burst] = await Promise.all([readInteger(intervalPath), readInteger(burstPath)]);
  if (typeof interval === 'string' || typeof burst === 'string') {
    const why = [interval, burst].filter((v): v is string => typeof v === 'string').join('; ');
    if (daemonRegistered) return pass(id, `not used while an audit daemon receives the records (${why})`);
    return warn(id, why, 'check `sysctl kernel.printk_ratelimit kernel.printk_ratelimit_burst` on the host');
  }
  const facts = `printk_ratelimit ${interval} s, printk_ratelimit_burst ${burst}`;
  if (daemonRegistered) return pass(id, `${facts}; not used while an audit daemon receives the records`);
  if (interval === 0) return pass(id, `${facts}: no limit on audit records in /dev/kmsg`);
  // At most the defaults' rate (2 records per second sustained, bursts of 10).
  if (
    burst * PRINTK_DEFAULTS.intervalSeconds <= PRINTK_DEFAULTS.burst * interval &&
    burst <= PRINTK_DEFAULTS.burst
  ) {
    return warn(
      id,
      `${facts}: without auditd at most ${burst} audit records per ${interval} s reach /dev/kmsg, the rest are lost`,
      'run auditd, or raise the limit: sysctl -w kernel.printk_ratelimit_burst=1000 (persist in /etc/sysctl.d/)',
    );
  }
  return pass(
    id,
    `${facts}: raised above the defaults (${PRINTK_DEFAULTS.burst} per ${PRINTK_DEFAULTS.intervalSeconds} s)`,
  );
}

async function readInteger(path: string): Promise<number | string> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (!/^\d{1,10}$/.test(text)) return `${path} holds '${text.slice(0, 40)}'`;
    return Number(text);
  } catch (err) {
    return `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/** MAC LSMs whose denials kernwatch does not read (it reads AppArmor and SELinux). */
const OTHER_MAC_LSMS = ['smack', 'tomoyo'] as const;

/**
 * Which MAC LSMs can produce denials: the active list (securityfs), AppArmor's module parameter, SELinux's
 * enforce flag. No AppArmor or SELinux: containers cannot have profiles of either, so no MAC denial can
 * ever happen (warn). SELinux permissive: denials are logged but nothing is blocked (warn).
 */
export async function lsmCheck(sysRoot: string): Promise<CheckResult> {
  const id = CHECK_ID.lsm;
  const lsmPath = join(sysRoot, 'kernel/security/lsm');
  const apparmorPath = join(sysRoot, 'module/apparmor/parameters/enabled');
  const enforcePath = join(sysRoot, 'fs/selinux/enforce');
  const [lsmText, apparmorText, enforceText] = await Promise.all([
    readText(lsmPath),
    readText(apparmorPath),
    readText(enforcePath),
  ]);
  const active = lsmText === undefined ? undefined : parseLsmList(lsmText);
  const facts: string[] = [
    active === undefined
      ? `active LSMs unknown (${lsmPath} not readable: securityfs not mounted?)`
      : `active LSMs: ${active.join(',') || '(none)'}`,
  ];
  // AppArmor: its module parameter says Y when it is on; the list is the word when the parameter is absent.
  const apparmorOn =
    apparmorText !== undefined
      ? apparmorText.trim().toUpperCase().startsWith('Y')
      : (active?.includes('apparmor') ?? false);
  facts.push(
    apparmorText !== undefined
      ? `AppArmor ${apparmorOn ? 'enabled' : 'disabled'}`
      : apparmorOn
        ? 'AppArmor enabled'
        : 'AppArmor not present',
  );
  const enforce = enforceText?.trim();
  const selinuxOn = enforce !== undefined || (active?.includes('selinux') ?? false);
  facts.push(
    enforce === '1'
      ? 'SELinux enforcing'
      : enforce === '0'
        ? 'SELinux permissive'
        : selinuxOn
          ? 'SELinux active, mode unknown (selinuxfs not mounted)'
          : 'SELinux not present',
  );
  const detail = facts.join('; ');
  if (!apparmorOn && !selinuxOn) {
    const other = OTHER_MAC_LSMS.filter((l) => active?.includes(l) === true);
    return warn(
      id,
      `${detail}${other.length === 0 ? '' : ` (${other.join(', ')} active: kernwatch does not read its denials)`}: containers cannot have AppArmor/SELinux profiles, so MAC denials cannot happen`,
      'enable AppArmor (Debian/Ubuntu: on by default; boot with apparmor=1 security=apparmor) or SELinux for MAC confinement; seccomp is still reported',
    );
  }
  if (enforce === '0') {
    return warn(
      id,
      `${detail}: SELinux denials are logged with permissive=1 (outcome allowed) but nothing is blocked`,
      'setenforce 1 (and SELINUX=enforcing in /etc/selinux/config)',
    );
  }
  return pass(id, detail);
}

/**
 * The cgroup layout the container ids in /proc/<pid>/cgroup come from: v2 (unified) when the root is
 * cgroup2, v1 otherwise (hybrid when a cgroup2 hierarchy is also mounted at unified/). Either works.
 */
export async function cgroupCheck(sysRoot: string): Promise<CheckResult> {
  const id = CHECK_ID.cgroup;
  const root = join(sysRoot, 'fs/cgroup');
  const controllersPath = join(root, 'cgroup.controllers');
  const controllersText = await readText(controllersPath);
  if (controllersText !== undefined || (await exists(controllersPath))) {
    const controllers = controllersText?.trim() ?? '';
    return pass(id, `v2 (unified) at ${root}${controllers === '' ? '' : `; controllers: ${controllers}`}`);
  }
  if (await exists(join(root, 'unified/cgroup.controllers'))) {
    return pass(id, `v1 (hybrid: cgroup2 also mounted at ${join(root, 'unified')})`);
  }
  if (await exists(root)) return pass(id, `v1 at ${root}`);
  // Attribution reads /proc/<pid>/cgroup, which does not need the hierarchy mounted here.
  return pass(
    id,
    `unknown: ${root} is not there (attribution reads /proc/<pid>/cgroup, which does not need it)`,
  );
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
