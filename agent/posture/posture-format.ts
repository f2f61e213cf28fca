import {
  CHECK_ID,
  CHECK_STATUS,
  type CheckStatus,
  type ContainerPosture,
  type PostureReport,
} from './posture-types.js';
import { alignColumns } from '../text-columns.js';

/** The table's check columns, in contract order, headed by the check id in upper case. */
const CHECK_COLUMNS = Object.values(CHECK_ID);

const STATUS_CELL: Readonly<Record<CheckStatus, string>> = {
  [CHECK_STATUS.pass]: 'pass',
  [CHECK_STATUS.fail]: 'FAIL',
  [CHECK_STATUS.unknown]: '?',
};

export interface PostureCounts {
  containers: number;
  pass: number;
  fail: number;
  unknown: number;
}

/** How many checks of the report have each status. */
export function postureCounts(report: PostureReport): PostureCounts {
  const counts: PostureCounts = { containers: report.containers.length, pass: 0, fail: 0, unknown: 0 };
  for (const container of report.containers) {
    for (const c of container.checks) counts[c.status]++;
  }
  return counts;
}

/**
 * The findings of a report: every check that failed AND every check whose status is unknown. An unknown is
 * a finding because the policy asks for proof of confinement, and "could not tell" is not proof: counting
 * only fails would let a node where kernwatch can read nothing (no hostPID, no API server, no MAC LSM)
 * exit 0, silence mistaken for compliance. `kernwatch posture` exits 1 when this is above 0.
 */
export function findingsOf(report: PostureReport): number {
  const counts = postureCounts(report);
  return counts.fail + counts.unknown;
}

/**
 * Aligned columns: NAMESPACE/POD (`-` for a container outside any pod), CONTAINER, then one column per
 * check id with `pass`, `FAIL` or `?` (unknown); a missing check shows `-`. Then one summary line. Cells
 * are padded to the widest value of their column; the last column is not padded. Control characters in
 * names become `?`.
 */
export function postureTable(report: PostureReport): string {
  const rows: string[][] = [
    ['NAMESPACE/POD', 'CONTAINER', ...CHECK_COLUMNS.map((id) => id.toUpperCase())],
    ...report.containers.map(tableRow),
  ];
  const lines = alignColumns(rows);
  const c = postureCounts(report);
  const containers = c.containers === 1 ? '1 container' : `${String(c.containers)} containers`;
  const findings = c.fail + c.unknown;
  lines.push(
    `${containers}: ${String(findings)} ${findings === 1 ? 'finding' : 'findings'} ` +
      `(${String(c.fail)} fail, ${String(c.unknown)} unknown), ${String(c.pass)} pass`,
  );
  // What to do about each finding: the table says where, these lines say what and how to fix it.
  for (const container of report.containers) {
    const where = `${podCell(container)} ${container.name}`;
    for (const check of container.checks) {
      if (check.status === CHECK_STATUS.pass) continue;
      lines.push(`${printable(where)} ${check.id} ${check.status}: ${printable(check.detail)}`);
      lines.push(`    fix: ${printable(check.fix)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `namespace/pod`, or `-` for a container outside any pod. */
function podCell(container: ContainerPosture): string {
  return container.pod === undefined ? '-' : `${container.pod.namespace}/${container.pod.name}`;
}

function tableRow(container: ContainerPosture): string[] {
  return [
    printable(podCell(container)),
    printable(container.name),
    ...CHECK_COLUMNS.map((id) => {
      const status = container.checks.find((c) => c.id === id)?.status;
      return status === undefined ? '-' : STATUS_CELL[status];
    }),
  ];
}

/**
 * `kernwatch posture --json`: the contract shape, keys in contract order (node, containers; id, name, pid,
 * pod {name, namespace}, checks [{id, section, status, detail, fix}]), `pid` left out when unknown and
 * `pod` for a container outside any pod. Indented by two spaces, ending with a newline.
 */
export function postureJson(report: PostureReport): string {
  const shaped = {
    node: report.node,
    containers: report.containers.map((c) => ({
      id: c.id,
      name: c.name,
      ...(c.pid === undefined ? {} : { pid: c.pid }),
      ...(c.pod === undefined ? {} : { pod: { name: c.pod.name, namespace: c.pod.namespace } }),
      checks: c.checks.map((k) => ({
        id: k.id,
        section: k.section,
        status: k.status,
        detail: k.detail,
        fix: k.fix,
      })),
    })),
  };
  return `${JSON.stringify(shaped, null, 2)}\n`;
}

/** Names from the runtime must not drive the terminal. */
function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]/g, '?');
}
