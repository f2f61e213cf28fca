import { readFileSync, writeFileSync } from 'node:fs';

const INTERVAL = '/proc/sys/kernel/printk_ratelimit';
const BURST = '/proc/sys/kernel/printk_ratelimit_burst';

/**
 * Without auditd the kernel prints audit records to /dev/kmsg through printk_ratelimit() (10 per 5 s).
 * A new burst only takes effect when the next window opens, so raising it can leave a test with the
 * remains of an old window; an interval of 0 turns the limit off at once. Returns the restore function.
 */
export function disablePrintkRateLimit(): () => void {
  const interval = readFileSync(INTERVAL, 'utf8').trim();
  const burst = readFileSync(BURST, 'utf8').trim();
  writeFileSync(INTERVAL, '0');
  return () => {
    writeFileSync(INTERVAL, interval);
    writeFileSync(BURST, burst);
  };
}
