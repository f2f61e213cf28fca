/**
 * Reads the kernel's own reports of audit records it did not deliver to the kernel log. Three shapes
 * exist (kernel/audit.c):
 *
 * - `kauditd_printk_skb: N callbacks suppressed`: without auditd every audit record is printk'd through
 *   printk_ratelimit() (10 per 5 s by default); N records were not printed. printk_ratelimit's state is
 *   shared by every caller, and the line names whichever caller printed first after the pause, so any
 *   audit function name counts (`audit_log_lost`, `audit_printk_skb` on old kernels); other subsystems'
 *   suppressions (`net_ratelimit: ...`) say nothing about audit and are ignored.
 * - `audit: audit_lost=N audit_rate_limit=R audit_backlog_limit=B`: audit_log_lost() prints the
 *   cumulative count since boot, at most once a second; the loss is the increase of N.
 * - `audit: rate limit exceeded` (and the other reasons audit_log_lost() is called with): printed by
 *   audit_panic() right after the audit_lost line of the same loss, when printk_ratelimit lets it.
 *
 * audit_lost= is the exact count, so a reason line adds one only when it is not the companion of an
 * audit_lost line (whose count already includes it), and the next audit_lost line takes back what
 * reason lines added since the previous one: the total then always equals the kernel's own counter.
 */

/** Reasons audit_log_lost() prints after `audit: ` (each stands for one lost record). */
const LOSS_REASONS = [
  'audit: rate limit exceeded',
  'audit: backlog limit exceeded',
  'audit: kauditd hold queue overflow',
  'audit: kauditd retry queue overflow',
  'audit: printk limit exceeded',
] as const;

const SUPPRESSED = ' callbacks suppressed';
const AUDIT_LOST = 'audit_lost=';

export class KernelLossCounter {
  /** Highest audit_lost= value seen (the kernel's counter is cumulative since boot). */
  private auditLost: number | undefined;
  private reasonsSinceAuditLost = 0;
  private previousWasAuditLost = false;

  /**
   * Learns the kernel's audit_lost counter from a record that is not counted (one of the replayed ring
   * records skipped at start), so that a later line counts only the increase since then.
   */
  observeBaseline(line: string): void {
    const at = line.indexOf(AUDIT_LOST);
    if (at < 0) return;
    const n = digitsAt(line, at + AUDIT_LOST.length);
    if (n >= 0 && (this.auditLost === undefined || n > this.auditLost)) this.auditLost = n;
  }

  /** How many records this line says the kernel lost; 0 for the ordinary line (a few indexOf calls). */
  lostIn(line: string): number {
    const wasAuditLost = this.previousWasAuditLost;
    this.previousWasAuditLost = false;
    const suppressed = line.indexOf(SUPPRESSED);
    if (suppressed >= 0) return suppressedCount(line, suppressed);
    if (line.indexOf('audit') < 0) return 0;
    const at = line.indexOf(AUDIT_LOST);
    if (at >= 0) {
      const n = digitsAt(line, at + AUDIT_LOST.length);
      if (n < 0) return 0;
      this.previousWasAuditLost = true;
      const before = this.auditLost ?? 0;
      if (n <= before) return 0;
      this.auditLost = n;
      const already = this.reasonsSinceAuditLost;
      this.reasonsSinceAuditLost = 0;
      return Math.max(0, n - before - already);
    }
    for (const reason of LOSS_REASONS) {
      if (line.indexOf(reason) >= 0) {
        if (wasAuditLost) return 0;
        this.reasonsSinceAuditLost++;
        return 1;
      }
    }
    return 0;
  }
}

/** `func: N callbacks suppressed` → N when `func` is an audit function, else 0. */
function suppressedCount(line: string, suppressedAt: number): number {
  let start = suppressedAt;
  while (start > 0) {
    const d = line.charCodeAt(start - 1) - 48;
    if (d < 0 || d > 9) break;
    start--;
  }
  if (start === suppressedAt) return 0;
  // The function name sits right before `: N`; it is short, so this scan is bounded.
  const colon = start - 2;
  if (colon < 0 || line.charCodeAt(colon) !== 58 || line.charCodeAt(colon + 1) !== 32) return 0;
  let nameStart = colon;
  while (nameStart > 0 && colon - nameStart < 64) {
    const c = line.charCodeAt(nameStart - 1);
    if (c === 32 || c === 59 /* ; ends the kmsg header */ || c === 93 /* ] ends a dmesg stamp */) break;
    nameStart--;
  }
  if (line.slice(nameStart, colon).indexOf('audit') < 0) return 0;
  return digitsAt(line, start);
}

/** The decimal number at `pos`, or -1 when there is none (or it is implausibly long). */
function digitsAt(text: string, pos: number): number {
  let n = 0;
  let i = pos;
  for (; i < text.length && i - pos < 16; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i === pos ? -1 : n;
}
