// Building a server after the API answered 202 (Nova's conductor build_instances): ask the
// scheduler for a claimed host plus alternates, Spawn on the host, and when a spawn fails free
// that claim and move to the next alternate (claimed on the spot), re-asking the scheduler
// without the failed hosts when the alternates run out, up to the configured attempts. No host
// at all gives ERROR with Nova's "No valid host was found." fault.
import {
  ConflictError,
  NoValidHostError,
  NotFoundError,
  errorMessage,
  redisKeys,
  type Logger,
} from '@hypernova/common';
import { PowerState, TaskState, VmState, type ImageRecord, type InstanceRecord } from '@hypernova/cluster-state';
import { compute, type scheduler } from '@hypernova/proto';
import type { ComputeClients, SchedulerRpc } from './clients.js';
import type { ActionRecorder } from './instance-actions.js';
import type { Instances } from './instances.js';
import { POLICY_TO_PROTO, type ServerGroup } from './server-groups.js';
import type { Tasks } from './tasks.js';

export interface BuildDeps {
  instances: Instances;
  scheduler: SchedulerRpc;
  clients: ComputeClients;
  tasks: Tasks;
  logger: Logger;
  maxAttempts: number;
}

export interface BuildRequest {
  instance: InstanceRecord;
  image: ImageRecord;
  group?: ServerGroup;
  /** The instance's create action, whose events the build records (Nova's conductor and compute events). */
  action: ActionRecorder;
}

/** The image's architecture as Nova's ImagePropertiesFilter reads it. */
export function imageArchitecture(image: ImageRecord): string {
  return image.properties.hw_architecture ?? image.properties.architecture ?? '';
}

export function requestSpec(req: Pick<BuildRequest, 'instance' | 'image' | 'group'>): scheduler.RequestSpec {
  const { instance: i, image, group } = req;
  return {
    instanceUuid: i.uuid,
    projectId: i.projectId,
    flavor: {
      name: i.flavor.name,
      vcpus: i.flavor.vcpus,
      ramMb: i.flavor.ramMb,
      diskGb: i.flavor.diskGb + i.flavor.ephemeralGb,
    },
    image: {
      id: image.id,
      architecture: imageArchitecture(image),
      hypervisorType: image.properties.img_hv_type ?? image.properties.hypervisor_type ?? '',
      properties: image.properties,
    },
    availabilityZone: i.availabilityZone,
    serverGroup: group ? { uuid: group.id, policy: POLICY_TO_PROTO[group.policy] } : undefined,
    ignoreHosts: [],
  };
}

export function spawnRequest(
  req: Pick<BuildRequest, 'instance' | 'image'>,
  allocationId: string,
): compute.SpawnRequest {
  const { instance: i, image } = req;
  return compute.SpawnRequest.fromPartial({
    instanceUuid: i.uuid,
    name: i.name,
    projectId: i.projectId,
    userId: i.userId,
    flavor: {
      id: i.flavor.id,
      name: i.flavor.name,
      vcpus: i.flavor.vcpus,
      ramMb: i.flavor.ramMb,
      diskGb: i.flavor.diskGb,
      extraSpecs: i.flavor.extraSpecs,
    },
    image: {
      id: image.id,
      name: image.name,
      architecture: imageArchitecture(image),
      location: image.location,
      sizeBytes: image.size ?? 0,
      checksum: image.checksum,
      diskFormat: image.diskFormat,
      properties: image.properties,
    },
    allocationId,
    metadata: i.metadata,
    userData: Buffer.from(i.userData, 'base64'),
    hostname: i.hostname,
  });
}

type Attempt = { ok: true } | { ok: false; aborted: boolean; error: string };

/** The instance was deleted or is being deleted (its CAS was refused); other errors (Redis down) propagate. */
function deletedMeanwhile(err: unknown): boolean {
  if (err instanceof ConflictError || err instanceof NotFoundError) return true;
  throw err;
}

export class Builder {
  constructor(private readonly d: BuildDeps) {}

  /** Starts the build in the background. */
  start(req: BuildRequest): void {
    this.d.tasks.run(req.instance.uuid, 'build', () => this.build(req));
  }

  private async build(req: BuildRequest): Promise<void> {
    const uuid = req.instance.uuid;
    const spec = requestSpec(req);
    let selections: scheduler.Selection[];
    try {
      selections = await req.action.event('conductor_schedule_and_build_instances', '', () =>
        this.d.scheduler.selectDestinations(spec),
      );
    } catch (err) {
      const message =
        err instanceof NoValidHostError ? err.message : `Build of instance ${uuid} failed: ${errorMessage(err)}`;
      return this.fail(uuid, message, err instanceof NoValidHostError ? '' : errorMessage(err));
    }
    let current: scheduler.Selection | undefined = selections[0];
    const alternates = selections.slice(1);
    const failed: string[] = [];
    let lastError = '';
    for (let attempt = 1; current && attempt <= this.d.maxAttempts; attempt++) {
      const outcome = await this.tryHost(req, current);
      if (outcome.ok || outcome.aborted) return;
      failed.push(current.host);
      lastError = `${current.host}: ${outcome.error}`;
      current = attempt < this.d.maxAttempts ? await this.nextHost(spec, alternates, failed) : undefined;
    }
    await this.fail(
      uuid,
      `Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance ${uuid}.`,
      lastError,
    );
  }

  /** Claims the next alternate that still fits, or asks the scheduler again without the failed hosts. */
  private async nextHost(
    spec: scheduler.RequestSpec,
    alternates: scheduler.Selection[],
    failed: string[],
  ): Promise<scheduler.Selection | undefined> {
    while (alternates.length > 0) {
      const alt = alternates.shift() as scheduler.Selection;
      try {
        return await this.d.scheduler.claimOnHost(spec, alt.host);
      } catch (err) {
        this.d.logger.info(
          { instance: spec.instanceUuid, host: alt.host, err: errorMessage(err) },
          'alternate refused',
        );
      }
    }
    try {
      const fresh = await this.d.scheduler.selectDestinations({ ...spec, ignoreHosts: failed });
      alternates.push(...fresh.slice(1));
      return fresh[0];
    } catch (err) {
      this.d.logger.info({ instance: spec.instanceUuid, err: errorMessage(err) }, 'no host left to retry on');
      return undefined;
    }
  }

  private async tryHost(req: BuildRequest, sel: scheduler.Selection): Promise<Attempt> {
    const uuid = req.instance.uuid;
    const { instances, logger } = this.d;
    try {
      await instances.update(
        uuid,
        {
          host: sel.host,
          node: sel.host,
          taskState: TaskState.SPAWNING,
          availabilityZone: sel.availabilityZone || req.instance.availabilityZone,
        },
        { vmState: [VmState.BUILDING], taskState: [TaskState.SCHEDULING, TaskState.SPAWNING] },
      );
    } catch (err) {
      deletedMeanwhile(err);
      // Deleted (or being deleted) meanwhile: give the claim back; the delete does the rest.
      await this.release(uuid);
      return { ok: false, aborted: true, error: 'deleted' };
    }
    let info: compute.InstanceInfo;
    try {
      info = await req.action.event('compute__do_build_and_run_instance', sel.host, () =>
        this.d.clients.at(sel.address).spawn(spawnRequest(req, sel.allocationId)),
      );
    } catch (err) {
      logger.warn({ instance: uuid, host: sel.host, err: errorMessage(err) }, 'spawn failed; rescheduling');
      await this.cleanUp(uuid, sel.address);
      try {
        await instances.update(
          uuid,
          { host: '', node: '', taskState: TaskState.SCHEDULING },
          { taskState: [TaskState.SPAWNING] },
        );
      } catch (err2) {
        deletedMeanwhile(err2);
        return { ok: false, aborted: true, error: 'deleted' };
      }
      return { ok: false, aborted: false, error: errorMessage(err) };
    }
    try {
      await instances.update(
        uuid,
        {
          vmState: VmState.ACTIVE,
          taskState: null,
          powerState: info.powerState || PowerState.POWER_STATE_RUNNING,
          launchedAt: new Date(info.launchedAtMs > 0 ? info.launchedAtMs : Date.now()).toISOString(),
          progress: 100,
        },
        { vmState: [VmState.BUILDING], taskState: [TaskState.SPAWNING] },
      );
      await instances.redis.set(redisKeys.instanceOwner(uuid), sel.host);
      logger.info({ instance: uuid, host: sel.host }, 'instance active');
      return { ok: true };
    } catch (err) {
      deletedMeanwhile(err);
      await this.cleanUp(uuid, sel.address);
      return { ok: false, aborted: true, error: 'deleted' };
    }
  }

  /** Destroys what a failed or abandoned spawn left on the node and frees its claim (both idempotent). */
  private async cleanUp(uuid: string, address: string): Promise<void> {
    try {
      await this.d.clients.at(address).destroy(uuid);
    } catch (err) {
      this.d.logger.warn({ instance: uuid, address, err: errorMessage(err) }, 'destroy after failed spawn failed');
    }
    await this.release(uuid);
  }

  private async release(uuid: string): Promise<void> {
    try {
      await this.d.scheduler.releaseAllocation(uuid);
    } catch (err) {
      this.d.logger.error({ instance: uuid, err: errorMessage(err) }, 'allocation not released');
    }
  }

  private async fail(uuid: string, message: string, details: string): Promise<void> {
    try {
      await this.d.instances.update(
        uuid,
        {
          vmState: VmState.ERROR,
          taskState: null,
          powerState: PowerState.POWER_STATE_NOSTATE,
          host: '',
          node: '',
          fault: { code: 500, message, details, created: new Date().toISOString() },
        },
        { vmState: [VmState.BUILDING], taskState: [TaskState.SCHEDULING, TaskState.SPAWNING] },
      );
      this.d.logger.info({ instance: uuid, fault: message }, 'build failed');
    } catch (err) {
      deletedMeanwhile(err); // deleted meanwhile: nothing to report
    }
  }
}
