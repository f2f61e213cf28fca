/**
 * Every failure kernwatch reports carries a bounded `code` (safe as a metric label) and, where it wraps
 * another failure, the original as `cause`.
 */
export const ERROR_CODES = {
  usage: 'usage',
  config: 'config',
  inputUnreadable: 'input_unreadable',
  outputFailed: 'output_failed',
  state: 'state',
  source: 'source',
  permission: 'permission',
  attribution: 'attribution',
  sink: 'sink',
  response: 'response',
  /** A Kubernetes API call that did not answer in time. */
  apiTimeout: 'api_timeout',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class KernwatchError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad command line: the CLI exits 2. */
export class UsageError extends KernwatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.usage, message, options);
  }
}

/** A configuration file or flag that cannot be used: the CLI exits 2 with this message. */
export class ConfigError extends KernwatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.config, message, options);
  }
}

/** An input file or stream could not be opened or read. */
export class InputUnreadableError extends KernwatchError {
  readonly path: string;

  constructor(path: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(ERROR_CODES.inputUnreadable, `Cannot read ${path}${reason}`, options);
    this.path = path;
  }
}
