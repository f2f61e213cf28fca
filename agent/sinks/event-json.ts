import type {
  AppArmorDetail,
  KernwatchEvent,
  NoiseInfo,
  ProcessInfo,
  SeccompDetail,
  SelinuxDetail,
} from '../events.js';

/**
 * The event as one line of JSON, keys in the documented order. Hand-written because JSON.stringify of
 * the whole object was the largest single cost of `kernwatch parse` (about 4 µs an event); strings still
 * go through JSON.stringify, which is exact for escaping and fast for a single string.
 */
export function eventToJson(e: KernwatchEvent): string {
  let s = `{"schema":"${e.schema}","id":${str(e.id)}`;
  if (e.auditId !== undefined) s += `,"auditId":${str(e.auditId)}`;
  s += `,"time":${str(e.time)},"node":${str(e.node)},"source":"${e.source}","kind":"${e.kind}","outcome":"${e.outcome}","count":${String(e.count)}`;
  if (e.noise !== undefined) s += `,"noise":${noiseJson(e.noise)}`;
  s += `,"process":${processJson(e.process)}`;
  if (e.seccomp !== undefined) s += `,"seccomp":${seccompJson(e.seccomp)}`;
  if (e.apparmor !== undefined) s += `,"apparmor":${appArmorJson(e.apparmor)}`;
  if (e.selinux !== undefined) s += `,"selinux":${selinuxJson(e.selinux)}`;
  if (e.container !== undefined) s += `,"container":${JSON.stringify(e.container)}`;
  if (e.pod !== undefined) s += `,"pod":${JSON.stringify(e.pod)}`;
  s += `,"attribution":"${e.attribution}","raw":[`;
  const raw = e.raw;
  for (let i = 0; i < raw.length; i++) s += i === 0 ? str(raw[i] ?? '') : `,${str(raw[i] ?? '')}`;
  return `${s}]}`;
}

/** A batch as NDJSON: one line per event, each ending in a newline. */
export function eventsToNdjson(events: readonly KernwatchEvent[]): string {
  let text = '';
  for (const e of events) text += `${eventToJson(e)}\n`;
  return text;
}

const str = JSON.stringify as (value: string) => string;

function noiseJson(n: NoiseInfo): string {
  return `{"reason":"${n.reason}","firstTime":${str(n.firstTime)},"lastTime":${str(n.lastTime)}}`;
}

function processJson(p: ProcessInfo): string {
  let s = `{"pid":${String(p.pid)}`;
  if (p.ppid !== undefined) s += `,"ppid":${String(p.ppid)}`;
  if (p.comm !== undefined) s += `,"comm":${str(p.comm)}`;
  if (p.exe !== undefined) s += `,"exe":${str(p.exe)}`;
  if (p.uid !== undefined) s += `,"uid":${String(p.uid)}`;
  if (p.gid !== undefined) s += `,"gid":${String(p.gid)}`;
  if (p.auid !== undefined) s += `,"auid":${String(p.auid)}`;
  if (p.ses !== undefined) s += `,"ses":${String(p.ses)}`;
  if (p.subj !== undefined) s += `,"subj":${str(p.subj)}`;
  if (p.cmdline !== undefined) s += `,"cmdline":${str(p.cmdline)}`;
  if (p.cwd !== undefined) s += `,"cwd":${str(p.cwd)}`;
  return `${s}}`;
}

function seccompJson(d: SeccompDetail): string {
  let s = d.syscall === undefined ? '{' : `{"syscall":${str(d.syscall)},`;
  s += `"syscallNr":${String(d.syscallNr)},"arch":${str(d.arch)},"compat":${String(d.compat)},"action":"${d.action}"`;
  if (d.errno !== undefined) s += `,"errno":${String(d.errno)}`;
  if (d.errnoName !== undefined) s += `,"errnoName":"${d.errnoName}"`;
  return `${s},"signal":${String(d.signal)},"code":${str(d.code)}}`;
}

function appArmorJson(d: AppArmorDetail): string {
  let s = `{"mode":"${d.mode}","operation":${str(d.operation)},"profile":${str(d.profile)}`;
  if (d.class !== undefined) s += `,"class":${str(d.class)}`;
  if (d.name !== undefined) s += `,"name":${str(d.name)}`;
  if (d.name2 !== undefined) s += `,"name2":${str(d.name2)}`;
  if (d.requestedMask !== undefined) s += `,"requestedMask":${str(d.requestedMask)}`;
  if (d.deniedMask !== undefined) s += `,"deniedMask":${str(d.deniedMask)}`;
  if (d.capability !== undefined) s += `,"capability":${String(d.capability)}`;
  if (d.capname !== undefined) s += `,"capname":${str(d.capname)}`;
  if (d.signal !== undefined) s += `,"signal":${str(d.signal)}`;
  if (d.peer !== undefined) s += `,"peer":${str(d.peer)}`;
  if (d.info !== undefined) s += `,"info":${str(d.info)}`;
  if (d.error !== undefined) s += `,"error":${String(d.error)}`;
  return `${s}}`;
}

function selinuxJson(d: SelinuxDetail): string {
  let s = '{"permissions":[';
  for (let i = 0; i < d.permissions.length; i++)
    s += i === 0 ? str(d.permissions[i] ?? '') : `,${str(d.permissions[i] ?? '')}`;
  s += `],"scontext":${str(d.scontext)},"tcontext":${str(d.tcontext)},"tclass":${str(d.tclass)},"permissive":${String(d.permissive)}`;
  if (d.name !== undefined) s += `,"name":${str(d.name)}`;
  if (d.path !== undefined) s += `,"path":${str(d.path)}`;
  return `${s}}`;
}
