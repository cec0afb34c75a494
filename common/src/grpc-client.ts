// Promise form of a ts-proto grpc-js client's unary call, with a deadline, rejecting with the
// typed error the server sent (see errors.ts).
import { Metadata, type CallOptions, type ServiceError } from '@grpc/grpc-js';
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
