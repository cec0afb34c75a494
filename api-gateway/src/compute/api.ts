// The compute API behind /servers (Nova's compute/api.py): who may see a server, the checks a
// create makes before it writes anything (flavor, image, group, zone, networks, key pair, quota),
// the instance records it writes and the builds it starts in the background; list filters and
// updates. The routes only read requests and shape responses around these.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  INSTANCE_FIELDS,
  PowerState,
  TaskState,
  VmState,
  getImage,
  listHosts,
  nextInstanceId,
  type ImageRecord,
  type InstanceRecord,
} from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { badRequest, forbidden, notFound } from '../http/errors.js';
import { isUuid } from '../http/validation.js';
import { inScope, visibleImage, type Caller } from '../policy.js';
import type { Flavor } from './flavors.js';
import type { ActionContext } from './instance-actions.js';
import type { ServerGroup } from './server-groups.js';
import { vmStatesForStatus } from './state-machine.js';

/** A create request as the route read it from the body. */
export interface ServerCreate {
  name: string;
  /** What the records carry: the request's (null when absent) from 2.19, the name before. */
  description: string | null;
  imageRef?: string;
  flavorRef: string | number;
  networks?: 'auto' | 'none' | { uuid?: string; port?: string | null }[];
  minCount: number;
  maxCount: number;
  availabilityZone?: string;
  keyName?: string;
  metadata: Record<string, string>;
  userData?: string;
  accessIPv4?: string;
  accessIPv6?: string;
  configDrive: boolean;
  /** The server group named by the scheduler hints. */
  groupId?: string;
}

export interface CreatedServers {
  reservationId: string;
  /** Between min and max count of them, as many as the quota allowed. */
  created: InstanceRecord[];
}

/** What a server list is narrowed to (each absent filter lets everything through). */
export interface ServerFilters {
  name?: string;
  status?: string;
  host?: string;
  image?: string;
  flavor?: string;
  reservationId?: string;
  /** Epoch milliseconds. */
  changesSince?: number;
}

/** The id at the end of an id or an href (Nova's get_id_from_href). */
const idFromHref = (ref: string) => ref.replace(/\/+$/, '').split('/').pop() ?? '';

/** A DNS label from the display name, as Nova sanitizes hostnames. */
function hostnameOf(name: string): string {
  const h = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return h || 'server';
}

/** The server if the caller may see it (its project's, or any for admins); Nova's 404 otherwise. */
export async function loadServer(gw: Gateway, c: Caller, id: string): Promise<InstanceRecord> {
  const rec = isUuid(id) ? await gw.instances.get(id.toLowerCase()) : undefined;
  if (!rec || !inScope(c, rec.projectId)) throw notFound(`Instance ${id} could not be found.`);
  return rec;
}

async function resolveFlavor(gw: Gateway, ref: string | number): Promise<Flavor> {
  const id = idFromHref(String(ref));
  const f = await gw.flavors.get(id);
  if (!f) throw badRequest(`Flavor ${id} could not be found.`);
  if (f.disabled) throw badRequest('Flavor is disabled.');
  return f;
}

async function resolveImage(gw: Gateway, ref: string | undefined, c: Caller, flavor: Flavor): Promise<ImageRecord> {
  if (!ref) throw badRequest('Missing imageRef attribute');
  const id = idFromHref(ref);
  if (!isUuid(id)) throw badRequest('Invalid imageRef provided.');
  const image = await getImage(gw.redis, id.toLowerCase());
  if (!image || !visibleImage(image, c)) throw badRequest(`Image ${id} could not be found.`);
  if (image.status !== 'active') throw badRequest(`Image ${id} is not active.`);
  if (image.minRamMb > flavor.ramMb) throw badRequest("Flavor's memory is too small for requested image.");
  if (image.minDiskGb > flavor.diskGb) throw badRequest("Flavor's disk is too small for requested image.");
  return image;
}

async function resolveGroup(gw: Gateway, id: string | undefined, c: Caller): Promise<ServerGroup | undefined> {
  if (id === undefined) return undefined;
  const g = await gw.serverGroups.get(id.toLowerCase());
  if (!g || !inScope(c, g.projectId)) throw badRequest(`Instance group ${id} could not be found.`);
  return g;
}

async function checkZone(gw: Gateway, zone: string | undefined): Promise<void> {
  if (zone === undefined) return;
  const zones = new Set((await listHosts(gw.redis)).map((h) => h.availabilityZone || 'nova'));
  if (!zones.has(zone)) throw badRequest(`The requested availability zone is not available`);
}

/** What a create asks of the caller's key pairs and quota, and of its own fields, before any record is written. */
async function checkRequest(gw: Gateway, c: Caller, s: ServerCreate): Promise<void> {
  // No networks are served: any requested one cannot be found.
  if (Array.isArray(s.networks) && s.networks.length > 0) {
    const n = s.networks[0];
    throw badRequest(n.port ? `Port ${n.port} could not be found.` : `Network ${n.uuid ?? ''} could not be found.`);
  }
  if (s.keyName !== undefined && !(await gw.keypairs.get(c.userId, s.keyName)))
    throw badRequest('Invalid key_name provided.');
  const limits = await gw.quotas.limits(c.projectId);
  const items = Object.keys(s.metadata).length;
  if (limits.metadata_items >= 0 && items > limits.metadata_items) {
    throw forbidden(
      `Quota exceeded for metadata_items: Requested ${items}, but already used 0 of ${limits.metadata_items} metadata_items`,
    );
  }
  if (s.userData !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(s.userData.replace(/\s+/g, ''))) {
    throw badRequest('Userdata content cannot be decoded');
  }
  if (s.minCount < 1 || s.maxCount < 1) throw badRequest('min_count and max_count must be at least 1');
  if (s.minCount > s.maxCount) throw badRequest('min_count must be <= max_count');
}

/** The records of a create, BUILDING and about to be scheduled: `name-N` each when there are several. */
async function instanceRecords(
  gw: Gateway,
  c: Caller,
  s: ServerCreate,
  flavor: Flavor,
  image: ImageRecord,
  group: ServerGroup | undefined,
  reservationId: string,
): Promise<InstanceRecord[]> {
  const now = new Date().toISOString();
  const zone = s.availabilityZone ?? '';
  const records: InstanceRecord[] = [];
  for (let index = 0; index < s.maxCount; index++) {
    const name = s.maxCount > 1 ? `${s.name}-${index + 1}` : s.name;
    records.push({
      uuid: randomUUID(),
      id: await nextInstanceId(gw.redis),
      name,
      projectId: c.projectId,
      userId: c.userId,
      flavor: {
        id: flavor.id,
        name: flavor.name,
        vcpus: flavor.vcpus,
        ramMb: flavor.ramMb,
        diskGb: flavor.diskGb,
        ephemeralGb: flavor.ephemeralGb,
        swapMb: flavor.swapMb,
        extraSpecs: flavor.extraSpecs,
      },
      imageId: image.id,
      vmState: VmState.BUILDING,
      taskState: TaskState.SCHEDULING,
      powerState: PowerState.POWER_STATE_NOSTATE,
      host: '',
      node: '',
      availabilityZone: zone,
      requestedAvailabilityZone: zone,
      keyName: s.keyName ?? '',
      metadata: s.metadata,
      createdAt: now,
      updatedAt: now,
      launchedAt: '',
      terminatedAt: '',
      accessIPv4: s.accessIPv4 ?? '',
      accessIPv6: s.accessIPv6 ?? '',
      configDrive: s.configDrive ? 'True' : '',
      reservationId,
      launchIndex: index,
      hostname: hostnameOf(name),
      userData: s.userData ?? '',
      serverGroup: group?.id ?? '',
      progress: 0,
      description: s.description,
    });
  }
  return records;
}

/**
 * Creates the servers of a request: checks it, writes their records within the quota and starts
 * their builds (scheduling, then spawning on the chosen node), which go on after this returns.
 */
export async function createServers(
  gw: Gateway,
  c: Caller,
  s: ServerCreate,
  ctx: ActionContext,
): Promise<CreatedServers> {
  const flavor = await resolveFlavor(gw, s.flavorRef);
  const image = await resolveImage(gw, s.imageRef, c, flavor);
  const group = await resolveGroup(gw, s.groupId, c);
  await checkZone(gw, s.availabilityZone);
  await checkRequest(gw, c, s);
  const reservationId = `r-${randomBytes(4).toString('hex')}`;
  const records = await instanceRecords(gw, c, s, flavor, image, group, reservationId);
  // As many as the quota allows between min and max, as Nova does; a lone survivor of a
  // multi-create keeps the plain name.
  const created = await gw.quotas.createInstances(
    records,
    flavor,
    s.minCount,
    s.maxCount > 1 ? { [INSTANCE_FIELDS.name]: s.name, [INSTANCE_FIELDS.hostname]: hostnameOf(s.name) } : {},
  );
  for (const rec of created) {
    gw.instances.announce(rec);
    gw.builder.start({ instance: rec, image, group, action: await gw.actions.start(rec.uuid, 'create', ctx) });
  }
  return { reservationId, created };
}

/** ?name= matches as a substring, with ^ and $ anchors honoured (Nova matches a regex; arbitrary user regexes could stall the gateway). */
function nameMatches(name: string, pattern: string): boolean {
  const start = pattern.startsWith('^');
  const end = pattern.endsWith('$') && pattern.length > (start ? 1 : 0);
  const core = pattern.slice(start ? 1 : 0, end ? -1 : undefined);
  if (start && end) return name === core;
  if (start) return name.startsWith(core);
  if (end) return name.endsWith(core);
  return name.includes(core);
}

export function filterServers(list: InstanceRecord[], f: ServerFilters): InstanceRecord[] {
  const states = f.status === undefined ? undefined : (vmStatesForStatus(f.status) ?? []);
  return list.filter(
    (i) =>
      (f.name === undefined || nameMatches(i.name, f.name)) &&
      (states === undefined || states.includes(i.vmState)) &&
      (f.host === undefined || i.host === f.host) &&
      (f.image === undefined || i.imageId === idFromHref(f.image)) &&
      (f.flavor === undefined || i.flavor.id === idFromHref(f.flavor)) &&
      (f.reservationId === undefined || i.reservationId === f.reservationId) &&
      (f.changesSince === undefined || Date.parse(i.updatedAt) >= f.changesSince),
  );
}

/** Changes a server's name, description or access IPs whatever its state, as Nova does, unless it is gone. */
export function updateServer(
  gw: Gateway,
  rec: InstanceRecord,
  patch: Partial<Pick<InstanceRecord, 'name' | 'description' | 'accessIPv4' | 'accessIPv6'>>,
): Promise<InstanceRecord> {
  return gw.instances.update(rec.uuid, patch, {
    vmState: Object.values(VmState).filter((v) => v !== VmState.DELETED),
  });
}
