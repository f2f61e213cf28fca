import { ConfigError } from '../../errors.js';

const FALCO_PREFIX = 'falco+';
const EXPECTED = 'expected falco+http://HOST:PORT/PATH or falco+https://HOST:PORT/PATH';

/**
 * The http(s) URL to POST alerts to, from the sink's URL as the user wrote it: `falco+http://HOST:PORT/PATH`
 * or `falco+https://...`. A plain `http(s)://` URL is accepted too, because `--sink` specs reach the config
 * with the `falco+` already removed (config-loader) and a config file may name the URL either way.
 * Everything wrong is reported once, at start-up, instead of as a failing request per alert.
 */
export function falcoHttpUrl(spec: string): string {
  const raw = spec.toLowerCase().startsWith(FALCO_PREFIX) ? spec.slice(FALCO_PREFIX.length) : spec;
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    throw new ConfigError(`Invalid falco-http sink URL '${spec}' (${EXPECTED}).`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`Unsupported scheme in falco-http sink URL '${spec}' (${EXPECTED}).`);
  }
  if (url.hostname === '') {
    throw new ConfigError(`The falco-http sink URL '${spec}' names no host (${EXPECTED}).`);
  }
  if (url.port === '0') {
    throw new ConfigError(`The falco-http sink URL '${spec}' names port 0 (${EXPECTED}).`);
  }
  // fetch refuses URLs with credentials, and the URL is logged: a secret must not sit in it.
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      `The falco-http sink URL must not carry credentials (user:password@); falcosidekick's input takes none.`,
    );
  }
  // A fragment is never sent: accepting one would hide a typo in the path.
  if (url.hash !== '') {
    throw new ConfigError(`The falco-http sink URL '${spec}' has a #fragment, which is never sent.`);
  }
  return url.href;
}
