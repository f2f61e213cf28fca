import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KernwatchEvent } from '../../events.js';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import { postureEventsToNdjson, type PostureEvent } from '../../posture/posture-event.js';
import { actionEventsToNdjson, type ActionEvent } from '../../responders/action-event.js';
import { eventsToNdjson } from '../event-json.js';
import type { EventSink } from '../event-sink.js';

/**
 * NDJSON appended to a file. Delivered = written to the kernel (survives an agent crash; an fsync per
 * batch would cost more than the node can spare at thousands of events/s, and a machine crash also
 * loses the audit log lines the events came from).
 */
export class FileSink implements EventSink {
  readonly name: string;
  private handle: FileHandle | undefined;
  private lastError: Error | undefined;
  private appending: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly path: string) {
    this.name = `file:${path}`;
  }

  async open(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      this.handle = await open(this.path, 'a', 0o640);
    } catch (err) {
      throw new KernwatchError(ERROR_CODES.sink, `Cannot open event file ${this.path}`, { cause: err });
    }
  }

  deliver(events: readonly KernwatchEvent[]): Promise<void> {
    return events.length === 0 ? Promise.resolve() : this.append(eventsToNdjson(events));
  }

  deliverActions(events: readonly ActionEvent[]): Promise<void> {
    return events.length === 0 ? Promise.resolve() : this.append(actionEventsToNdjson(events));
  }

  deliverPosture(events: readonly PostureEvent[]): Promise<void> {
    return events.length === 0 ? Promise.resolve() : this.append(postureEventsToNdjson(events));
  }

  /** One append at a time: a large appendFile is several writes, which two callers could interleave. */
  private append(text: string): Promise<void> {
    const run = this.appending.then(() => this.appendNow(text));
    this.appending = run.catch(() => undefined);
    return run;
  }

  private async appendNow(text: string): Promise<void> {
    if (this.closed) throw new KernwatchError(ERROR_CODES.sink, `The event file ${this.path} is closed`);
    if (this.handle === undefined) await this.open();
    try {
      await this.handle?.appendFile(text);
      this.lastError = undefined;
    } catch (err) {
      this.lastError = err as Error;
      throw new KernwatchError(ERROR_CODES.sink, `Cannot append events to ${this.path}`, { cause: err });
    }
  }

  healthy(): boolean {
    return this.lastError === undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.appending;
    await this.handle?.close();
    this.handle = undefined;
  }
}
