import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@hypernova/common';
import { scheduler as pb } from '@hypernova/proto';
import { GroupPolicy, hardPolicyName, toPlacementRequest } from '../src/request.js';

const spec = (over: Partial<pb.RequestSpec> = {}): pb.RequestSpec =>
  pb.RequestSpec.fromPartial({
    instanceUuid: 'i-1',
    projectId: 'p',
    flavor: { name: 'm1.tiny', vcpus: 1, ramMb: 512, diskGb: 1 },
    ...over,
  });

describe('scheduler request spec', () => {
  it('applies defaults: any architecture/zone, the default alternates, no group', () => {
    const r = toPlacementRequest(spec(), 2);
    assert.equal(r.numAlternates, 2);
    assert.equal(r.architecture, '');
    assert.equal(r.group, undefined);
    assert.equal(toPlacementRequest(spec({ numAlternates: 0 }), 2).numAlternates, 0);
  });

  it('rejects a missing uuid or flavor and flavors without vCPUs or RAM', () => {
    assert.throws(() => toPlacementRequest(undefined, 2), InvalidArgumentError);
    assert.throws(() => toPlacementRequest(spec({ instanceUuid: '' }), 2), InvalidArgumentError);
    assert.throws(() => toPlacementRequest(spec({ flavor: undefined }), 2), InvalidArgumentError);
    assert.throws(() => toPlacementRequest(spec({ flavor: { name: 'x', vcpus: 0, ramMb: 1, diskGb: 0 } }), 2), /vcpus/);
    assert.throws(
      () => toPlacementRequest(spec({ flavor: { name: 'x', vcpus: 1, ramMb: 0, diskGb: 0 } }), 2),
      /ram_mb/,
    );
  });

  it('keeps a group with a policy; hard policies get the placement script name', () => {
    const r = toPlacementRequest(
      spec({ serverGroup: { uuid: 'g', policy: GroupPolicy.GROUP_POLICY_ANTI_AFFINITY } }),
      2,
    );
    assert.equal(hardPolicyName(r), 'anti-affinity');
    const soft = toPlacementRequest(
      spec({ serverGroup: { uuid: 'g', policy: GroupPolicy.GROUP_POLICY_SOFT_AFFINITY } }),
      2,
    );
    assert.equal(hardPolicyName(soft), '');
    assert.throws(
      () => toPlacementRequest(spec({ serverGroup: { uuid: '', policy: GroupPolicy.GROUP_POLICY_AFFINITY } }), 2),
      /group uuid/,
    );
  });
});
