import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { KernwatchError, ERROR_CODES } from '../errors.js';

/**
 * One small JSON file per source under `<stateDir>/checkpoints/`. Saved by write-to-temp and rename, so a
 * crash leaves either the old or the new checkpoint, never a torn one.
 */
const SYNC_INTERVAL_MS = 1000;

export class CheckpointStore<T> {
  readonly path: string;
  private dirReady = false;
  private lastSyncMs = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    stateDir: string,
    sourceName: string,
    private readonly isValid: (value: unknown) => value is T,
  ) {
    this.path = join(stateDir, 'checkpoints', `${fileNameFor(sourceName)}.json`);
  }

  /** The saved position, or undefined when there is none or it is unreadable (then the source starts fresh). */
  async load(): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new KernwatchError(ERROR_CODES.state, `Cannot read checkpoint ${this.path} (${reasonOf(err)})`, {
        cause: err,
      });
    }
    try {
      const value: unknown = JSON.parse(text);
      return this.isValid(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Saves at once (the pipeline commits once per delivered batch, so a killed agent re-reads at most the
   * batch it had not confirmed). The data reaches the disk with fsync at most once a second: a crash of
   * the agent loses nothing either way (the kernel has the rename), a power loss may cost the last second
   * of checkpoints, which means records read twice, never records missed.
   */
  save(value: T): Promise<void> {
    // One save at a time, in call order: two overlapping renames could land out of order.
    const saved = this.queue.then(() => this.write(value));
    this.queue = saved.catch(() => undefined);
    return saved;
  }

  /** Resolves once every save asked for so far has ended (stop() waits for this). */
  settled(): Promise<void> {
    return this.queue;
  }

  private async write(value: T): Promise<void> {
    const dir = join(this.path, '..');
    const tmp = `${this.path}.tmp`;
    try {
      if (!this.dirReady) {
        await mkdir(dir, { recursive: true });
        this.dirReady = true;
      }
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(value)}\n`);
        const now = Date.now();
        if (now - this.lastSyncMs >= SYNC_INTERVAL_MS) {
          await fh.sync();
          this.lastSyncMs = now;
        }
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      this.dirReady = false;
      throw new KernwatchError(ERROR_CODES.state, `Cannot write checkpoint ${this.path} (${reasonOf(err)})`, {
        cause: err,
      });
    }
  }
}

/** Source names carry paths: keep them readable but safe as one file name. */
function fileNameFor(sourceName: string): string {
  return sourceName.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
}

function reasonOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}
