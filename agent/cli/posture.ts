import { CriClient } from '../attribute/cri/cri-client.js';
import { findCriSocket } from '../attribute/cri/cri-sockets.js';
import { loadKubeConfig } from '../attribute/pods/kube-config.js';
import { loadConfig } from '../config/config-loader.js';
import type { NatsSinkConfig } from '../config/config-schema.js';
import { ERROR_CODES, KernwatchError } from '../errors.js';
import { postureEventOf } from '../posture/posture-event.js';
import { findingsOf, postureJson, postureTable } from '../posture/posture-format.js';
import { publishPostureEvents } from '../posture/posture-publish.js';
import { scanPosture } from '../posture/posture-scan.js';
import { manifestObjects } from '../posture/manifest-workloads.js';
import { manifestPosture } from '../posture/manifest-posture.js';
import { readFile } from 'node:fs/promises';
import { createLogger } from '../telemetry/logger.js';
import { resolveNodeName } from './node-name.js';
import type { PostureArgs } from './posture-args.js';

/** `kernwatch posture`: one scan, printed; exit 1 when any check is not a pass (fail or unknown). */
export async function runPosture(args: PostureArgs, out: NodeJS.WritableStream): Promise<number> {
  if (args.manifestPath !== undefined) return runManifestPosture(args.manifestPath, args.json, out);
  const config = await loadConfig(args.configPath, args.overrides);
  const node = resolveNodeName(config.node === '' ? undefined : config.node);
  const log = createLogger(config.log.level === 'info' ? 'warn' : config.log.level);
  const socket = config.cri.socket ?? findCriSocket();
  if (socket === undefined) {
    throw new KernwatchError(
      ERROR_CODES.attribution,
      'No CRI socket found: posture lists containers through the runtime (give --cri-socket PATH).',
    );
  }
  const kubeconfigPath = config.kubernetes.kubeconfig;
  const kubeConfig = config.kubernetes.enabled
    ? loadKubeConfig(kubeconfigPath === undefined ? {} : { kubeconfigPath })
    : undefined;
  const cri = new CriClient({ socketPath: socket, callTimeoutMs: config.cri.timeout });
  let report;
  try {
    report = await scanPosture({
      node,
      procRoot: config.procRoot,
      sysRoot: config.sysRoot,
      cri,
      log,
      ...(kubeConfig === undefined ? {} : { kubeConfig }),
    });
  } catch (err) {
    throw new KernwatchError(ERROR_CODES.attribution, `Cannot list containers through ${socket}`, {
      cause: err,
    });
  } finally {
    cri.close();
  }
  if (kubeConfig === undefined) {
    log.warn('No API server: the spec and NetworkPolicy parts of the checks are unknown.');
  }
  out.write(args.json ? postureJson(report) : postureTable(report));
  const natsSinks = config.sinks.filter((s): s is NatsSinkConfig => s.type === 'nats');
  if (natsSinks.length > 0) {
    // One scan, one set of events: every sink gets the same ids.
    const time = new Date().toISOString();
    const events = report.containers.map((c) =>
      postureEventOf(
        node,
        c,
        c.checks.map((k) => k.id),
        time,
      ),
    );
    for (const sink of natsSinks) await publishPostureEvents(sink, node, events, log);
  }
  return findingsOf(report) > 0 ? 1 : 0;
}

async function runManifestPosture(path: string, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KernwatchError(ERROR_CODES.config, `Cannot read the manifest ${path}`, { cause: err });
  }
  const objects = manifestObjects(text, path);
  if (objects.workloads.length === 0) {
    // Nothing checked is not compliance: a misspelt kind or a values file must not pass a CI gate.
    const seen = objects.skippedKinds.length === 0 ? 'no objects' : `only ${objects.skippedKinds.join(', ')}`;
    throw new KernwatchError(ERROR_CODES.config, `No workload with a pod template in ${path} (${seen}).`);
  }
  const report = manifestPosture(objects, path);
  out.write(json ? postureJson(report) : postureTable(report));
  return findingsOf(report) > 0 ? 1 : 0;
}
