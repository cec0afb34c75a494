// The standard grpc.health.v1 service: load balancers, Kubernetes probes and grpc_health_probe
// ask it whether a server (service '') or one of its services is serving.
import { status, type ServerWritableStream, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { health } from '@hypernova/proto';

export const ServingStatus = health.HealthCheckResponse_ServingStatus;
export type ServingStatus = health.HealthCheckResponse_ServingStatus;

type WatchCall = ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>;

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<WatchCall>>();

  /** Sets a service's status ('' is the whole server) and tells its watchers. */
  setStatus(service: string, s: ServingStatus): void {
    this.statuses.set(service, s);
    for (const call of this.watchers.get(service) ?? []) call.write({ status: s });
  }

  /** Marks every service NOT_SERVING, as a server about to stop should. */
  setAllNotServing(): void {
    for (const service of this.statuses.keys()) this.setStatus(service, ServingStatus.NOT_SERVING);
  }

  /** Ends the watch streams so the server can shut down without waiting for them. */
  endWatches(): void {
    for (const set of this.watchers.values()) for (const call of set) call.end();
    this.watchers.clear();
  }

  /** The handlers to register with server.addService(health.HealthService, ...). */
  readonly implementation: health.HealthServer = {
    check: (call, callback) => this.check(call, callback),
    list: (call, callback) => this.list(call, callback),
    watch: (call) => this.watch(call),
  };

  private check(
    call: ServerUnaryCall<health.HealthCheckRequest, health.HealthCheckResponse>,
    callback: sendUnaryData<health.HealthCheckResponse>,
  ): void {
    const s = this.statuses.get(call.request.service);
    if (s === undefined) callback({ code: status.NOT_FOUND, details: `unknown service ${call.request.service}` });
    else callback(null, { status: s });
  }

  private list(
    _call: ServerUnaryCall<health.HealthListRequest, health.HealthListResponse>,
    callback: sendUnaryData<health.HealthListResponse>,
  ): void {
    const statuses: Record<string, health.HealthCheckResponse> = {};
    for (const [service, s] of this.statuses) statuses[service] = { status: s };
    callback(null, { statuses });
  }

  private watch(call: WatchCall): void {
    const service = call.request.service;
    let set = this.watchers.get(service);
    if (!set) this.watchers.set(service, (set = new Set()));
    set.add(call);
    call.write({ status: this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
    call.on('cancelled', () => set.delete(call));
  }
}
