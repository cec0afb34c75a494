// The full cluster with real VM processes booting the Linux guest: ten instances launched
// concurrently through the API on three compute agents all reach ACTIVE and print BOOT-OK;
// a VM killed with kill -9 shows in the API; an agent restart keeps its guests running and
// re-adopts them; stop and start go through the real VM process.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ensureLinuxGuest, ensureRootfs } from '@hypernova/guest';
import { registerGuestImageSet } from '@hypernova/cluster-state';
import { compute } from '@hypernova/proto';
import { TestCluster } from './cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Instances booted at once: ~2.5 s of CPU each to BOOT-OK, so ten fit in a few minutes on 2 cores. */
const INSTANCES = Number(process.env.HYPERNOVA_CLUSTER_TEST_INSTANCES ?? 10);

describe('cluster with real VMs (Linux guest)', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let ids: string[] = [];

  before(async function () {
    const { image } = await ensureLinuxGuest();
    c = await TestCluster.start({
      vm: 'real',
      kernel: image,
      nodes: 3,
      agent: { vcpus: 8, ramMb: 2048 },
    });
  });

  after(async () => {
    await c?.stop();
  });

  const hostOf = (s: Record<string, unknown>) => s['OS-EXT-SRV-ATTR:host'] as string;

  async function waitConsole(id: string, pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let out = '';
    while (Date.now() < deadline) {
      out = await c.consoleOutput(id);
      if (pattern.test(out)) return out;
      await sleep(1000);
    }
    throw new Error(`${id}: ${pattern} not in the console after ${timeoutMs} ms:\n${out.slice(-2000)}`);
  }

  it(`launches ${INSTANCES} instances at once over 3 nodes: all ACTIVE, all print BOOT-OK`, async () => {
    const started = Date.now();
    ids = await Promise.all(Array.from({ length: INSTANCES }, (_, i) => c.createServer(`boot-${i + 1}`)));
    const servers = await Promise.all(ids.map((id) => c.waitStatus(id, 'ACTIVE', 60_000)));
    assert.equal(new Set(servers.map(hostOf)).size, 3, 'spread over the three nodes');
    await Promise.all(ids.map((id) => waitConsole(id, /BOOT-OK/, 240_000)));
    console.log(
      `      ${INSTANCES} instances ACTIVE with BOOT-OK after ${Math.round((Date.now() - started) / 1000)} s`,
    );
    if (process.getuid?.() === 0) {
      // Agents that run as root confine their VMs: each guest's process has a uid of its own.
      const uids = servers.map((s) => {
        const pid = c.agent(hostOf(s)).vmPids().get(s.id) as number;
        return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      });
      assert.ok(
        uids.every((u) => u >= 200000 && u < 210000),
        `VM uids ${uids.join(' ')}`,
      );
      // The three agents share this machine's kernel: a uid must never serve two of their VMs.
      assert.equal(new Set(uids).size, INSTANCES, `one uid per VM: ${uids.join(' ')}`);
    }
  });

  it('shows a VM process killed with kill -9 as ERROR within seconds', async () => {
    const id = ids[0];
    const s = await c.server(id);
    const pid = c.agent(hostOf(s)).vmPids().get(id) as number;
    const t = Date.now();
    process.kill(pid, 'SIGKILL');
    const after = await c.waitStatus(id, 'ERROR', 5000);
    assert.ok(Date.now() - t < 3000);
    assert.match(after.fault.message, /killed by SIGKILL/);
  });

  it('restarting a compute agent keeps its guests running and re-adopts them', async () => {
    const node = c.agent('node-2');
    const pids = node.vmPids();
    assert.ok(pids.size > 0);
    const [uuid, pid] = [...pids][0];
    await node.stop();
    const beatsBefore = (node.consoleLog(uuid).match(/heartbeat \d+/g) ?? []).length;
    await sleep(2500);
    await node.start();
    const info = await c.rpc(node, 'getInstanceInfo', { instanceUuid: uuid });
    assert.equal(info.powerState, compute.PowerState.POWER_STATE_RUNNING);
    assert.equal(info.pid, pid, 'the same VM process');
    const out = await c.rpc(node, 'getConsoleOutput', { instanceUuid: uuid, lines: 5 });
    const beatsAfter = (node.consoleLog(uuid).match(/heartbeat \d+/g) ?? []).length;
    assert.ok(beatsAfter > beatsBefore, `the guest kept beating (${beatsBefore} -> ${beatsAfter})`);
    assert.match(out.output, /heartbeat \d+/);
    assert.equal((await c.server(uuid)).status, 'ACTIVE');
  });

  it('stops and starts a real guest through the API', async () => {
    const id = ids[1];
    assert.equal((await c.action(id, { 'os-stop': null })).status, 202);
    await c.waitStatus(id, 'SHUTOFF', 30_000);
    assert.equal((await c.action(id, { 'os-start': null })).status, 202);
    await c.waitStatus(id, 'ACTIVE', 30_000);
    // The console log keeps the earlier boot: wait for a second BOOT-OK.
    await waitConsole(id, /BOOT-OK[\s\S]*BOOT-OK/, 120_000);
  });

  it('boots the guest image set with its root disk (kernel_id image + qcow2 overlay over the ext2 base)', async () => {
    const rootfs = await ensureRootfs();
    const image = await registerGuestImageSet(c.nc, c.redis, {
      kernel: rootfs.linux.image,
      rootDisk: rootfs.image,
      rootDiskFormat: 'raw',
    });
    assert.ok(image.properties.kernel_id, 'the disk image names its kernel');
    const id = await c.createServer('rooted', { imageRef: image.id });
    await c.waitStatus(id, 'ACTIVE', 60_000);
    const out = await waitConsole(id, /BOOT-OK/, 120_000);
    assert.match(out, /Mounted root \(ext2 filesystem\)/);
  });
});
