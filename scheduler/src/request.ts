// The scheduler's own view of a request: the gRPC RequestSpec validated once, with defaults
// applied, so filters, weighers and placement never deal with missing protobuf fields.
import { InvalidArgumentError } from '@hypernova/common';
import { scheduler as pb } from '@hypernova/proto';

export const GroupPolicy = pb.GroupPolicy;
export type GroupPolicy = pb.GroupPolicy;

export interface PlacementRequest {
  instanceUuid: string;
  projectId: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  /** Required host architecture; '' matches any. */
  architecture: string;
  /** Required hypervisor type; '' matches any. */
  hypervisorType: string;
  /** Required availability zone; '' matches any. */
  availabilityZone: string;
  group?: { uuid: string; policy: GroupPolicy };
  ignoreHosts: ReadonlySet<string>;
  numAlternates: number;
}

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0;

export function toPlacementRequest(spec: pb.RequestSpec | undefined, defaultAlternates: number): PlacementRequest {
  if (!spec) throw new InvalidArgumentError('request spec missing');
  if (!spec.instanceUuid) throw new InvalidArgumentError('instance_uuid missing');
  const f = spec.flavor;
  if (!f) throw new InvalidArgumentError('flavor missing');
  if (!isCount(f.vcpus) || f.vcpus < 1) throw new InvalidArgumentError(`flavor vcpus ${f.vcpus} must be >= 1`);
  if (!isCount(f.ramMb) || f.ramMb < 1) throw new InvalidArgumentError(`flavor ram_mb ${f.ramMb} must be >= 1`);
  if (!isCount(f.diskGb)) throw new InvalidArgumentError(`flavor disk_gb ${f.diskGb} must be >= 0`);
  const g = spec.serverGroup;
  if (g && g.policy !== GroupPolicy.GROUP_POLICY_NONE && !g.uuid)
    throw new InvalidArgumentError('server group uuid missing');
  return {
    instanceUuid: spec.instanceUuid,
    projectId: spec.projectId,
    vcpus: f.vcpus,
    ramMb: f.ramMb,
    diskGb: f.diskGb,
    architecture: spec.image?.architecture ?? '',
    hypervisorType: spec.image?.hypervisorType ?? '',
    availabilityZone: spec.availabilityZone,
    group: g && g.uuid && g.policy !== GroupPolicy.GROUP_POLICY_NONE ? { uuid: g.uuid, policy: g.policy } : undefined,
    ignoreHosts: new Set(spec.ignoreHosts),
    numAlternates: spec.numAlternates ?? defaultAlternates,
  };
}

/** The policy's name as the placement Lua script knows it ('' for soft or no policy: not enforced there). */
export function hardPolicyName(req: PlacementRequest): '' | 'affinity' | 'anti-affinity' {
  switch (req.group?.policy) {
    case GroupPolicy.GROUP_POLICY_AFFINITY:
      return 'affinity';
    case GroupPolicy.GROUP_POLICY_ANTI_AFFINITY:
      return 'anti-affinity';
    default:
      return '';
  }
}
