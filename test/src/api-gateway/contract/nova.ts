// Response schemas of the Nova compute API, written from the Nova API reference (and its API
// samples) for microversions 2.1 to 2.21: what each body must hold at a given microversion
// `mv` (the minor number), closed objects so an unexpected key is a failure.
import {
  arrayOf,
  bool,
  enumOf,
  int,
  isoMicros,
  isoSeconds,
  links,
  nullable,
  obj,
  str,
  stringMap,
  uri,
  uuid,
  type Schema,
} from './schema.js';

// ---------- errors and versions ----------

const FAULTS: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  501: 'notImplemented',
};

/** Nova's fault body: {"<faultName>": {code, message}}. */
export const fault = (status: number): Schema =>
  obj({ [FAULTS[status] ?? 'computeFault']: obj({ code: enumOf(status), message: str }) });

const versionLinks = arrayOf(obj({ rel: str, href: uri, type: str }, ['type']));
const version = (extra: Record<string, Schema> = {}) =>
  obj({
    id: enumOf('v2.0', 'v2.1'),
    status: enumOf('CURRENT', 'SUPPORTED', 'DEPRECATED'),
    version: str,
    min_version: str,
    updated: isoSeconds,
    links: versionLinks,
    ...extra,
  });

export const versionsList = obj({ versions: arrayOf(version()) });
export const versionDocument = obj({
  version: version({ 'media-types': arrayOf(obj({ base: enumOf('application/json'), type: str })) }),
});

// ---------- servers ----------

const ref = obj({ id: str, links });
const accessIp = (format: 'ipv4' | 'ipv6'): Schema => ({ anyOf: [{ type: 'string', format }, enumOf('')] });
const addresses: Schema = {
  type: 'object',
  additionalProperties: arrayOf(
    obj({ addr: str, version: enumOf(4, 6), 'OS-EXT-IPS:type': str, 'OS-EXT-IPS-MAC:mac_addr': str }, [
      'OS-EXT-IPS:type',
      'OS-EXT-IPS-MAC:mac_addr',
    ]),
  ),
};
const STATUSES = [
  'ACTIVE',
  'BUILD',
  'DELETED',
  'ERROR',
  'HARD_REBOOT',
  'MIGRATING',
  'PASSWORD',
  'PAUSED',
  'REBOOT',
  'REBUILD',
  'RESCUE',
  'RESIZE',
  'REVERT_RESIZE',
  'SHELVED',
  'SHELVED_OFFLOADED',
  'SHUTOFF',
  'SOFT_DELETED',
  'SUSPENDED',
  'UNKNOWN',
  'VERIFY_RESIZE',
];

/** The keys of every server body (PUT answers exactly these below 2.75); `locked` from 2.9, `description` (null when unset) from 2.19. */
function serverBaseProps(mv: number): Record<string, Schema> {
  return {
    id: uuid,
    name: str,
    status: enumOf(...STATUSES),
    tenant_id: str,
    user_id: str,
    metadata: stringMap,
    hostId: str,
    image: { anyOf: [ref, enumOf('')] },
    flavor: ref,
    created: isoSeconds,
    updated: isoSeconds,
    addresses,
    accessIPv4: accessIp('ipv4'),
    accessIPv6: accessIp('ipv6'),
    links,
    'OS-DCF:diskConfig': enumOf('MANUAL', 'AUTO'),
    progress: int,
    fault: obj({ code: int, message: str, created: isoSeconds, details: str }, ['details']),
    ...(mv >= 9 ? { locked: bool } : {}),
    ...(mv >= 19 ? { description: nullable({ type: 'string', maxLength: 255 }) } : {}),
  };
}
const SERVER_OPTIONAL = ['progress', 'fault'];

export const serverUpdate = (mv: number) => obj({ server: obj(serverBaseProps(mv), SERVER_OPTIONAL) });

/** show/detail: the base keys plus the extensions; host attributes for admins, more from 2.3; host_status for admins from 2.16. */
function serverDetailSchema(mv: number, admin: boolean): Schema {
  const adminProps: Record<string, Schema> = admin
    ? {
        'OS-EXT-SRV-ATTR:host': nullable(str),
        'OS-EXT-SRV-ATTR:hypervisor_hostname': nullable(str),
        'OS-EXT-SRV-ATTR:instance_name': { type: 'string', pattern: '^instance-[0-9a-f]{8}$' },
        ...(mv >= 3
          ? {
              'OS-EXT-SRV-ATTR:reservation_id': str,
              'OS-EXT-SRV-ATTR:launch_index': int,
              'OS-EXT-SRV-ATTR:hostname': str,
              'OS-EXT-SRV-ATTR:kernel_id': str,
              'OS-EXT-SRV-ATTR:ramdisk_id': str,
              'OS-EXT-SRV-ATTR:root_device_name': nullable(str),
              'OS-EXT-SRV-ATTR:user_data': nullable(str),
            }
          : {}),
        // '' when the server has no host.
        ...(mv >= 16 ? { host_status: enumOf('UP', 'DOWN', 'MAINTENANCE', 'UNKNOWN', '') } : {}),
      }
    : {};
  const volume = mv >= 3 ? obj({ id: str, delete_on_termination: bool }) : obj({ id: str });
  return obj(
    {
      ...serverBaseProps(mv),
      key_name: nullable(str),
      config_drive: str,
      security_groups: arrayOf(obj({ name: str })),
      'OS-EXT-AZ:availability_zone': str,
      'OS-EXT-STS:task_state': nullable(str),
      'OS-EXT-STS:vm_state': enumOf(
        'active',
        'building',
        'paused',
        'suspended',
        'stopped',
        'rescued',
        'resized',
        'soft-delete',
        'deleted',
        'error',
        'shelved',
        'shelved_offloaded',
      ),
      'OS-EXT-STS:power_state': enumOf(0, 1, 3, 4, 6, 7),
      'OS-SRV-USG:launched_at': nullable(isoMicros),
      'OS-SRV-USG:terminated_at': nullable(isoMicros),
      'os-extended-volumes:volumes_attached': arrayOf(volume),
      ...adminProps,
    },
    [...SERVER_OPTIONAL, 'security_groups'],
  );
}

export const serverShow = (mv: number, admin: boolean) => obj({ server: serverDetailSchema(mv, admin) });
export const serverList = obj({ servers: arrayOf(obj({ id: uuid, name: str, links })), servers_links: links }, [
  'servers_links',
]);
export const serverListDetail = (mv: number, admin: boolean) =>
  obj({ servers: arrayOf(serverDetailSchema(mv, admin)), servers_links: links }, ['servers_links']);
export const serverCreate = obj({
  server: obj(
    {
      id: uuid,
      links,
      adminPass: str,
      'OS-DCF:diskConfig': enumOf('MANUAL', 'AUTO'),
      security_groups: arrayOf(obj({ name: str })),
    },
    ['adminPass', 'OS-DCF:diskConfig', 'security_groups'],
  ),
});
export const reservation = obj({ reservation_id: { type: 'string', pattern: '^r-' } });
export const consoleOutput = obj({ output: str });

// ---------- instance actions ----------

const actionProps = {
  action: str,
  instance_uuid: uuid,
  message: nullable(str),
  project_id: str,
  request_id: { type: 'string', pattern: '^req-' },
  start_time: isoMicros,
  user_id: str,
};
const event = obj({
  event: str,
  start_time: isoMicros,
  finish_time: nullable(isoMicros),
  result: nullable(enumOf('Success', 'Error')),
  traceback: nullable(str),
});
export const instanceActions = obj({ instanceActions: arrayOf(obj(actionProps)) });
/** events only where the events policy allows it (admins). */
export const instanceAction = (withEvents: boolean) =>
  obj({ instanceAction: withEvents ? obj({ ...actionProps, events: arrayOf(event) }) : obj(actionProps) });

// ---------- flavors ----------

const flavorDetailSchema = obj({
  id: str,
  name: str,
  ram: int,
  disk: int,
  vcpus: int,
  swap: { anyOf: [int, enumOf('')] },
  rxtx_factor: { type: 'number' },
  'OS-FLV-EXT-DATA:ephemeral': int,
  'OS-FLV-DISABLED:disabled': bool,
  'os-flavor-access:is_public': bool,
  links,
});
export const flavorList = obj({ flavors: arrayOf(obj({ id: str, name: str, links })), flavors_links: links }, [
  'flavors_links',
]);
export const flavorListDetail = obj({ flavors: arrayOf(flavorDetailSchema), flavors_links: links }, ['flavors_links']);
export const flavorShow = obj({ flavor: flavorDetailSchema });
export const extraSpecs = obj({ extra_specs: stringMap });
/** GET/PUT of one key: {"<key>": "<value>"}. */
export const extraSpec: Schema = { type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: str };

// ---------- hypervisors and services ----------

const hypervisorSummary = {
  id: int,
  hypervisor_hostname: str,
  state: enumOf('up', 'down'),
  status: enumOf('enabled', 'disabled'),
};
const hypervisorDetail = obj({
  ...hypervisorSummary,
  vcpus: int,
  memory_mb: int,
  local_gb: int,
  vcpus_used: int,
  memory_mb_used: int,
  local_gb_used: int,
  free_ram_mb: int,
  free_disk_gb: int,
  disk_available_least: nullable(int),
  current_workload: int,
  running_vms: int,
  hypervisor_type: str,
  hypervisor_version: int,
  host_ip: {
    anyOf: [
      { type: 'string', format: 'ipv4' },
      { type: 'string', format: 'ipv6' },
    ],
  },
  // A JSON document as a string below 2.28.
  cpu_info: str,
  service: obj({ host: str, id: int, disabled_reason: nullable(str) }),
});
export const hypervisorList = obj({ hypervisors: arrayOf(obj(hypervisorSummary)) });
export const hypervisorListDetail = obj({ hypervisors: arrayOf(hypervisorDetail) });
export const hypervisorShow = obj({ hypervisor: hypervisorDetail });
export const hypervisorStatistics = obj({
  hypervisor_statistics: obj(
    Object.fromEntries(
      [
        'count',
        'vcpus',
        'memory_mb',
        'local_gb',
        'vcpus_used',
        'memory_mb_used',
        'local_gb_used',
        'free_ram_mb',
        'free_disk_gb',
        'current_workload',
        'running_vms',
        'disk_available_least',
      ].map((k) => [k, int]),
    ),
  ),
});

export const serviceList = (mv: number) =>
  obj({
    services: arrayOf(
      obj({
        id: int,
        binary: str,
        host: str,
        zone: str,
        status: enumOf('enabled', 'disabled'),
        state: enumOf('up', 'down'),
        updated_at: nullable(isoMicros),
        disabled_reason: nullable(str),
        ...(mv >= 11 ? { forced_down: bool } : {}),
      }),
    ),
  });
export const serviceUpdate = obj({
  service: obj({ host: str, binary: str, status: enumOf('enabled', 'disabled'), disabled_reason: str }, [
    'disabled_reason',
  ]),
});
export const serviceForceDown = obj({ service: obj({ host: str, binary: str, forced_down: bool }) });

// ---------- images proxy ----------

const imageLinks = links;
export const imageList = obj(
  { images: arrayOf(obj({ id: uuid, name: nullable(str), links: imageLinks })), images_links: links },
  ['images_links'],
);
const imageDetail = obj(
  {
    id: uuid,
    name: nullable(str),
    status: enumOf('ACTIVE', 'SAVING', 'DELETED', 'ERROR', 'UNKNOWN'),
    progress: int,
    minRam: int,
    minDisk: int,
    created: isoSeconds,
    updated: isoSeconds,
    metadata: stringMap,
    links: imageLinks,
    'OS-EXT-IMG-SIZE:size': nullable(int),
    server: ref,
  },
  ['server', 'OS-EXT-IMG-SIZE:size'],
);
export const imageListDetail = obj({ images: arrayOf(imageDetail), images_links: links }, ['images_links']);
export const imageShow = obj({ image: imageDetail });

// ---------- limits, quotas, zones, migrations ----------

const ABSOLUTE = [
  'maxTotalInstances',
  'maxTotalCores',
  'maxTotalRAMSize',
  'maxServerMeta',
  'maxImageMeta',
  'maxPersonality',
  'maxPersonalitySize',
  'maxTotalKeypairs',
  'maxServerGroups',
  'maxServerGroupMembers',
  'maxTotalFloatingIps',
  'maxSecurityGroups',
  'maxSecurityGroupRules',
  'totalInstancesUsed',
  'totalCoresUsed',
  'totalRAMUsed',
  'totalServerGroupsUsed',
  'totalFloatingIpsUsed',
  'totalSecurityGroupsUsed',
];
export const limits = obj({
  limits: obj({ rate: arrayOf({ type: 'object' }), absolute: obj(Object.fromEntries(ABSOLUTE.map((k) => [k, int]))) }),
});

/** Below 2.36 the network quotas are still listed. */
const QUOTAS = [
  'instances',
  'cores',
  'ram',
  'metadata_items',
  'key_pairs',
  'server_groups',
  'server_group_members',
  'injected_files',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
  'fixed_ips',
  'floating_ips',
  'security_groups',
  'security_group_rules',
];
const quotaEntry = { type: 'integer', minimum: -1 };
export const quotaSet = obj({ quota_set: obj({ id: str, ...Object.fromEntries(QUOTAS.map((k) => [k, quotaEntry])) }) });
export const quotaSetUpdate = obj({ quota_set: obj(Object.fromEntries(QUOTAS.map((k) => [k, quotaEntry]))) });
export const quotaSetDetail = obj({
  quota_set: obj({
    id: str,
    ...Object.fromEntries(QUOTAS.map((k) => [k, obj({ in_use: int, limit: quotaEntry, reserved: int })])),
  }),
});

const zoneState = obj({ available: bool });
export const availabilityZones = obj({
  availabilityZoneInfo: arrayOf(obj({ zoneName: str, zoneState, hosts: { type: 'null' } })),
});
export const availabilityZonesDetail = obj({
  availabilityZoneInfo: arrayOf(
    obj({
      zoneName: str,
      zoneState,
      hosts: nullable({
        type: 'object',
        additionalProperties: {
          type: 'object',
          additionalProperties: obj({ available: bool, active: bool, updated_at: nullable(isoMicros) }),
        },
      }),
    }),
  ),
});

/** os-migrations: below 2.23 exactly these keys; 2.23 adds migration_type, and links on in-progress live migrations. */
export const migrations = (mv: number) =>
  obj({
    migrations: arrayOf(
      obj(
        {
          id: int,
          status: nullable(str),
          instance_uuid: nullable(uuid),
          source_node: nullable(str),
          source_compute: nullable(str),
          dest_node: nullable(str),
          dest_compute: nullable(str),
          dest_host: nullable(str),
          old_instance_type_id: nullable(int),
          new_instance_type_id: nullable(int),
          created_at: isoMicros,
          updated_at: nullable(isoMicros),
          ...(mv >= 23 ? { migration_type: enumOf('migration', 'resize', 'live-migration', 'evacuation'), links } : {}),
        },
        ['links'],
      ),
    ),
  });

/** /servers/{id}/migrations items (2.23; uuid from 2.59, user and project from 2.80). */
const serverMigration = obj({
  created_at: isoMicros,
  dest_compute: nullable(str),
  dest_host: nullable(str),
  dest_node: nullable(str),
  disk_processed_bytes: nullable(int),
  disk_remaining_bytes: nullable(int),
  disk_total_bytes: nullable(int),
  id: int,
  memory_processed_bytes: nullable(int),
  memory_remaining_bytes: nullable(int),
  memory_total_bytes: nullable(int),
  server_uuid: uuid,
  source_compute: nullable(str),
  source_node: nullable(str),
  status: str,
  updated_at: nullable(isoMicros),
});
export const serverMigrationList = obj({ migrations: arrayOf(serverMigration) });
export const serverMigrationShow = obj({ migration: serverMigration });

// ---------- server groups and keypairs ----------

/** project_id and user_id from 2.13; the soft policies from 2.15; policies as a list until 2.64. */
const serverGroup = (mv: number) =>
  obj({
    id: uuid,
    name: str,
    policies: {
      ...arrayOf(enumOf('affinity', 'anti-affinity', ...(mv >= 15 ? ['soft-affinity', 'soft-anti-affinity'] : []))),
      minItems: 1,
      maxItems: 1,
    },
    members: arrayOf(uuid),
    metadata: { type: 'object' },
    ...(mv >= 13 ? { project_id: str, user_id: str } : {}),
  });
export const serverGroupShow = (mv: number) => obj({ server_group: serverGroup(mv) });
export const serverGroupList = (mv: number) => obj({ server_groups: arrayOf(serverGroup(mv)) });

const fingerprint = { type: 'string', pattern: '^([0-9a-f]{2}:){15,19}[0-9a-f]{2}$' };
const keyType = (mv: number): Record<string, Schema> => (mv >= 2 ? { type: enumOf('ssh', 'x509') } : {});
export const keypairCreate = (mv: number) =>
  obj({
    keypair: obj({ name: str, public_key: str, fingerprint, user_id: str, private_key: str, ...keyType(mv) }, [
      'private_key',
    ]),
  });
export const keypairList = (mv: number) =>
  obj({ keypairs: arrayOf(obj({ keypair: obj({ name: str, public_key: str, fingerprint, ...keyType(mv) }) })) });
export const keypairShow = (mv: number) =>
  obj({
    keypair: obj({
      name: str,
      public_key: str,
      fingerprint,
      user_id: str,
      created_at: isoMicros,
      updated_at: nullable(isoMicros),
      deleted_at: nullable(isoMicros),
      deleted: bool,
      id: int,
      ...keyType(mv),
    }),
  });
