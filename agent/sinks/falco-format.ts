import type { KernwatchEvent, Outcome } from '../events.js';
import { deniedWhat } from './event-summary.js';

/** Falco's alert JSON, as falcosidekick accepts it on its HTTP input. */
export interface FalcoAlert {
  time: string;
  rule: string;
  priority: FalcoPriority;
  source: string;
  hostname: string;
  output: string;
  output_fields: Record<string, string | number | boolean | null>;
  tags: string[];
}

export const FALCO_PRIORITY = {
  Critical: 'Critical',
  Warning: 'Warning',
  Notice: 'Notice',
  Informational: 'Informational',
} as const;
export type FalcoPriority = (typeof FALCO_PRIORITY)[keyof typeof FALCO_PRIORITY];

const PRIORITY_BY_OUTCOME: Readonly<Record<Outcome, FalcoPriority>> = {
  killed: FALCO_PRIORITY.Critical,
  blocked: FALCO_PRIORITY.Warning,
  allowed: FALCO_PRIORITY.Notice,
  logged: FALCO_PRIORITY.Informational,
};

export function falcoRule(e: KernwatchEvent): string {
  if (e.seccomp !== undefined) return `seccomp violation (${e.seccomp.action})`;
  if (e.apparmor !== undefined) return `AppArmor violation (${e.apparmor.mode})`;
  if (e.selinux !== undefined)
    return `SELinux violation (${e.selinux.permissive ? 'permissive' : 'enforcing'})`;
  return 'kernel denial';
}

export function toFalcoAlert(e: KernwatchEvent): FalcoAlert {
  const priority = PRIORITY_BY_OUTCOME[e.outcome];
  const rule = falcoRule(e);
  const p = e.process;
  const fields: Record<string, string | number | boolean | null> = {
    'kernwatch.id': e.id,
    'kernwatch.kind': e.kind,
    'kernwatch.outcome': e.outcome,
    'kernwatch.count': e.count,
    'kernwatch.attribution': e.attribution,
    'proc.pid': p.pid,
    'proc.ppid': p.ppid ?? null,
    'proc.name': p.comm ?? null,
    'proc.exepath': p.exe ?? null,
    'proc.cmdline': p.cmdline ?? null,
    'proc.cwd': p.cwd ?? null,
    'user.uid': p.uid ?? null,
    'user.loginuid': p.auid ?? null,
    'container.id': e.container?.id ?? null,
    'container.name': e.container?.name ?? null,
    'container.image.repository': e.container?.image ?? null,
    'k8s.ns.name': e.pod?.namespace ?? null,
    'k8s.pod.name': e.pod?.name ?? null,
    'k8s.pod.uid': e.pod?.uid ?? null,
  };
  if (e.auditId !== undefined) fields['kernwatch.audit_id'] = e.auditId;
  if (e.seccomp !== undefined) {
    fields['seccomp.syscall'] = e.seccomp.syscall ?? null;
    fields['seccomp.syscall_nr'] = e.seccomp.syscallNr;
    fields['seccomp.arch'] = e.seccomp.arch;
    fields['seccomp.action'] = e.seccomp.action;
    fields['seccomp.code'] = e.seccomp.code;
  }
  if (e.apparmor !== undefined) {
    fields['apparmor.mode'] = e.apparmor.mode;
    fields['apparmor.operation'] = e.apparmor.operation;
    fields['apparmor.profile'] = e.apparmor.profile;
    fields['apparmor.name'] = e.apparmor.name ?? null;
    fields['apparmor.denied_mask'] = e.apparmor.deniedMask ?? null;
  }
  if (e.selinux !== undefined) {
    fields['selinux.permissions'] = e.selinux.permissions.join(' ');
    fields['selinux.scontext'] = e.selinux.scontext;
    fields['selinux.tcontext'] = e.selinux.tcontext;
    fields['selinux.tclass'] = e.selinux.tclass;
    fields['selinux.permissive'] = e.selinux.permissive;
  }
  const where =
    e.pod !== undefined
      ? ` k8s.ns=${e.pod.namespace} k8s.pod=${e.pod.name}`
      : e.container !== undefined
        ? ` container=${e.container.id.slice(0, 12)}`
        : '';
  const output =
    `${clock(e.time)}: ${priority} ${rule}: ${deniedWhat(e)} ` +
    `(pid=${String(p.pid)} comm=${p.comm ?? '?'} exe=${p.exe ?? '?'}${where} node=${e.node})`;
  return {
    time: e.time,
    rule,
    priority,
    source: 'kernwatch',
    hostname: e.node,
    output,
    output_fields: fields,
    tags: ['kernwatch', e.kind, e.outcome],
  };
}

function clock(iso: string): string {
  const t = iso.indexOf('T');
  return t < 0 ? iso : iso.slice(t + 1, iso.length - 1);
}
