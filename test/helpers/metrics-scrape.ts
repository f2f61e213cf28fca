import type { AgentProcess } from './agent-process.js';

/** The port the agent logged it serves on (it was asked for port 0: any free one). */
export function metricsPort(agent: AgentProcess): number | undefined {
  for (const line of agent.stderr().split('\n')) {
    if (!line.includes('Serving /metrics')) continue;
    return (JSON.parse(line) as { port: number }).port;
  }
  return undefined;
}

export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${String(port)}${path}`);
  return { status: res.status, body: await res.text() };
}

/** The value of one sample line, e.g. `kernwatch_lines_read_total{source="syslog"}`. */
export function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
