import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { KernwatchError, ERROR_CODES } from '../../errors.js';

/** Where a pod's service account token is mounted (client-node's loadFromCluster reads it from there). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSource {
  /** `--kubeconfig FILE`: wins over the in-cluster config. */
  kubeconfigPath?: string;
  env?: NodeJS.ProcessEnv;
  /** For tests: whether the service account token is mounted. */
  tokenMounted?: () => boolean;
}

/**
 * The API server to watch pods on: the given kubeconfig file, else the in-cluster config of the
 * DaemonSet's service account, else undefined (no API server: attribution then stops at CRI metadata).
 * Deliberately not client-node's loadFromDefault: that falls back to http://localhost:8080, which would
 * make a plain host retry a server that does not exist forever.
 */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig | undefined {
  const env = source.env ?? process.env;
  const kubeConfig = new KubeConfig();
  if (source.kubeconfigPath !== undefined) {
    try {
      kubeConfig.loadFromFile(source.kubeconfigPath);
    } catch (err) {
      throw new KernwatchError(ERROR_CODES.config, `Cannot load kubeconfig ${source.kubeconfigPath}`, {
        cause: err,
      });
    }
    if (kubeConfig.getCurrentCluster() === null) {
      throw new KernwatchError(
        ERROR_CODES.config,
        `kubeconfig ${source.kubeconfigPath} names no current cluster`,
      );
    }
    return kubeConfig;
  }
  const tokenMounted = source.tokenMounted ?? (() => existsSync(SERVICE_ACCOUNT_TOKEN));
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host === undefined || host === '' || port === undefined || port === '' || !tokenMounted())
    return undefined;
  kubeConfig.loadFromCluster();
  return kubeConfig;
}
