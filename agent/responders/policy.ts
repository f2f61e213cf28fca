import { AuditTimeReader } from '../audit-time.js';
import type { ResponseRuleConfig } from '../config/config-schema.js';
import type { KernwatchEvent, PodRef } from '../events.js';

/**
 * Which rules a denial sets off. Pure: no I/O, no clock (time is the event's audit time, so a re-read
 * after a restart counts the same denials the same way). The only state is each rule's sliding window of
 * denials per pod, bounded in pods.
 *
 * A rule fires when its pod's denials within `threshold.within` reach `threshold.count` (a coalesced event
 * counts as the denials it stands for); the window then starts again, so a steady stream fires once per
 * `count` denials, not once per denial after the first `count`. Only denials attributed to a pod can set
 * off a rule: every action works on a pod.
 */

export interface Firing {
  rule: ResponseRuleConfig;
  event: KernwatchEvent;
  pod: PodRef;
  /** Denials counted in the window when the threshold was reached. */
  count: number;
  /** Audit time (ms) of the newest denial counted: how old the news is when the response is decided. */
  atMs: number;
}

export interface ResponsePolicyOptions {
  /** Windows (one per rule and pod, all rules together) kept; beyond it the least recently seen is forgotten. */
  maxTrackedPods?: number;
}

interface CompiledRule {
  rule: ResponseRuleConfig;
  index: number;
  namespaces: ((namespace: string) => boolean) | undefined;
}

/** A pod's recent denials under one rule: audit times (ms) with the count each stands for, oldest first. */
interface DenialWindow {
  times: number[];
  counts: number[];
  total: number;
}

const DEFAULT_MAX_TRACKED_PODS = 4096;

export class ResponsePolicy {
  private readonly rules: CompiledRule[];
  private readonly windows = new Map<string, DenialWindow>();
  private readonly maxTracked: number;
  private readonly times = new AuditTimeReader();

  constructor(rules: readonly ResponseRuleConfig[], options: ResponsePolicyOptions = {}) {
    this.maxTracked = options.maxTrackedPods ?? DEFAULT_MAX_TRACKED_PODS;
    this.rules = rules.map((rule, index) => ({
      rule,
      index,
      namespaces:
        rule.match.namespaces === undefined ? undefined : anyGlob(rule.match.namespaces.map(globMatcher)),
    }));
  }

  get trackedWindows(): number {
    return this.windows.size;
  }

  /** The rules this event sets off, in configuration order. */
  evaluate(event: KernwatchEvent): Firing[] {
    const pod = event.pod;
    if (pod === undefined || pod.uid === '' || this.rules.length === 0) return [];
    let firings: Firing[] | undefined;
    let atMs: number | undefined;
    for (const compiled of this.rules) {
      if (!matches(compiled, event, pod)) continue;
      atMs ??= this.timeOf(event);
      const count = this.count(compiled, pod.uid, atMs, event.count);
      if (count === undefined) continue;
      (firings ??= []).push({ rule: compiled.rule, event, pod, count, atMs });
    }
    return firings ?? [];
  }

  private timeOf(event: KernwatchEvent): number {
    const ms = this.times.ms(event.time);
    return Number.isNaN(ms) ? 0 : ms;
  }

  /** Adds the denials to the pod's window; the window's total when that reaches the threshold, else undefined. */
  private count(compiled: CompiledRule, podUid: string, atMs: number, denials: number): number | undefined {
    const { count: needed, within } = compiled.rule.threshold;
    if (needed <= 1 && denials >= 1) return denials;
    const key = `${String(compiled.index)}\u0000${podUid}`;
    let window = this.windows.get(key);
    if (window === undefined) {
      window = { times: [], counts: [], total: 0 };
      if (this.windows.size >= this.maxTracked) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
    } else {
      // Re-inserted so that Map order is least recently seen first.
      this.windows.delete(key);
    }
    this.windows.set(key, window);
    // Records of one pod arrive in audit order per source; one arriving late is simply counted now.
    const from = atMs - within;
    let drop = 0;
    while (drop < window.times.length && (window.times[drop] ?? 0) <= from) {
      window.total -= window.counts[drop] ?? 0;
      drop++;
    }
    if (drop > 0) {
      window.times.splice(0, drop);
      window.counts.splice(0, drop);
    }
    window.times.push(atMs);
    window.counts.push(denials);
    window.total += denials;
    if (window.total < needed) return undefined;
    const total = window.total;
    this.windows.delete(key);
    return total;
  }
}

function matches(compiled: CompiledRule, event: KernwatchEvent, pod: PodRef): boolean {
  const m = compiled.rule.match;
  if (m.kind !== undefined && event.kind !== m.kind) return false;
  if (m.outcome !== undefined && !m.outcome.includes(event.outcome)) return false;
  if (compiled.namespaces !== undefined && !compiled.namespaces(pod.namespace)) return false;
  if (m.podLabels !== undefined) {
    // Unknown labels (no API server) match nothing: a rule scoped by labels must not widen to every pod.
    const labels = pod.labels;
    if (labels === undefined) return false;
    for (const [key, value] of Object.entries(m.podLabels)) if (labels[key] !== value) return false;
  }
  if (m.syscalls !== undefined) {
    const syscall = event.seccomp?.syscall;
    if (syscall === undefined || !m.syscalls.includes(syscall)) return false;
  }
  if (m.operations !== undefined) {
    const operation = event.apparmor?.operation;
    if (operation === undefined || !m.operations.includes(operation)) return false;
  }
  if (m.permissions !== undefined) {
    const permissions = event.selinux?.permissions;
    if (permissions === undefined || !permissions.some((p) => m.permissions?.includes(p) === true))
      return false;
  }
  return true;
}

function anyGlob(matchers: ((s: string) => boolean)[]): (s: string) => boolean {
  return (s) => matchers.some((match) => match(s));
}

/**
 * `*` (any run, also empty) and `?` (one character); everything else literal. The classic two-pointer
 * match that remembers only the last `*`: O(pattern × text) at worst, never exponential like a regex
 * built from user input could be.
 */
export function globMatcher(pattern: string): (text: string) => boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return (text) => text === pattern;
  return (text) => {
    let p = 0;
    let t = 0;
    let star = -1;
    let resume = 0;
    while (t < text.length) {
      const pc = pattern[p];
      if (pc !== undefined && (pc === '?' || (pc !== '*' && pc === text[t]))) {
        p++;
        t++;
      } else if (pc === '*') {
        star = p++;
        resume = t;
      } else if (star >= 0) {
        p = star + 1;
        t = ++resume;
      } else {
        return false;
      }
    }
    while (pattern[p] === '*') p++;
    return p === pattern.length;
  };
}
