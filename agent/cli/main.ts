#!/usr/bin/env node
import { ConfigError, ERROR_CODES, KernwatchError, UsageError } from '../errors.js';
import { formatSummary, parseParseArgs, PARSE_USAGE, runParse } from './parse.js';
import { DOCTOR_USAGE, parseDoctorArgs, runDoctor } from './doctor.js';
import { runPosture } from './posture.js';
import { parsePostureArgs, POSTURE_USAGE } from './posture-args.js';
import { parseQuarantineArgs, QUARANTINE_USAGE, runQuarantine } from './quarantine.js';
import { runAgent } from './run.js';
import { parseRunArgs, RUN_USAGE } from './run-args.js';
import { runWatch } from './watch.js';
import { parseWatchArgs, WATCH_USAGE } from './watch-args.js';

const USAGE = `Usage: kernwatch <command> [options]

Commands:
  run      the agent: read the kernel's denials live, attribute them to pods, deliver events
  parse    read audit records from files or stdin, one event per kernel denial
  watch    follow the live feed of denial events from NATS, one readable line per event
  quarantine  list or release the quarantines kernwatch's responses put in place on this node
  posture  the confinement of every container on this node, checked against the policy
  doctor   can this node report? auditd, audit and seccomp settings, LSMs, runtime, NATS, API access

Run 'kernwatch <command> --help' for a command's options.

${RUN_USAGE}

${PARSE_USAGE}

${WATCH_USAGE}

${QUARANTINE_USAGE}

${POSTURE_USAGE}

${DOCTOR_USAGE}`;

export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;
const RUN_EXIT_GRACE_MS = 2000;

/** Returns `code`, and exits with it after RUN_EXIT_GRACE_MS should a timer or socket keep the process alive. */
function exitAfterGrace(code: number): number {
  setTimeout(() => process.exit(code), RUN_EXIT_GRACE_MS).unref();
  return code;
}

/** The thin CLI: parse arguments, run the command, map known errors to exit codes. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        // Everything was delivered and checkpointed; a request still in flight (an informer list, a CRI
        // call past its deadline) must not keep a stopped agent alive until the kubelet kills it.
        return exitAfterGrace(await runAgent(parseRunArgs(rest)));
      case 'parse': {
        const options = parseParseArgs(rest);
        process.stdout.on('error', (err: NodeJS.ErrnoException) => {
          // `kernwatch parse ... | head` closes the pipe early; that is not a failure. (`run` leaves stdout
          // errors to its sink, which keeps the checkpoint where it is.)
          if (err.code === 'EPIPE') process.exit(EXIT.ok);
          throw err;
        });
        const result = await runParse(options, { stdin: process.stdin, stdout: process.stdout });
        process.stderr.write(formatSummary(result));
        return result.unreadable.length > 0 ? EXIT.findings : EXIT.ok;
      }
      case 'watch':
        // The connection is closed; a client timer still pending must not hold the exit up.
        return exitAfterGrace(await runWatch(parseWatchArgs(rest)));
      case 'quarantine':
        return exitAfterGrace(await runQuarantine(parseQuarantineArgs(rest), process.stdout, process.stderr));
      case 'doctor':
        return exitAfterGrace(await runDoctor(parseDoctorArgs(rest), process.stdout, process.stderr));
      case 'posture':
        return exitAfterGrace(await runPosture(parsePostureArgs(rest), process.stdout));
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return EXIT.ok;
      case undefined:
        throw new UsageError('No command given.');
      default:
        throw new UsageError(`Unknown command '${command}'.`);
    }
  } catch (err) {
    if (
      err instanceof UsageError &&
      [PARSE_USAGE, RUN_USAGE, WATCH_USAGE, QUARANTINE_USAGE, POSTURE_USAGE, DOCTOR_USAGE].includes(
        err.message,
      )
    ) {
      process.stdout.write(`${err.message}\n`);
      return EXIT.ok;
    }
    if (err instanceof ConfigError || (err instanceof KernwatchError && err.code === ERROR_CODES.config)) {
      process.stderr.write(`kernwatch: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (err instanceof KernwatchError) {
      process.stderr.write(`kernwatch: ${err.message}\n`);
      return EXIT.findings;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `kernwatch: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 70;
  },
);
