// The node's instances (like nova-compute's ComputeManager over its libvirt driver): spawn with
// a cached base image and a qcow2 overlay per instance, the other life-cycle calls, supervision
// of every VM process, and re-adoption of the VMs a previous agent left running.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  errorMessage,
  redisKeys,
  type Logger,
  type Credentials,
  type Redis,
  suppressed,
} from '@hypernova/common';
import { getImage, getInstance } from '@hypernova/cluster-state';
import { Qcow2 } from '@hypernova/hypervisor/block';
import { compute } from '@hypernova/proto';
import { KEY_SIZE } from '../migration/wire.js';
import type { Ownership } from '../migration/index.js';
import type { ImageCache, CachedImageRef } from './image-cache.js';
import { InstanceDir, MAX_SOCKET_PATH, listInstanceDirs, type InstanceMeta } from './instance-dir.js';
import type { VmConfinement } from './confinement.js';
import { ManagedVm, type VmEnvironment } from './managed-vm.js';
import { migrationLinks } from './migration-credentials.js';
import { createProbe, removeProbe, seesProbe } from './shared-storage.js';
import type { AgentMetrics } from './metrics.js';
import type { ObservedChange, StateReporter } from './reporter.js';

export interface ManagerOptions {
  host: string;
  stateDir: string;
  /** Where instance disks live (maybe shared with other nodes); empty or absent: beside the instances' other files. */
  instancesDir?: string;
  vmCommand: readonly string[];
  vmStartTimeoutMs: number;
  cleanShutdownTimeoutS: number;
  supervisePollMs: number;
  orphanAction: string;
  spawnDelayMs: number;
  /** Confines VM processes (root only); absent: they run as the agent. */
  confinement?: VmConfinement;
}

/** How this node's VM processes migrate: where the stream goes, and whether it is encrypted (else authenticated only). */
export interface MigrationEndpoints {
  natsUrl: string;
  encrypt: boolean;
  /** The agent's own: what it mints the VM process's migration credentials from. */
  credentials: Credentials | null;
}

/** A migration's secret as its VM processes take it (QMP `key`), checked. */
export function migrationKeyArg(key: Uint8Array): string {
  if (key.length !== KEY_SIZE)
    throw new InvalidArgumentError(`the migration key must be ${KEY_SIZE} bytes, not ${key.length}`);
  return Buffer.from(key).toString('hex');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GiB = 2 ** 30;

export class ComputeManager {
  private readonly vms = new Map<string, ManagedVm>();
  private readonly env: VmEnvironment;
  private poller: NodeJS.Timeout | undefined;
  /** The instances' own directories (this host's files). */
  readonly instancesDir: string;
  /** Where their disks go: instancesDir, or an instances path of its own (maybe shared). */
  readonly disksDir: string;

  constructor(
    private readonly opts: ManagerOptions,
    private readonly redis: Redis,
    private readonly images: ImageCache,
    private readonly reporter: StateReporter,
    private readonly metrics: AgentMetrics,
    private readonly logger: Logger,
  ) {
    this.instancesDir = join(opts.stateDir, 'instances');
    mkdirSync(this.instancesDir, { recursive: true });
    this.disksDir = opts.instancesDir ? resolve(opts.instancesDir) : this.instancesDir;
    mkdirSync(this.disksDir, { recursive: true });
    const longest = new InstanceDir(join(this.instancesDir, '00000000-0000-0000-0000-000000000000')).controlSocket;
    if (longest.length > MAX_SOCKET_PATH) {
      throw new InvalidArgumentError(
        `state dir ${opts.stateDir} is too long for unix socket paths under it (${longest.length} > ${MAX_SOCKET_PATH})`,
      );
    }
    this.env = {
      host: opts.host,
      vmCommand: opts.vmCommand,
      confinement: opts.confinement,
      vmStartTimeoutMs: opts.vmStartTimeoutMs,
      cleanShutdownTimeoutS: opts.cleanShutdownTimeoutS,
      logger,
      onObserved: (vm, change) => this.observed(vm, change),
      onIncomingSettled: (vm, ok, error) => void this.incomingSettled(vm, ok, error),
    };
  }

  // ---- supervision ----

  /** Re-adopts the VMs found in the state dir, then watches every VM process. */
  async start(): Promise<void> {
    for (const dir of listInstanceDirs(this.instancesDir)) await this.adopt(dir);
    this.poller = setInterval(() => {
      for (const vm of this.vms.values()) void vm.check();
      this.updateGauges();
    }, this.opts.supervisePollMs);
    this.poller.unref();
    this.updateGauges();
  }

  private async adopt(dir: InstanceDir): Promise<void> {
    const meta = dir.readMeta();
    const vm = new ManagedVm(dir, meta, this.env);
    this.vms.set(meta.uuid, vm);
    if (meta.state === 'incoming') {
      // A VM process gives up an incoming migration when its agent goes, so one left behind
      // is ours only if the migration completed before that (ownership already flipped here).
      if (vm.alive() && (await this.redis.get(redisKeys.instanceOwner(meta.uuid))) === this.opts.host) {
        vm.meta.state = 'active';
        dir.writeMeta(vm.meta);
      } else {
        this.logger.warn({ instance: meta.uuid }, 'discarding a VM left waiting for a live migration');
        await this.destroy(meta.uuid);
        return;
      }
    }
    if (meta.state === 'active') {
      if (await vm.adopt()) this.logger.info({ instance: meta.uuid, pid: meta.pid }, 're-adopted running VM');
      else await vm.check(); // died while no agent watched: reported as a crash
    }
    const orphan = await this.orphanOf(meta.uuid);
    if (orphan) {
      if (this.opts.orphanAction === 'reap') {
        this.logger.warn({ instance: meta.uuid }, "instance is not this host's any more; destroying it");
        // Another host's instance now (a migration over shared storage this agent did not see end): its disk is theirs.
        await this.destroy(meta.uuid, orphan === 'elsewhere' && dir.diskDir !== dir.path);
      } else {
        this.logger.warn({ instance: meta.uuid }, "instance is not this host's any more; left alone");
      }
    }
  }

  /** An instance whose record is gone or deleted, or names another host (deleted or moved while we were away); undefined when it is ours. */
  private async orphanOf(uuid: string): Promise<'gone' | 'elsewhere' | undefined> {
    try {
      const rec = await getInstance(this.redis, uuid);
      if (!rec || rec.vmState === 'deleted') return 'gone';
      return rec.host !== this.opts.host ? 'elsewhere' : undefined;
    } catch (err) {
      this.logger.warn(
        { instance: uuid, err: errorMessage(err) },
        'cannot read the instance record; keeping the instance',
      );
      return undefined;
    }
  }

  private async incomingSettled(vm: ManagedVm, ok: boolean, error?: string): Promise<void> {
    if (ok) {
      this.logger.info({ instance: vm.uuid, pid: vm.meta.pid }, 'live migration completed: the instance runs here');
      this.updateGauges();
      return;
    }
    this.logger.warn(
      { instance: vm.uuid, err: error },
      'incoming live migration failed; discarding the prepared instance',
    );
    await this.discardIncoming(vm.uuid);
  }

  /** Removes an instance prepared for a migration that did not complete; false when there is none. */
  async discardIncoming(uuid: string): Promise<boolean> {
    const vm = this.vms.get(uuid);
    if (!vm) return false;
    // A rollback can overtake the prepare it undoes (a gateway that gave up waiting, or one taking
    // over a dead gateway's migration): let the prepare finish first, or its VM would wait forever.
    await vm.serialize('rollback_live_migration', async () => undefined);
    if (this.vms.get(uuid) !== vm || vm.meta.state !== 'incoming') return false;
    await this.destroy(uuid, vm.meta.sourceDisk === true);
    return true;
  }

  private observed(vm: ManagedVm, change: ObservedChange): void {
    this.metrics.vmExits.inc({ kind: change.kind === 'shutoff' ? 'shutdown' : 'crash' });
    this.reporter.report(vm.uuid, change);
    this.updateGauges();
  }

  private updateGauges(): void {
    const counts = new Map<string, number>();
    for (const name of Object.keys(compute.PowerState))
      if (!/^\d+$/.test(name) && name !== 'UNRECOGNIZED') counts.set(name, 0);
    for (const vm of this.vms.values()) {
      const name = compute.powerStateToJSON(vm.powerState());
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    for (const [name, n] of counts) this.metrics.instances.set({ power_state: name }, n);
  }

  /** Stops watching without touching the VMs (they keep running for the next agent). */
  stop(): void {
    if (this.poller) clearInterval(this.poller);
    for (const vm of this.vms.values()) vm.detach();
  }

  // ---- operations ----

  get(uuid: string): ManagedVm {
    const vm = this.vms.get(uuid);
    if (!vm) throw new NotFoundError(`Instance ${uuid} could not be found on host ${this.opts.host}.`);
    return vm;
  }

  list(): ManagedVm[] {
    return [...this.vms.values()];
  }

  /** Runs an operation on one instance, after the ones queued before it. */
  async act(uuid: string, operation: string, fn: (vm: ManagedVm) => Promise<void>): Promise<compute.InstanceInfo> {
    const vm = this.get(uuid);
    try {
      await vm.serialize(operation, () => fn(vm));
      this.metrics.operations.inc({ operation, outcome: 'ok' });
    } catch (err) {
      this.metrics.operations.inc({ operation, outcome: 'error' });
      throw err;
    } finally {
      this.updateGauges();
    }
    return vm.info();
  }

  async spawn(req: compute.SpawnRequest): Promise<compute.InstanceInfo> {
    return this.create(req, 'spawning', (vm) => vm.launch());
  }

  /**
   * Live migration, destination side: builds the instance as a spawn does and starts its VM
   * process waiting for the stream. Block migration: a fresh overlay over the same base image,
   * which the migration fills. Without it the disk is the source's on the shared instances path,
   * left alone here: the VM process opens it only when the stream ends. The instance stays
   * 'incoming' until the migration completes.
   */
  async prepareIncoming(
    req: compute.PrepareLiveMigrationRequest,
    endpoints: MigrationEndpoints,
    ownership: Ownership,
  ): Promise<compute.InstanceInfo> {
    const spec = req.instance;
    if (!spec) throw new InvalidArgumentError('PrepareLiveMigration needs the instance');
    if (!req.migrationId) throw new InvalidArgumentError('PrepareLiveMigration needs the migration id');
    const args = {
      id: req.migrationId,
      ...migrationLinks(endpoints, req.migrationId),
      key: migrationKeyArg(req.migrationKey),
      encrypt: endpoints.encrypt,
      blk: req.blockMigration,
    };
    return this.create(
      spec,
      'migrating',
      (vm, diskSize) => vm.launchIncoming(req.migrationId, args, ownership, req.blockMigration ? undefined : diskSize),
      {
        sharedDisk: !req.blockMigration,
      },
    );
  }

  // ---- live migration prechecks: is the instances path shared? ----

  /** Destination: a probe file in the instances path for the source to look for; returns its name. */
  createSharedStorageProbe(): string {
    return createProbe(this.disksDir, this.opts.host);
  }

  /** Source: whether the instance's disk is in the instances path and the destination's probe is there. */
  sharesStorage(uuid: string, probe: string): boolean {
    const vm = this.get(uuid);
    return vm.dir.diskDir === join(this.disksDir, uuid) && seesProbe(this.disksDir, probe);
  }

  /** Destination: removes its probe; false when it was not there. */
  removeSharedStorageProbe(probe: string): boolean {
    return removeProbe(this.disksDir, probe);
  }

  /**
   * Creates an instance here (image, overlay disk, directory) and starts its VM process with
   * `start`, told the disk's virtual size. With sharedDisk the disk is another host's, already on
   * the shared instances path: it is neither created nor read here, and stays when this fails.
   */
  private async create(
    req: compute.SpawnRequest,
    task: string,
    start: (vm: ManagedVm, diskSize: number) => Promise<void>,
    opts: { sharedDisk?: boolean } = {},
  ): Promise<compute.InstanceInfo> {
    const uuid = req.instanceUuid;
    if (!UUID.test(uuid)) throw new InvalidArgumentError(`invalid instance uuid ${JSON.stringify(uuid)}`);
    if (!req.flavor || !req.image) throw new InvalidArgumentError(`${task} needs a flavor and an image`);
    const existing = this.vms.get(uuid);
    if (existing) {
      // A retried Spawn of what already runs answers like the first; anything else is a conflict.
      await existing.serialize(task, async () => undefined);
      if (task === 'spawning' && existing.meta.state === 'active' && existing.alive()) return existing.info();
      throw new ConflictError(`Instance ${uuid} already exists on host ${this.opts.host}`);
    }
    const dir = new InstanceDir(join(this.instancesDir, uuid), join(this.disksDir, uuid));
    const flavor = req.flavor;
    const meta: InstanceMeta = {
      uuid,
      name: req.name,
      projectId: req.projectId,
      flavor: { id: flavor.id, name: flavor.name, vcpus: flavor.vcpus, ramMb: flavor.ramMb, diskGb: flavor.diskGb },
      imageId: req.image.id,
      kernel: '',
      append: req.image.properties.os_command_line ?? '',
      state: 'shutoff',
      createdAtMs: Date.now(),
      launchedAtMs: 0,
      diskDir: dir.diskDir === dir.path ? undefined : dir.diskDir,
      sourceDisk: opts.sharedDisk || undefined,
    };
    const vm = new ManagedVm(dir, meta, this.env);
    this.vms.set(uuid, vm);
    const started = Date.now();
    const operation = task === 'spawning' ? 'spawn' : 'prepare_live_migration';
    try {
      await vm.serialize(task, async () => {
        if (this.opts.spawnDelayMs > 0) await new Promise((r) => setTimeout(r, this.opts.spawnDelayMs));
        const image = req.image as compute.Image;
        const [base, kernel] = await Promise.all([this.images.fetch(cacheRef(image)), this.kernelOf(image)]);
        const size = overlaySize(base, image.diskFormat, flavor.diskGb);
        if (opts.sharedDisk && !existsSync(dir.disk)) {
          throw new ConflictError(
            `the disk of instance ${uuid} is not on this host's instances path ${this.disksDir}: not shared storage`,
          );
        }
        // A block migration over a shared instances path would overwrite the source's live disk.
        if (!opts.sharedDisk && existsSync(dir.disk))
          throw new ConflictError(`instance ${uuid} already has a disk at ${dir.disk} (shared storage?)`);
        dir.create();
        if (!opts.sharedDisk) createOverlay(dir.disk, base, image.diskFormat, size);
        vm.meta.kernel = kernel;
        dir.writeMeta(vm.meta);
        await start(vm, size);
      });
    } catch (err) {
      this.metrics.operations.inc({ operation, outcome: 'error' });
      this.vms.delete(uuid);
      await vm
        .destroy()
        .catch(suppressed(this.logger, 'manager', 'destroy after a failed start', { instance: uuid, task }));
      dir.remove(opts.sharedDisk);
      await vm.releaseIdentity();
      this.logger.warn({ instance: uuid, task, err: errorMessage(err) }, `${operation} failed`);
      throw err;
    }
    this.metrics.operations.inc({ operation, outcome: 'ok' });
    if (task === 'spawning') this.metrics.spawnSeconds.observe((Date.now() - started) / 1000);
    this.logger.info({ instance: uuid, task, pid: vm.meta.pid, ms: Date.now() - started }, `${operation} done`);
    this.updateGauges();
    return vm.info();
  }

  /** The cached kernel the image boots: its kernel_id image, else the image itself (a kernel). */
  private async kernelOf(image: compute.Image): Promise<string> {
    const kernelId = image.properties.kernel_id;
    if (!kernelId) return this.images.fetch(cacheRef(image));
    const kernel = await getImage(this.redis, kernelId);
    if (!kernel) throw new NotFoundError(`kernel image ${kernelId} of image ${image.id} could not be found`);
    return this.images.fetch({ id: kernel.id, location: kernel.location, checksum: kernel.checksum });
  }

  /** Lets go of an instance that migrated away: its VM process has ended; its directory goes, and its disk unless the destination uses it (shared storage). */
  async forget(uuid: string, keepDisk: boolean): Promise<void> {
    const vm = this.vms.get(uuid);
    if (!vm) return;
    this.vms.delete(uuid);
    vm.dir.remove(keepDisk);
    await vm.releaseIdentity();
    this.metrics.operations.inc({ operation: 'live_migration', outcome: 'ok' });
    this.updateGauges();
  }

  /** Idempotent: false when there was nothing here. With keepDisk the disk stays: another host uses it (shared storage). */
  async destroy(uuid: string, keepDisk = false): Promise<boolean> {
    const vm = this.vms.get(uuid);
    if (!vm) return false;
    await vm.serialize('deleting', async () => {
      await vm.destroy();
      vm.dir.remove(keepDisk);
      await vm.releaseIdentity();
    });
    this.vms.delete(uuid);
    this.metrics.operations.inc({ operation: 'destroy', outcome: 'ok' });
    this.updateGauges();
    return true;
  }
}

function cacheRef(image: compute.Image): CachedImageRef {
  return { id: image.id, location: image.location, checksum: image.checksum };
}

const backingFormatOf = (diskFormat: string): 'qcow2' | 'raw' => (diskFormat === 'qcow2' ? 'qcow2' : 'raw');

/** The virtual size of an instance's disk: the base image's, at least the flavor's. */
function overlaySize(base: string, diskFormat: string, diskGb: number): number {
  let baseSize = statSync(base).size;
  if (backingFormatOf(diskFormat) === 'qcow2') {
    const img = Qcow2.open(base, { readOnly: true, ignoreBacking: true });
    baseSize = img.sizeBytes;
    img.close();
  }
  return Math.max(baseSize, diskGb * GiB);
}

/** The instance's disk: a qcow2 overlay over the cached base image. */
function createOverlay(path: string, base: string, diskFormat: string, size: number): void {
  Qcow2.create(path, { size, backingFile: base, backingFormat: backingFormatOf(diskFormat) });
}
