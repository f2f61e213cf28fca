import { loadConfig } from '../config/config-loader.js';
import { AgentRuntime } from '../pipeline/agent-runtime.js';
import { agentMetrics } from '../telemetry/agent-metrics.js';
import { HealthServer } from '../telemetry/health-server.js';
import { createLogger } from '../telemetry/logger.js';
import { resolveNodeName } from './node-name.js';
import type { RunArgs } from './run-args.js';

/** `kernwatch run`: start the agent, run until SIGTERM or SIGINT, then drain, checkpoint and return 0. */
export async function runAgent(args: RunArgs): Promise<number> {
  const config = await loadConfig(args.configPath, args.overrides);
  const node = resolveNodeName(config.node === '' ? undefined : config.node);
  const log = createLogger(config.log.level);
  const runtime = new AgentRuntime({ config, node, log });
  // Served from before the start, so probes get answers (/readyz: not ready) while sources open.
  const health =
    config.metrics.addr === undefined ? undefined : new HealthServer(agentMetrics(runtime), runtime);
  if (health !== undefined && config.metrics.addr !== undefined) {
    const bound = await health.listen(config.metrics.addr);
    log.info(bound, 'Serving /metrics, /healthz and /readyz.');
  }
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
  });
  // Some components run on unref'd timers (the process table's scan, the CRI and informer retries), and
  // between two polls a quiet source holds no handle at all: this ref'd timer keeps the agent alive
  // until a signal arrives.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    await runtime.start();
  } catch (err) {
    await health?.close();
    clearInterval(keepAlive);
    throw err;
  }
  log.info({ node, sinks: runtime.sinks.map((s) => s.name) }, 'kernwatch is running.');
  const ended = await Promise.race([stopRequested, runtime.failure]);
  if (ended instanceof Error) {
    log.error(
      { err: ended },
      'A source can no longer be read; stopping so that the node reports the failure.',
    );
    await runtime.stop();
    await health?.close();
    clearInterval(keepAlive);
    throw ended;
  }
  log.info({ signal: ended }, 'Stopping: delivering what was read and saving checkpoints.');
  await runtime.stop();
  await health?.close();
  clearInterval(keepAlive);
  log.info('Stopped.');
  return 0;
}
