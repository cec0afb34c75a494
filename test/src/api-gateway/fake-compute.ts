// A stand-in compute node for API tests until the real agent exists: a real gRPC server on
// loopback implementing hypernova.compute.v1.Compute, registered in Redis with a heartbeat like
// an agent, keeping its "VMs" as power states in memory. Tests can make Spawn fail.
import { randomUUID } from 'node:crypto';
import { status as grpcStatus, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import {
  HypernovaError,
  NotFoundError,
  loadCredentials,
  startGrpcServer,
  unary,
  type GrpcServerHandle,
  redisKeys,
  type Redis,
} from '@hypernova/common';
import {
  startHostHeartbeat,
  type HeartbeatHandle,
  type HostSpec,
  MIGRATION_IN_PROGRESS,
  updateMigration,
} from '@hypernova/cluster-state';
import { compute } from '@hypernova/proto';
import { testCredentials } from '../harness/index.js';

const { PowerState } = compute;

/** The probe files on each storage (see FakeComputeNode.storage). */
const probes = new Map<string, Set<string>>();
function probesOf(storage: string): Set<string> {
  let set = probes.get(storage);
  if (!set) probes.set(storage, (set = new Set()));
  return set;
}

export interface FakeNodeOptions {
  vcpus?: number;
  ramMb?: number;
  diskGb?: number;
  availabilityZone?: string;
  architecture?: string;
}

export class FakeComputeNode {
  readonly instances = new Map<string, compute.InstanceInfo>();
  /** Every call received, as "<Method> <instance uuid>". */
  readonly calls: string[] = [];
  /** When set, Spawn fails with this message. */
  failSpawn: string | undefined;
  /** How long Spawn takes (a slow image download). */
  spawnDelayMs = 0;
  /** How long an outgoing live migration runs before it switches over. */
  migrateMs = 0;
  /** When set, an outgoing live migration fails with this message. */
  failMigration: string | undefined;
  /** Nodes with the same storage see each other's shared storage probes (an instances path they share); default: the node's own. */
  storage: string;
  /** Every PrepareLiveMigration request received. */
  readonly prepared: compute.PrepareLiveMigrationRequest[] = [];
  /** The LiveMigrate requests this node got, as the source. */
  readonly migrated: compute.LiveMigrateRequest[] = [];
  /** Resolves a running outgoing migration early (force_complete) or as cancelled (abort). */
  private readonly migrating = new Map<string, (how: 'forced' | 'cancelled') => void>();
  /** Outgoing migrations under way, by instance. */
  private readonly outgoing = new Map<string, Promise<void>>();

  private constructor(
    readonly redis: Redis,
    readonly name: string,
    private readonly grpc: GrpcServerHandle,
    private readonly heartbeat: HeartbeatHandle,
  ) {
    this.storage = name;
  }

  get address(): string {
    return `127.0.0.1:${this.grpc.port}`;
  }

  static async start(redis: Redis, name: string, opts: FakeNodeOptions = {}): Promise<FakeComputeNode> {
    // The server must exist before registration (its port goes into the host record), and the
    // handlers need the node: bind them through a holder filled right after.
    const holder: { node?: FakeComputeNode } = {};
    const grpc = await startGrpcServer({
      address: '127.0.0.1:0',
      // A compute node's certificate: the gateway accepts no other from a node.
      credentials: loadCredentials(testCredentials().dir('compute')),
      services: [
        { definition: compute.ComputeService, implementation: implementation(() => holder.node as FakeComputeNode) },
      ],
    });
    const spec: HostSpec = {
      name,
      address: `127.0.0.1:${grpc.port}`,
      vcpus: opts.vcpus ?? 4,
      ramMb: opts.ramMb ?? 1024,
      diskGb: opts.diskGb ?? 20,
      cpuAllocationRatio: 1,
      ramAllocationRatio: 1,
      diskAllocationRatio: 1,
      hypervisorType: 'hypernova',
      hypervisorVersion: '0.1.0',
      architecture: opts.architecture ?? 'riscv32',
      availabilityZone: opts.availabilityZone ?? 'nova',
      enabled: true,
    };
    const heartbeat = await startHostHeartbeat(redis, spec, { intervalMs: 500, ttlS: 3 });
    holder.node = new FakeComputeNode(redis, name, grpc, heartbeat);
    return holder.node;
  }

  /** Stops serving; with markDown the host shows as down at once. */
  async stop(opts: { markDown?: boolean } = { markDown: true }): Promise<void> {
    await this.heartbeat.stop(opts);
    await this.grpc.close(100);
  }

  info(uuid: string): compute.InstanceInfo {
    const i = this.instances.get(uuid);
    if (!i) throw new NotFoundError(`instance ${uuid} not on ${this.name}`);
    return i;
  }

  /**
   * The source side of a live migration as the real node behaves: the instance's task is
   * migrating meanwhile; progress reports, then at the switch-over the destination's commit
   * (outcome + owner in Redis) and the instance leaves.
   */
  migrate(req: compute.LiveMigrateRequest, report: (p: compute.MigrationProgress) => void): Promise<void> {
    const info = this.info(req.instanceUuid);
    this.migrated.push(req);
    info.task = 'migrating';
    const run = this.runMigration(req, report).finally(() => {
      info.task = '';
      this.outgoing.delete(req.instanceUuid);
    });
    this.outgoing.set(
      req.instanceUuid,
      run.catch(() => undefined),
    );
    return run;
  }

  /** Destroy waits for an outgoing migration to end, as the real agent serializes an instance's operations. */
  async destroy(uuid: string): Promise<boolean> {
    await this.outgoing.get(uuid);
    return this.instances.delete(uuid);
  }

  private async runMigration(
    req: compute.LiveMigrateRequest,
    report: (p: compute.MigrationProgress) => void,
  ): Promise<void> {
    const progress = (status: string, error = '') =>
      compute.MigrationProgress.fromPartial({
        migrationId: req.migrationId,
        status,
        memoryTotalBytes: 64 << 20,
        memoryRemainingBytes: 1 << 20,
        round: 2,
        error,
      });
    report(progress('active'));
    // As a real source node does: the progress goes into the migration's record.
    await updateMigration(
      this.redis,
      req.migrationId,
      { memoryTotalBytes: 64 << 20, memoryRemainingBytes: 1 << 20, round: 2 },
      MIGRATION_IN_PROGRESS,
    );
    const how = await new Promise<'timer' | 'forced' | 'cancelled'>((resolve) => {
      const timer = setTimeout(() => resolve('timer'), this.migrateMs);
      this.migrating.set(req.instanceUuid, (h) => (clearTimeout(timer), resolve(h)));
    });
    this.migrating.delete(req.instanceUuid);
    if (how === 'cancelled') return report(progress('cancelled', 'cancelled by request'));
    if (this.failMigration) return report(progress('failed', this.failMigration));
    const won = await this.redis.set(redisKeys.migrationOutcome(req.migrationId), 'committed', 'NX');
    if (won === null) return report(progress('failed', 'the migration was settled as aborted'));
    await this.redis.set(redisKeys.instanceOwner(req.instanceUuid), req.destHost);
    this.instances.delete(req.instanceUuid);
    report(progress('completed'));
  }

  endMigration(uuid: string, how: 'forced' | 'cancelled'): compute.MigrationProgress {
    const end = this.migrating.get(uuid);
    if (!end) throw new HypernovaError('CONFLICT', `no migration of ${uuid} is running on ${this.name}`);
    end(how);
    return compute.MigrationProgress.fromPartial({ status: how === 'forced' ? 'active' : 'cancelling' });
  }

  setPower(uuid: string, power: compute.PowerState): compute.InstanceInfo {
    const i = this.info(uuid);
    i.powerState = power;
    return i;
  }
}

function implementation(node: () => FakeComputeNode): compute.ComputeServer {
  const call = <Req extends { instanceUuid: string }, Res>(
    method: string,
    fn: (n: FakeComputeNode, req: Req) => Res | Promise<Res>,
  ) =>
    unary<Req, Res>(async (req) => {
      const n = node();
      n.calls.push(`${method} ${req.instanceUuid}`);
      return fn(n, req);
    });
  return {
    spawn: call('Spawn', async (n, req: compute.SpawnRequest) => {
      if (n.spawnDelayMs > 0) await new Promise((r) => setTimeout(r, n.spawnDelayMs));
      if (n.failSpawn) throw new HypernovaError('INTERNAL', n.failSpawn);
      const info = compute.InstanceInfo.fromPartial({
        instanceUuid: req.instanceUuid,
        host: n.name,
        powerState: PowerState.POWER_STATE_RUNNING,
        vcpus: req.flavor?.vcpus ?? 0,
        ramMb: req.flavor?.ramMb ?? 0,
        diskGb: req.flavor?.diskGb ?? 0,
        launchedAtMs: Date.now(),
        imageId: req.image?.id ?? '',
      });
      n.instances.set(req.instanceUuid, info);
      return info;
    }),
    destroy: call('Destroy', async (n, req: compute.DestroyRequest) => ({
      existed: await n.destroy(req.instanceUuid),
    })),
    reboot: call('Reboot', (n, req: compute.RebootRequest) =>
      n.setPower(req.instanceUuid, PowerState.POWER_STATE_RUNNING),
    ),
    stop: call('Stop', (n, req: compute.StopRequest) => n.setPower(req.instanceUuid, PowerState.POWER_STATE_SHUTDOWN)),
    start: call('Start', (n, req: compute.InstanceRef) => n.setPower(req.instanceUuid, PowerState.POWER_STATE_RUNNING)),
    pause: call('Pause', (n, req: compute.InstanceRef) => n.setPower(req.instanceUuid, PowerState.POWER_STATE_PAUSED)),
    unpause: call('Unpause', (n, req: compute.InstanceRef) =>
      n.setPower(req.instanceUuid, PowerState.POWER_STATE_RUNNING),
    ),
    suspend: call('Suspend', (n, req: compute.InstanceRef) =>
      n.setPower(req.instanceUuid, PowerState.POWER_STATE_SUSPENDED),
    ),
    resume: call('Resume', (n, req: compute.InstanceRef) =>
      n.setPower(req.instanceUuid, PowerState.POWER_STATE_RUNNING),
    ),
    getConsoleOutput: call('GetConsoleOutput', (n, req: compute.ConsoleOutputRequest) => {
      n.info(req.instanceUuid);
      const lines = ['OpenSBI-less boot', 'Linux version 6.1 (riscv32)', 'init: started', 'BOOT-OK', ''];
      const text = lines.join('\n');
      return {
        output:
          req.lines === undefined
            ? text
            : text
                .split('\n')
                .slice(-req.lines - 1)
                .join('\n'),
      };
    }),
    getInstanceInfo: call('GetInstanceInfo', (n, req: compute.InstanceRef) => n.info(req.instanceUuid)),
    listInstances: unary(async () => ({ instances: [...node().instances.values()] })),
    streamConsole: (stream: ServerDuplexStream<compute.ConsoleInput, compute.ConsoleChunk>) => {
      stream.emit('error', { code: grpcStatus.UNIMPLEMENTED, details: 'no console on the fake node' });
    },
    checkCanLiveMigrateDestination: call('CheckCanLiveMigrateDestination', (n) => {
      const fileName = `.hn-shared-probe-${randomUUID()}`;
      probesOf(n.storage).add(fileName);
      return { fileName };
    }),
    checkCanLiveMigrateSource: call('CheckCanLiveMigrateSource', (n, req: compute.SharedStorageCheckRequest) => ({
      sharedStorage: probesOf(n.storage).has(req.fileName),
    })),
    cleanupLiveMigrationCheck: unary(async (req: compute.SharedStorageProbe) => {
      const n = node();
      n.calls.push(`CleanupLiveMigrationCheck ${req.fileName}`);
      return { existed: probesOf(n.storage).delete(req.fileName) };
    }),
    prepareLiveMigration: unary(async (req: compute.PrepareLiveMigrationRequest) => {
      const n = node();
      n.calls.push(`PrepareLiveMigration ${req.instance?.instanceUuid}`);
      n.prepared.push(req);
      const info = compute.InstanceInfo.fromPartial({
        instanceUuid: req.instance?.instanceUuid,
        host: n.name,
        powerState: PowerState.POWER_STATE_RUNNING,
      });
      n.instances.set(info.instanceUuid, info);
      return info;
    }),
    liveMigrate: (stream: ServerWritableStream<compute.LiveMigrateRequest, compute.MigrationProgress>) => {
      const n = node();
      n.calls.push(`LiveMigrate ${stream.request.instanceUuid}`);
      // As the real node does, the migration goes on when the caller goes away.
      n.migrate(stream.request, (p) => stream.cancelled || stream.write(p)).then(
        () => stream.end(),
        (err: Error) => stream.emit('error', { code: grpcStatus.NOT_FOUND, details: err.message }),
      );
    },
    abortLiveMigration: call('AbortLiveMigration', (n, req: compute.MigrationRef) =>
      n.endMigration(req.instanceUuid, 'cancelled'),
    ),
    forceCompleteLiveMigration: call('ForceCompleteLiveMigration', (n, req: compute.MigrationRef) =>
      n.endMigration(req.instanceUuid, 'forced'),
    ),
    rollbackLiveMigration: call('RollbackLiveMigration', (n, req: compute.MigrationRef) => ({
      existed: n.instances.delete(req.instanceUuid),
    })),
  };
}
