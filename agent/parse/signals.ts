/**
 * Signal numbers as printed by ausearch -i / ENRICHED (`sig=SIGSYS`). These are the generic Linux
 * numbers (x86, arm, aarch64, riscv, s390, ppc); the kernel writes numbers, so this is only for
 * interpreted input.
 */
const SIGNAL_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['SIGHUP', 1],
  ['SIGINT', 2],
  ['SIGQUIT', 3],
  ['SIGILL', 4],
  ['SIGTRAP', 5],
  ['SIGABRT', 6],
  ['SIGBUS', 7],
  ['SIGFPE', 8],
  ['SIGKILL', 9],
  ['SIGUSR1', 10],
  ['SIGSEGV', 11],
  ['SIGUSR2', 12],
  ['SIGPIPE', 13],
  ['SIGALRM', 14],
  ['SIGTERM', 15],
  ['SIGSTKFLT', 16],
  ['SIGCHLD', 17],
  ['SIGCONT', 18],
  ['SIGSTOP', 19],
  ['SIGTSTP', 20],
  ['SIGTTIN', 21],
  ['SIGTTOU', 22],
  ['SIGURG', 23],
  ['SIGXCPU', 24],
  ['SIGXFSZ', 25],
  ['SIGVTALRM', 26],
  ['SIGPROF', 27],
  ['SIGWINCH', 28],
  ['SIGIO', 29],
  ['SIGPWR', 30],
  ['SIGSYS', 31],
]);

export function signalNumber(name: string): number | undefined {
  return SIGNAL_NUMBERS.get(name);
}
