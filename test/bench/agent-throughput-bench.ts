/**
 * Agent throughput (`npm run bench`, or `node dist/test/bench/agent-throughput-bench.js`).
 *
 * How many events per second `kernwatch run` sustains from a file source to stdout: a generated audit.log
 * (10% denials) is read from its start by the real agent (`run --source auditd:FILE --from-start --sink
 * stdout`), and the time from its first event to its last is measured, so start-up is not counted. The
 * same file through `kernwatch parse` in the same run is the baseline (parsing alone, no live source, no
 * attribution, no checkpoints): the ratio shows what the live chain costs on this noisy machine.
 *
 * Flags: --lines N (default 500000), --runs N (default 3), --no-docs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, updateBenchDocs } from './bench-docs.js';
import { findRepoRoot, generateAuditLog } from './audit-log-generator.js';

interface Timing {
  events: number;
  firstMs: number;
  lastMs: number;
  totalMs: number;
}

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '3' },
    'no-docs': { type: 'boolean', default: false },
  },
});
const lines = Number(values.lines);
const runs = Number(values.runs);
const root = findRepoRoot();
const cli = join(root, 'dist/agent/cli/main.js');

/** Runs the command and counts stdout lines until `expected` arrived (then stops the agent with SIGTERM). */
function timeEvents(args: string[], expected: number, stopWhenDone: boolean): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let events = 0;
    let firstMs = 0;
    let lastMs = 0;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 65_536) stderr += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      const now = performance.now() - t0;
      if (events === 0) firstMs = now;
      let n = 0;
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) n++;
      events += n;
      lastMs = now;
      if (stopWhenDone && events >= expected) child.kill('SIGTERM');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (events < expected) {
        reject(
          new Error(
            `got ${String(events)}/${String(expected)} events (exit ${String(code)} ${String(signal)}): ${stderr}`,
          ),
        );
        return;
      }
      resolve({ events, firstMs, lastMs, totalMs: performance.now() - t0 });
    });
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kw-agent-bench-'));
  try {
    const file = join(dir, 'audit.log');
    // Noise control off: every denial is one event, as in `kernwatch parse`, so the two count the same.
    const config = join(dir, 'bench.yaml');
    writeFileSync(config, 'noise: { coalesceWindow: 0, perContainerPerSecond: 0 }\n');
    const gen = generateAuditLog(file, { lines });
    const expected = gen.denials.total;
    console.log(
      `generated ${String(gen.lines)} lines, ${String(expected)} denials, ${(gen.bytes / 1e6).toFixed(1)} MB`,
    );
    const agent: Timing[] = [];
    const parse: Timing[] = [];
    for (let r = 0; r < runs; r++) {
      const state = join(dir, `state-${String(r)}`);
      agent.push(
        await timeEvents(
          [
            'run',
            '--config',
            config,
            '--source',
            `auditd:${file}`,
            '--from-start',
            '--sink',
            'stdout',
            '--state-dir',
            state,
            '--node',
            'bench',
            '--log-level',
            'warn',
          ],
          expected,
          true,
        ),
      );
      parse.push(await timeEvents(['parse', '--node', 'bench', file], expected, false));
    }
    const rate = (t: Timing): number => t.events / (Math.max(1, t.lastMs - t.firstMs) / 1000);
    const bestAgent = Math.max(...agent.map(rate));
    const bestParse = Math.max(...parse.map(rate));
    const table = [
      `${String(gen.lines)}-line audit.log, ${String(expected)} denials, best of ${String(runs)}, first event → last event:`,
      '',
      '| command | events/s | lines/s | agent / this |',
      '|---|---|---|---|',
      `| kernwatch run, auditd file source → stdout | ${fmt(bestAgent)} | ${fmt((bestAgent * gen.lines) / expected)} | — |`,
      `| kernwatch parse (same file, no live source, no attribution) | ${fmt(bestParse)} | ${fmt((bestParse * gen.lines) / expected)} | ${(bestAgent / bestParse).toFixed(2)}x |`,
    ].join('\n');
    console.log(table);
    if (!values['no-docs']) await updateBenchDocs(root, 'agent-bench', table);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
