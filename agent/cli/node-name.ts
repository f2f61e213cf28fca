import { hostname } from 'node:os';

/** The node name events carry: --node, else NODE_NAME (set from the downward API), else the hostname. */
export function resolveNodeName(flag: string | undefined): string {
  const name = flag ?? process.env.NODE_NAME ?? hostname();
  return name === '' ? hostname() : name;
}
