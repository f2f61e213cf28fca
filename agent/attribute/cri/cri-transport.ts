import { Client, credentials, status as GRPC_STATUS, type ServiceError } from '@grpc/grpc-js';
import { loadSync, type ServiceDefinition } from '@grpc/proto-loader';
import { KernwatchError, ERROR_CODES } from '../../errors.js';

/**
 * Unary calls to one CRI service over its unix socket, typed only as far as the wire goes: requests are
 * plain objects, responses `unknown` until the caller's parser narrows them. Shared by the agent's
 * read-only client and the tests' pod runtime, each with its own .proto.
 */

/** A CRI call that failed: `grpcCode` is the gRPC status (5 NOT_FOUND, 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED...). */
export class CriCallError extends KernwatchError {
  readonly method: string;
  readonly grpcCode: number | undefined;

  constructor(method: string, socketPath: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(ERROR_CODES.attribution, `CRI ${method} on ${socketPath} failed: ${detail}`, { cause });
    this.method = method;
    this.grpcCode = isServiceError(cause) ? cause.code : undefined;
  }

  get notFound(): boolean {
    return this.grpcCode === GRPC_STATUS.NOT_FOUND;
  }
}

function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as Partial<ServiceError>).code === 'number';
}

const LOAD_OPTIONS = {
  // camelCase field names in TypeScript; int64 as decimal strings (nanosecond timestamps overflow a
  // double); enums by name; absent scalars as their proto3 defaults so parsers see one shape.
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

const definitions = new Map<string, ServiceDefinition>();

/** The methods of `serviceName` (fully qualified, e.g. runtime.v1.RuntimeService) in `protoPath`, loaded once. */
export function loadServiceDefinition(protoPath: string, serviceName: string): ServiceDefinition {
  const key = `${protoPath}#${serviceName}`;
  const cached = definitions.get(key);
  if (cached !== undefined) return cached;
  let found;
  try {
    found = loadSync(protoPath, LOAD_OPTIONS)[serviceName];
  } catch (err) {
    throw new KernwatchError(ERROR_CODES.attribution, `Cannot load ${protoPath}`, { cause: err });
  }
  // Message and enum definitions carry a `format`; a service is a plain map of methods.
  if (found === undefined || 'format' in found) {
    throw new KernwatchError(ERROR_CODES.attribution, `${protoPath} defines no service ${serviceName}`);
  }
  definitions.set(key, found);
  return found;
}

/** kubelet's limit: a node's ListContainers can outgrow gRPC's 4 MiB default. */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;
const MAX_RECONNECT_BACKOFF_MS = 5000;

export class CriTransport {
  readonly socketPath: string;
  private readonly client: Client;
  private readonly methods: ServiceDefinition;

  constructor(socketPath: string, protoPath: string, serviceName: string) {
    this.socketPath = socketPath;
    this.methods = loadServiceDefinition(protoPath, serviceName);
    // grpc-js connects lazily and reconnects by itself: constructing never fails, a missing socket shows
    // up as UNAVAILABLE on the first call.
    this.client = new Client(`unix://${socketPath}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      // gRPC's reconnect backoff grows to 2 minutes by default: after a runtime restart the socket
      // would stay unused that long. A local socket is cheap to retry.
      'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS,
    });
  }

  call(method: string, request: object, timeoutMs: number): Promise<unknown> {
    const definition = this.methods[method];
    if (definition === undefined) {
      return Promise.reject(
        new KernwatchError(ERROR_CODES.attribution, `CRI method ${method} is not in the loaded proto`),
      );
    }
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<object, unknown>(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          if (err) reject(new CriCallError(method, this.socketPath, err));
          else resolve(response);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
