import { networkPolicyCoverage } from './network-policy-coverage.js';
import type { ManifestObjects } from './manifest-workloads.js';
import type { ContainerPosture, PostureReport } from './posture-types.js';
import { specChecks } from './spec-checks.js';
import { specIntentOf } from './spec-intent.js';

/**
 * `kernwatch posture --manifest`: the spec checks for every container (init containers too) of every
 * workload in a manifest, with NetworkPolicy coverage from the policies of the same manifest and namespace
 * (a cluster may hold more; the live check reads them). In this report `node` is `manifest:<path>`, a
 * container's `id` is `<kind>/<namespace>/<name>/<container>` and its `pod` is `<kind>/<name>` in lower
 * case: there is no runtime id or pod yet.
 */
export function manifestPosture(objects: ManifestObjects, source: string): PostureReport {
  const containers: ContainerPosture[] = [];
  for (const w of objects.workloads) {
    const labels = w.pod.metadata?.labels ?? {};
    const coverage = networkPolicyCoverage(labels, objects.policies.get(w.namespace) ?? []);
    const spec = w.pod.spec;
    const names = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c) => c.name);
    for (const name of names) {
      const intent = specIntentOf(w.pod, name);
      if (intent === undefined) continue;
      containers.push({
        id: `${w.kind}/${w.namespace}/${w.name}/${name}`,
        name,
        pod: { namespace: w.namespace, name: `${w.kind.toLowerCase()}/${w.name}` },
        checks: specChecks(intent, coverage),
      });
    }
  }
  return { node: `manifest:${source}`, containers };
}
