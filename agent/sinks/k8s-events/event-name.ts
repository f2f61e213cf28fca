/** metadata.name of any object: a DNS subdomain of at most 253 characters. */
const MAX_NAME_LENGTH = 253;

/**
 * Event names as kubelet makes them (client-go tools/events: `<object name>.<UnixNano in hex>`), made
 * unique within the process: two series of one pod started in the same millisecond get consecutive
 * suffixes instead of colliding. A pod name long enough to push the name past 253 characters is cut,
 * and the cut never ends on '-' or '.' (a DNS subdomain must end alphanumeric).
 */
export class EventNamer {
  private lastNanos = 0n;

  next(podName: string, nowMs: number): string {
    let nanos = BigInt(Math.max(0, Math.floor(nowMs))) * 1_000_000n;
    if (nanos <= this.lastNanos) nanos = this.lastNanos + 1n;
    this.lastNanos = nanos;
    const suffix = nanos.toString(16);
    const room = MAX_NAME_LENGTH - 1 - suffix.length;
    let end = Math.min(podName.length, room);
    while (end > 0 && !isAlphanumeric(podName.charCodeAt(end - 1))) end--;
    return `${podName.slice(0, end)}.${suffix}`;
  }
}

function isAlphanumeric(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}
