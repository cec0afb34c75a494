import assert from 'node:assert/strict';
import {
  ALL_FILTERS,
  AvailabilityZoneFilter,
  ComputeFilter,
  CoreFilter,
  DiskFilter,
  IgnoreHostsFilter,
  ImagePropertiesFilter,
  RamFilter,
  ServerGroupAffinityFilter,
  ServerGroupAntiAffinityFilter,
  explainFilters,
  filterHosts,
  filtersByName,
} from '../src/filters.js';
import { GroupPolicy } from '../src/request.js';
import { affinity, antiAffinity, host, noGroup, request } from './fixtures.js';

describe('scheduler filters', () => {
  it('ComputeFilter passes only hosts that are up and enabled', () => {
    assert.equal(ComputeFilter.passes(host('a'), request(), noGroup), true);
    assert.equal(ComputeFilter.passes(host('a', { up: false }), request(), noGroup), false);
    assert.equal(ComputeFilter.passes(host('a', { enabled: false }), request(), noGroup), false);
  });

  it('RamFilter applies the allocation ratio against current usage, up to the exact limit', () => {
    const h = host('a', { ramMb: 1000, ramAllocationRatio: 1.5, used: { vcpus: 0, ramMb: 1000, diskGb: 0 } });
    assert.equal(RamFilter.passes(h, request({ ramMb: 500 }), noGroup), true); // 1000 + 500 = 1500 = 1000 * 1.5
    assert.equal(RamFilter.passes(h, request({ ramMb: 501 }), noGroup), false);
  });

  it('CoreFilter over-commits vCPUs by the ratio, floored', () => {
    const h = host('a', { vcpus: 3, cpuAllocationRatio: 1.5, used: { vcpus: 3, ramMb: 0, diskGb: 0 } });
    assert.equal(CoreFilter.passes(h, request({ vcpus: 1 }), noGroup), true); // floor(4.5) = 4
    assert.equal(CoreFilter.passes(h, request({ vcpus: 2 }), noGroup), false);
  });

  it('DiskFilter checks disk and lets zero-disk flavors through a full host', () => {
    const h = host('a', { diskGb: 10, used: { vcpus: 0, ramMb: 0, diskGb: 10 } });
    assert.equal(DiskFilter.passes(h, request({ diskGb: 1 }), noGroup), false);
    assert.equal(DiskFilter.passes(h, request({ diskGb: 0 }), noGroup), true);
  });

  it('ImagePropertiesFilter matches architecture and hypervisor type when the image sets them', () => {
    const h = host('a', { architecture: 'riscv32', hypervisorType: 'hypernova' });
    assert.equal(ImagePropertiesFilter.passes(h, request(), noGroup), true);
    assert.equal(ImagePropertiesFilter.passes(h, request({ architecture: 'riscv32' }), noGroup), true);
    assert.equal(ImagePropertiesFilter.passes(h, request({ architecture: 'x86_64' }), noGroup), false);
    assert.equal(ImagePropertiesFilter.passes(h, request({ hypervisorType: 'qemu' }), noGroup), false);
  });

  it('AvailabilityZoneFilter and IgnoreHostsFilter', () => {
    const h = host('a', { availabilityZone: 'az1' });
    assert.equal(AvailabilityZoneFilter.passes(h, request({ availabilityZone: 'az1' }), noGroup), true);
    assert.equal(AvailabilityZoneFilter.passes(h, request({ availabilityZone: 'az2' }), noGroup), false);
    assert.equal(AvailabilityZoneFilter.passes(h, request(), noGroup), true);
    assert.equal(IgnoreHostsFilter.passes(h, request({ ignoreHosts: new Set(['a']) }), noGroup), false);
  });

  it('anti-affinity drops hosts holding a member; affinity keeps only them once there is one', () => {
    const ctx = { groupHosts: new Map([['a', 1]]) };
    assert.equal(ServerGroupAntiAffinityFilter.passes(host('a'), request({ group: antiAffinity() }), ctx), false);
    assert.equal(ServerGroupAntiAffinityFilter.passes(host('b'), request({ group: antiAffinity() }), ctx), true);
    assert.equal(ServerGroupAffinityFilter.passes(host('a'), request({ group: affinity() }), ctx), true);
    assert.equal(ServerGroupAffinityFilter.passes(host('b'), request({ group: affinity() }), ctx), false);
    assert.equal(ServerGroupAffinityFilter.passes(host('b'), request({ group: affinity() }), noGroup), true);
    // Without a group the group filters let everything through.
    assert.equal(ServerGroupAntiAffinityFilter.passes(host('a'), request(), ctx), true);
  });

  it('soft policies (API 2.15) filter no host out: they only weigh', () => {
    const ctx = { groupHosts: new Map([['a', 2]]) };
    const hosts = [host('a'), host('b')];
    for (const policy of [GroupPolicy.GROUP_POLICY_SOFT_AFFINITY, GroupPolicy.GROUP_POLICY_SOFT_ANTI_AFFINITY]) {
      const req = request({ group: { uuid: 'g-1', policy } });
      assert.deepEqual(
        filterHosts(hosts, req, ctx, ALL_FILTERS).map((h) => h.name),
        ['a', 'b'],
        String(policy),
      );
      assert.ok(
        ALL_FILTERS.every((f) => !f.appliesTo || !/ServerGroup/.test(f.name) || !f.appliesTo(req)),
        'no group filter applies',
      );
    }
  });

  it('filterHosts keeps the hosts passing every filter; explainFilters tells which filter emptied the list', () => {
    const hosts = [host('a'), host('b', { up: false }), host('c', { ramMb: 256 })];
    assert.deepEqual(
      filterHosts(hosts, request({ ramMb: 512 }), noGroup, ALL_FILTERS).map((h) => h.name),
      ['a'],
    );
    assert.deepEqual(filterHosts(hosts, request({ ramMb: 1 << 20 }), noGroup, ALL_FILTERS), []);
    const trail = explainFilters(hosts, request({ ramMb: 1 << 20 }), noGroup, ALL_FILTERS);
    assert.deepEqual(trail.slice(0, 2), [
      { filter: 'ComputeFilter', remaining: 2 },
      { filter: 'IgnoreHostsFilter', remaining: 2 },
    ]);
    assert.deepEqual(trail.at(-1), { filter: 'RamFilter', remaining: 0 });
  });

  it('skipping filters that do not apply to a request never changes the result', () => {
    const hosts = Array.from({ length: 40 }, (_, i) =>
      host(`h${i}`, {
        up: i % 7 !== 0,
        availabilityZone: i % 3 ? 'az1' : 'az2',
        architecture: i % 5 ? 'riscv32' : 'x86_64',
        used: { vcpus: i % 9, ramMb: (i * 997) % 16384, diskGb: i % 100 },
      }),
    );
    const ctx = {
      groupHosts: new Map([
        ['h1', 1],
        ['h2', 1],
      ]),
    };
    const requests = [
      request(),
      request({ availabilityZone: 'az2', ramMb: 4096 }),
      request({ architecture: 'x86_64', ignoreHosts: new Set(['h5']) }),
      request({ group: antiAffinity() }),
      request({ group: affinity() }),
    ];
    for (const req of requests) {
      const naive = hosts.filter((h) => ALL_FILTERS.every((f) => f.passes(h, req, ctx)));
      assert.deepEqual(filterHosts(hosts, req, ctx, ALL_FILTERS), naive);
    }
  });

  it('filtersByName resolves configured names and rejects unknown ones', () => {
    assert.deepEqual(
      filtersByName('ComputeFilter, RamFilter').map((f) => f.name),
      ['ComputeFilter', 'RamFilter'],
    );
    assert.throws(() => filtersByName('NopeFilter'), /unknown filter NopeFilter/);
  });
});
