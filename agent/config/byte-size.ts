import { parseQuantity } from './quantity.js';

const UNIT_BYTES = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
} as const;

/**
 * Parses the config's sizes: `512KiB`, `256MiB`, `1GiB` (K, M, G are binary too, as in Kubernetes
 * quantities; KB, MB, GB are decimal), or a plain number of bytes.
 */
export function parseByteSize(text: string): number | undefined {
  const bytes = parseQuantity(text, UNIT_BYTES);
  return bytes === undefined ? undefined : Math.floor(bytes);
}
