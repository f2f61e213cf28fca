import type { Writable } from 'node:stream';
import type { KernwatchEvent } from '../../events.js';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import { postureEventsToNdjson, type PostureEvent } from '../../posture/posture-event.js';
import { actionEventsToNdjson, type ActionEvent } from '../../responders/action-event.js';
import { eventsToNdjson } from '../event-json.js';
import type { EventSink } from '../event-sink.js';

/** NDJSON on stdout (or any writable): one write per batch; delivered when the stream took the bytes. */
export class StdoutSink implements EventSink {
  readonly name = 'stdout';
  private failed: Error | undefined;

  constructor(private readonly out: Writable = process.stdout) {
    out.on('error', (err: Error) => {
      this.failed = err;
    });
  }

  async deliver(events: readonly KernwatchEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.write(eventsToNdjson(events));
  }

  async deliverActions(events: readonly ActionEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.write(actionEventsToNdjson(events));
  }

  async deliverPosture(events: readonly PostureEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.write(postureEventsToNdjson(events));
  }

  private async write(text: string): Promise<void> {
    if (this.failed !== undefined) throw sinkError(this.failed);
    await new Promise<void>((resolve, reject) => {
      this.out.write(text, (err) => {
        if (err) reject(sinkError(err));
        else resolve();
      });
    });
  }

  healthy(): boolean {
    return this.failed === undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function sinkError(cause: Error): KernwatchError {
  return new KernwatchError(ERROR_CODES.sink, `Cannot write events to stdout: ${cause.message}`, { cause });
}
