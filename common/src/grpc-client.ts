// Promise form of a ts-proto grpc-js client's unary call, with a deadline, rejecting with the
// typed error the server sent (see errors.ts); and the credentials clients call with.
import { credentials, Metadata, type CallOptions, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { envCredentials } from './credentials.js';
import { fromGrpcError } from './errors.js';

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/** `await callUnary(client.selectDestinations.bind(client), request, 5000)` */
export function callUnary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, timeoutMs = 30_000): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method(request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
      err ? reject(fromGrpcError(err)) : resolve(res),
    );
  });
}

/**
 * Channel credentials for calling the cluster's gRPC servers: mutual TLS with this identity's
 * certificate. The server must show a cluster certificate naming `role` (DNS:scheduler,
 * DNS:compute), whatever address reaches it; without a role any cluster certificate will do
 * (health checks). Plaintext when there are no credentials.
 */
export function grpcClientCredentials(role?: string, creds = envCredentials()): ChannelCredentials {
  if (!creds) return credentials.createInsecure();
  return credentials.createSsl(creds.ca, creds.key, creds.cert, {
    checkServerIdentity: (_host, cert) =>
      !role || (cert.subjectaltname ?? '').split(', ').includes(`DNS:${role}`)
        ? undefined
        : new Error(`the gRPC server's certificate (${cert.subject?.CN ?? '?'}) is not a ${role}'s`),
  });
}
