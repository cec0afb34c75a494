// Starts a gRPC server with the given services plus grpc.health.v1, and adapts async
// handlers to grpc-js callbacks so thrown typed errors reach clients as proper statuses. With
// credentials it speaks mutual TLS only: clients must show a certificate from the cluster CA.
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type handleUnaryCall,
} from '@grpc/grpc-js';
import { health } from '@hypernova/proto';
import { envCredentials, type Credentials } from './credentials.js';
import { HypernovaError, toGrpcStatus } from './errors.js';
import { HealthService, ServingStatus } from './health.js';
import type { Logger } from './logger.js';

export interface GrpcServiceBinding {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface GrpcServerHandle {
  readonly server: Server;
  readonly health: HealthService;
  readonly port: number;
  /** Marks the server NOT_SERVING, lets calls in flight finish for up to graceMs, then stops it. */
  close(graceMs?: number): Promise<void>;
}

/** The fully qualified service name (e.g. hypernova.scheduler.v1.Scheduler) from a method path. */
export function serviceName(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new Error('service definition without methods');
  return first.path.split('/')[1] ?? '';
}

export async function startGrpcServer(opts: {
  services: GrpcServiceBinding[];
  /** host:port to bind; port 0 picks a free port. */
  address: string;
  logger?: Logger;
  /** Default: envCredentials(); null: plaintext, for a cluster without authentication. */
  credentials?: Credentials | null;
}): Promise<GrpcServerHandle> {
  const server = new Server();
  const healthService = new HealthService();
  server.addService(health.HealthService, healthService.implementation);
  for (const s of opts.services) server.addService(s.definition, s.implementation);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.address, grpcServerCredentials(opts.credentials), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  healthService.setStatus('', ServingStatus.SERVING);
  for (const s of opts.services) healthService.setStatus(serviceName(s.definition), ServingStatus.SERVING);
  opts.logger?.info({ port, services: opts.services.map((s) => serviceName(s.definition)) }, 'gRPC server listening');

  return {
    server,
    health: healthService,
    port,
    async close(graceMs = 5000) {
      healthService.setAllNotServing();
      healthService.endWatches();
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      clearTimeout(timer);
    },
  };
}

export function grpcServerCredentials(credentials = envCredentials()): ServerCredentials {
  if (!credentials) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    credentials.ca,
    [{ cert_chain: credentials.cert, private_key: credentials.key }],
    true,
  );
}

/**
 * Adapts `fn(request) => Promise<response>` to a grpc-js unary handler. Typed errors become
 * their gRPC status; anything else is logged and answered INTERNAL.
 */
export function unary<Req, Res>(fn: (request: Req) => Promise<Res>, logger?: Logger): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (!(err instanceof HypernovaError)) logger?.error({ err }, 'gRPC handler failed');
        callback(toGrpcStatus(err));
      },
    );
  };
}
