// gRPC clients of the control plane: the scheduler (one target, possibly several replicas behind
// round robin) and one client per compute node address, created on first use and reused, since
// a channel per call would reconnect every time. Both speak mutual TLS with the gateway's
// certificate and accept only a server whose certificate names its role.
import { callUnary, grpcClientCredentials, type Credentials } from '@hypernova/common';
import { compute, scheduler } from '@hypernova/proto';

const ROUND_ROBIN = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

export class SchedulerRpc {
  private readonly client: scheduler.SchedulerClient;

  constructor(
    target: string,
    credentials: Credentials | null,
    private readonly timeoutMs = 30_000,
  ) {
    this.client = new scheduler.SchedulerClient(target, grpcClientCredentials('scheduler', credentials), {
      'grpc.service_config': ROUND_ROBIN,
    });
  }

  /** Claims for `consumerUuid` (default: the spec's instance). */
  selectDestinations(spec: scheduler.RequestSpec, consumerUuid = ''): Promise<scheduler.Selection[]> {
    return callUnary(this.client.selectDestinations.bind(this.client), { spec, consumerUuid }, this.timeoutMs).then(
      (r) => r.selections,
    );
  }

  claimOnHost(spec: scheduler.RequestSpec, host: string, consumerUuid = ''): Promise<scheduler.Selection> {
    return callUnary(this.client.claimOnHost.bind(this.client), { spec, host, consumerUuid }, this.timeoutMs);
  }

  moveAllocation(fromConsumer: string, toConsumer: string): Promise<scheduler.MoveAllocationResponse> {
    return callUnary(this.client.moveAllocation.bind(this.client), { fromConsumer, toConsumer }, this.timeoutMs);
  }

  releaseAllocation(consumerUuid: string): Promise<scheduler.ReleaseAllocationResponse> {
    return callUnary(this.client.releaseAllocation.bind(this.client), { consumerUuid }, this.timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}

/** The Compute calls the gateway makes, with deadlines. */
export class ComputeRpc {
  constructor(
    private readonly client: compute.ComputeClient,
    private readonly timeoutMs: number,
    private readonly spawnTimeoutMs: number,
  ) {}

  private call<Req, Res>(
    method: Parameters<typeof callUnary<Req, Res>>[0],
    req: Req,
    timeoutMs = this.timeoutMs,
  ): Promise<Res> {
    return callUnary(method.bind(this.client), req, timeoutMs);
  }

  spawn(req: compute.SpawnRequest) {
    return this.call(this.client.spawn, req, this.spawnTimeoutMs);
  }
  destroy(instanceUuid: string) {
    return this.call(this.client.destroy, { instanceUuid, keepDisks: false });
  }
  reboot(instanceUuid: string, type: compute.RebootType) {
    return this.call(this.client.reboot, { instanceUuid, type });
  }
  stop(instanceUuid: string) {
    return this.call(this.client.stop, { instanceUuid, cleanShutdownTimeoutS: 0 });
  }
  start(instanceUuid: string) {
    return this.call(this.client.start, { instanceUuid });
  }
  pause(instanceUuid: string) {
    return this.call(this.client.pause, { instanceUuid });
  }
  unpause(instanceUuid: string) {
    return this.call(this.client.unpause, { instanceUuid });
  }
  suspend(instanceUuid: string) {
    return this.call(this.client.suspend, { instanceUuid });
  }
  resume(instanceUuid: string) {
    return this.call(this.client.resume, { instanceUuid });
  }
  instanceInfo(instanceUuid: string) {
    return this.call(this.client.getInstanceInfo, { instanceUuid });
  }
  consoleOutput(instanceUuid: string, lines: number | undefined) {
    return this.call(this.client.getConsoleOutput, { instanceUuid, lines });
  }
  checkCanLiveMigrateDestination(instanceUuid: string) {
    return this.call(this.client.checkCanLiveMigrateDestination, { instanceUuid });
  }
  checkCanLiveMigrateSource(req: compute.SharedStorageCheckRequest) {
    return this.call(this.client.checkCanLiveMigrateSource, req);
  }
  cleanupLiveMigrationCheck(probe: compute.SharedStorageProbe) {
    return this.call(this.client.cleanupLiveMigrationCheck, probe);
  }
  prepareLiveMigration(req: compute.PrepareLiveMigrationRequest) {
    return this.call(this.client.prepareLiveMigration, req, this.spawnTimeoutMs);
  }
  abortLiveMigration(ref: compute.MigrationRef) {
    return this.call(this.client.abortLiveMigration, ref);
  }
  forceCompleteLiveMigration(ref: compute.MigrationRef) {
    return this.call(this.client.forceCompleteLiveMigration, ref);
  }
  rollbackLiveMigration(ref: compute.MigrationRef) {
    return this.call(this.client.rollbackLiveMigration, ref);
  }

  /**
   * Runs the migration on the source node: `onProgress` sees each report; resolves with the last
   * (the outcome). No deadline: a migration takes as long as the guest's dirtying makes it.
   */
  liveMigrate(
    req: compute.LiveMigrateRequest,
    onProgress: (p: compute.MigrationProgress) => void,
  ): Promise<compute.MigrationProgress> {
    return new Promise((resolve, reject) => {
      let last: compute.MigrationProgress | undefined;
      const stream = this.client.liveMigrate(req);
      stream.on('data', (p: compute.MigrationProgress) => {
        last = p;
        onProgress(p);
      });
      stream.on('error', reject);
      stream.on('end', () =>
        last ? resolve(last) : reject(new Error('the source node ended the migration without an outcome')),
      );
    });
  }
}

export class ComputeClients {
  private readonly byAddress = new Map<string, ComputeRpc>();
  private readonly raw: compute.ComputeClient[] = [];

  constructor(private readonly opts: { timeoutMs: number; spawnTimeoutMs: number; credentials: Credentials | null }) {}

  /** The client of the node serving at host:port. */
  at(address: string): ComputeRpc {
    let rpc = this.byAddress.get(address);
    if (!rpc) {
      const client = new compute.ComputeClient(address, grpcClientCredentials('compute', this.opts.credentials));
      this.raw.push(client);
      rpc = new ComputeRpc(client, this.opts.timeoutMs, this.opts.spawnTimeoutMs);
      this.byAddress.set(address, rpc);
    }
    return rpc;
  }

  close(): void {
    for (const c of this.raw) c.close();
    this.byAddress.clear();
  }
}
