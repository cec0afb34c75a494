import assert from 'node:assert/strict';
import { GroupPolicy } from '../src/request.js';
import { DEFAULT_MULTIPLIERS, createWeighers, normalize, weighHosts } from '../src/weighers.js';
import { host, noGroup, request } from './fixtures.js';

const used = (ramMb: number, vcpus = 0, diskGb = 0) => ({ used: { vcpus, ramMb, diskGb } });
const only = (over: Partial<typeof DEFAULT_MULTIPLIERS>) => ({
  ram: 0,
  cpu: 0,
  disk: 0,
  softAffinity: 0,
  softAntiAffinity: 0,
  ...over,
});

describe('scheduler weighers', () => {
  it('normalize maps min..max to 0..1 and equal values to 0, as Nova does', () => {
    assert.deepEqual(Array.from(normalize([10, 20, 30])), [0, 0.5, 1]);
    assert.deepEqual(Array.from(normalize([5, 5])), [0, 0]);
    assert.deepEqual(Array.from(normalize([])), []);
  });

  it('RAM weigher spreads by default: the host with most free RAM first', () => {
    const hosts = [host('a', used(8000)), host('b', used(1000)), host('c', used(4000))];
    const ranked = weighHosts(hosts, request(), noGroup, createWeighers(DEFAULT_MULTIPLIERS));
    assert.deepEqual(
      ranked.map((w) => w.host.name),
      ['b', 'c', 'a'],
    );
  });

  it('a negative RAM multiplier stacks: the fullest host first', () => {
    const hosts = [host('a', used(8000)), host('b', used(1000)), host('c', used(4000))];
    const ranked = weighHosts(hosts, request(), noGroup, createWeighers(only({ ram: -1 })));
    assert.deepEqual(
      ranked.map((w) => w.host.name),
      ['a', 'c', 'b'],
    );
  });

  it('free RAM counts the allocation ratio', () => {
    const hosts = [
      host('a', { ramMb: 1000, ramAllocationRatio: 2 }),
      host('b', { ramMb: 1500, ramAllocationRatio: 1 }),
    ];
    const ranked = weighHosts(hosts, request(), noGroup, createWeighers(only({ ram: 1 })));
    assert.equal(ranked[0]?.host.name, 'a');
  });

  it('multipliers scale normalized weights, so a heavier weigher wins', () => {
    // a: more free RAM; b: more free vCPUs. CPU at 3x outweighs RAM at 1x.
    const hosts = [host('a', used(0, 6)), host('b', used(8000, 0))];
    const ram = weighHosts(hosts, request(), noGroup, createWeighers(only({ ram: 1, cpu: 0.5 })));
    assert.equal(ram[0]?.host.name, 'a');
    const cpu = weighHosts(hosts, request(), noGroup, createWeighers(only({ ram: 1, cpu: 3 })));
    assert.equal(cpu[0]?.host.name, 'b');
    assert.equal(cpu[0]?.weight, 3);
  });

  it('disk weigher prefers free disk', () => {
    const hosts = [host('a', used(0, 0, 90)), host('b', used(0, 0, 10))];
    assert.equal(weighHosts(hosts, request(), noGroup, createWeighers(only({ disk: 1 })))[0]?.host.name, 'b');
  });

  it('soft affinity pulls toward group members, soft anti-affinity pushes away', () => {
    const hosts = [host('a'), host('b')];
    const ctx = { groupHosts: new Map([['b', 2]]) };
    const w = createWeighers(only({ softAffinity: 1, softAntiAffinity: 1 }));
    const soft = (policy: GroupPolicy) => request({ group: { uuid: 'g', policy } });
    assert.equal(weighHosts(hosts, soft(GroupPolicy.GROUP_POLICY_SOFT_AFFINITY), ctx, w)[0]?.host.name, 'b');
    assert.equal(weighHosts(hosts, soft(GroupPolicy.GROUP_POLICY_SOFT_ANTI_AFFINITY), ctx, w)[0]?.host.name, 'a');
  });

  it('a limit returns the same best hosts as a full ranking, ties in input order', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => host(`h${i}`, used(((i * 7919) % 13) * 1000)));
    const w = createWeighers(DEFAULT_MULTIPLIERS);
    const full = weighHosts(hosts, request(), noGroup, w).map((x) => x.host.name);
    for (const limit of [1, 3, 10, 49]) {
      assert.deepEqual(
        weighHosts(hosts, request(), noGroup, w, limit).map((x) => x.host.name),
        full.slice(0, limit),
      );
    }
  });

  it('zero multipliers drop their weigher', () => {
    assert.deepEqual(
      createWeighers(only({ ram: 1 })).map((w) => w.name),
      ['RAMWeigher'],
    );
  });
});
