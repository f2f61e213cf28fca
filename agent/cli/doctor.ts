import { loadConfig } from '../config/config-loader.js';
import { runDoctorChecks, type DoctorOptions } from '../doctor/doctor.js';
import { formatDoctorJson, formatDoctorTable } from '../doctor/doctor-report.js';
import { CHECK_STATUS } from '../doctor/doctor-types.js';
import { ConfigError } from '../errors.js';
import type { DoctorArgs } from './doctor-args.js';
import { resolveNodeName } from './node-name.js';

export { DOCTOR_USAGE, parseDoctorArgs, type DoctorArgs } from './doctor-args.js';

/** Extra options for tests: a fixture /sys, recorded command outputs, the CRI sockets looked for. */
export type DoctorTestOptions = Omit<DoctorOptions, 'config' | 'node' | 'natsUrl'>;

/**
 * `kernwatch doctor`: runs every check and prints the table (or --json) to `out`. Returns the exit code:
 * 1 when a check failed, 0 otherwise (warnings do not fail), 2 when the config cannot be used (the
 * message goes to `err`).
 */
export async function runDoctor(
  args: DoctorArgs,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  testOptions: DoctorTestOptions = {},
): Promise<number> {
  let config;
  try {
    config = await loadConfig(args.configPath, args.overrides);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err.write(`kernwatch: ${error.message}\n`);
    return 2;
  }
  const node = resolveNodeName(config.node === '' ? undefined : config.node);
  const report = await runDoctorChecks({
    ...testOptions,
    config,
    node,
    ...(args.natsUrl === undefined ? {} : { natsUrl: args.natsUrl }),
  });
  out.write(args.json ? formatDoctorJson(report) : formatDoctorTable(report));
  return report.checks.some((c) => c.status === CHECK_STATUS.fail) ? 1 : 0;
}
