// End to end with Debian's real OpenStack clients against a local 3-node cluster started by the
// launcher (`hypernova cluster up`: nats-server, redis-server, two schedulers, three compute
// agents running real VM processes that boot the Linux guest, the API gateway). The admin boots,
// drives and deletes servers, uploads an image and boots it, spreads a server group; a member
// gets 403 on the admin commands; the legacy `nova` CLI lists servers. Skipped only when the
// clients cannot be installed here.
/* eslint-disable @typescript-eslint/no-explicit-any -- CLI JSON is read field by field */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenStackCli, ensureClients, readOpenrc } from './cli.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const LAUNCHER = join(ROOT, 'cli', 'bin', 'hypernova.js');

/** Starts `hypernova cluster up` and resolves with its openrc path once it prints `openrc: <path>`. */
function clusterUp(dir: string): { child: ChildProcess; ready: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, [LAUNCHER, 'cluster', 'up', '--dir', dir, '--api-port', '0'], {
    env: { ...process.env, HYPERNOVA_ADMIN_PASSWORD: 'e2e-secret', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /^openrc: (.+)$/m.exec(out);
      if (m) resolve(m[1].trim());
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`hypernova cluster up exited (${code}) before it was ready:\n${out}`)),
    );
  });
  return { child, ready, output: () => out };
}

describe('openstack CLI end to end on a local 3-node cluster', function () {
  this.timeout(30 * 60_000);
  let dir: string;
  let cluster: ReturnType<typeof clusterUp> | undefined;
  let os: OpenStackCli;
  const server = async (name: string) => os.json(['server', 'show', name]);

  /** Polls `server show` until its status is `status` with no task running. */
  async function waitStatus(name: string, status: string, timeoutMs = 180_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let s: any;
    while (Date.now() < deadline) {
      s = await server(name);
      if (s.status === status && !s['OS-EXT-STS:task_state']) return s;
      if (s.status === 'ERROR') assert.fail(`${name} went to ERROR: ${JSON.stringify(s.fault)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.fail(`${name} not ${status} after ${timeoutMs} ms: ${s?.status}/${s?.['OS-EXT-STS:task_state']}`);
  }

  /** Polls the console log until the guest printed BOOT-OK `times` times. */
  async function waitBootOk(name: string, times = 1, timeoutMs = 180_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let log = '';
    while (Date.now() < deadline) {
      log = await os.ok(['console', 'log', 'show', name]);
      if ((log.match(/BOOT-OK/g) ?? []).length >= times) return log;
      await new Promise((r) => setTimeout(r, 2000));
    }
    assert.fail(`${name}: BOOT-OK x${times} not in its console after ${timeoutMs} ms:\n${log.slice(-2000)}`);
  }

  before(async function () {
    const clients = ensureClients();
    if (!clients.ok) {
      console.log(`    skipped: ${clients.reason}`);
      this.skip();
    }
    assert.ok(existsSync(LAUNCHER), `${LAUNCHER} missing`);
    dir = mkdtempSync(join(tmpdir(), 'hn-e2e-'));
    cluster = clusterUp(dir);
    const openrc = await cluster.ready;
    os = new OpenStackCli(readOpenrc(openrc));
  });

  after(async () => {
    if (cluster && cluster.child.exitCode === null) {
      const exited = new Promise((r) => cluster?.child.once('exit', r));
      cluster.child.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('boots vm1 with server create --wait, lists and shows it, and its console shows BOOT-OK', async () => {
    const created = await os.json(['server', 'create', '--image', 'guest', '--flavor', 'm1.small', '--wait', 'vm1']);
    assert.equal(created.status, 'ACTIVE');
    const list = await os.json(['server', 'list']);
    assert.deepEqual(
      list.map((s: any) => [s.Name, s.Status, s.Image, s.Flavor]),
      [['vm1', 'ACTIVE', 'guest', 'm1.small']],
    );
    const shown = await server('vm1');
    assert.equal(shown.id, created.id);
    assert.match(shown['OS-EXT-SRV-ATTR:host'], /^node-[123]$/);
    await waitBootOk('vm1');
  });

  it('stops/starts, pauses/unpauses, suspends/resumes and reboots vm1, each a server event', async () => {
    await os.ok(['server', 'stop', 'vm1']);
    await waitStatus('vm1', 'SHUTOFF');
    await os.ok(['server', 'start', 'vm1']);
    await waitStatus('vm1', 'ACTIVE');
    await os.ok(['server', 'pause', 'vm1']);
    await waitStatus('vm1', 'PAUSED');
    await os.ok(['server', 'unpause', 'vm1']);
    await waitStatus('vm1', 'ACTIVE');
    await os.ok(['server', 'suspend', 'vm1']);
    await waitStatus('vm1', 'SUSPENDED');
    await os.ok(['server', 'resume', 'vm1']);
    await waitStatus('vm1', 'ACTIVE');
    await os.ok(['server', 'reboot', '--wait', 'vm1']);
    await waitStatus('vm1', 'ACTIVE');
    // Started twice more (start, reboot), the guest boots again each time.
    await waitBootOk('vm1', 3);
    const events = await os.json(['server', 'event', 'list', 'vm1']);
    assert.deepEqual(
      events.map((e: any) => e.Action),
      ['reboot', 'resume', 'suspend', 'unpause', 'pause', 'start', 'stop', 'create'],
    );
    const create = events[events.length - 1];
    const shown = await os.json(['server', 'event', 'show', 'vm1', create['Request ID']]);
    assert.ok(
      shown.events.some((e: any) => e.event === 'compute__do_build_and_run_instance' && e.result === 'Success'),
      JSON.stringify(shown.events),
    );
  });

  it('live-migrates vm1 with server migrate --live-migration --block-migration --wait; it runs on at another host', async () => {
    const beats = async () =>
      [...(await os.run('openstack', ['console', 'log', 'show', 'vm1'])).out.matchAll(/heartbeat (\d+)/g)].map((m) =>
        Number(m[1]),
      );
    const before = (await server('vm1'))['OS-EXT-SRV-ATTR:host'];
    const lastBefore = Math.max(0, ...(await beats()));
    // At 2.1 (the OSC default) instance disks must travel: they are local to each node.
    await os.ok(['server', 'migrate', '--live-migration', '--block-migration', '--wait', 'vm1']);
    const after = await server('vm1');
    assert.equal(after.status, 'ACTIVE');
    assert.notEqual(after['OS-EXT-SRV-ATTR:host'], before);
    const migrations = await os.json(['server', 'migration', 'list', '--server', 'vm1']);
    assert.equal(migrations[0].Status, 'completed', JSON.stringify(migrations));
    assert.equal(migrations[0]['Source Compute'], before);
    assert.equal(migrations[0]['Dest Compute'], after['OS-EXT-SRV-ATTR:host']);
    // The console log is now the new host's: the guest counts on there from where it was.
    const deadline = Date.now() + 30_000;
    let there = await beats();
    while (there.length < 2) {
      assert.ok(Date.now() < deadline, `no heartbeats on the new host: ${there}`);
      await new Promise((r) => setTimeout(r, 1000));
      there = await beats();
    }
    assert.ok(there[0] > lastBefore, `heartbeat ${there[0]} there after ${lastBefore} here`);
  });

  it('shows hypervisors (with usage), compute services, flavors and images', async () => {
    const hypervisors = await os.json(['hypervisor', 'list', '--long']);
    assert.deepEqual(hypervisors.map((h: any) => h['Hypervisor Hostname']).sort(), ['node-1', 'node-2', 'node-3']);
    assert.equal(
      hypervisors.reduce((n: number, h: any) => n + h['vCPUs Used'], 0),
      1,
    );
    assert.equal(
      hypervisors.reduce((n: number, h: any) => n + h['Memory MB Used'], 0),
      128,
    );
    const services = await os.json(['compute', 'service', 'list']);
    assert.deepEqual(services.map((s: any) => [s.Binary, s.Host, s.State]).sort(), [
      ['nova-compute', 'node-1', 'up'],
      ['nova-compute', 'node-2', 'up'],
      ['nova-compute', 'node-3', 'up'],
    ]);
    const flavors = await os.json(['flavor', 'list']);
    assert.ok(flavors.some((f: any) => f.Name === 'm1.small' && f.RAM === 128));
    const images = await os.json(['image', 'list']);
    assert.deepEqual(images.map((i: any) => i.Name).sort(), ['guest', 'guest-kernel']);
  });

  it('uploads a guest disk with image create --file and boots it; anti-affinity puts two servers on different hosts', async () => {
    const guest = await os.json(['image', 'show', 'guest']);
    const disk = join(dir, 'guest-disk.img');
    await os.ok(['image', 'save', '--file', disk, 'guest']);
    const uploaded = await os.json([
      'image',
      'create',
      '--file',
      disk,
      '--disk-format',
      'raw',
      '--container-format',
      'bare',
      '--property',
      `kernel_id=${guest.properties.kernel_id}`,
      '--property',
      `os_command_line=${guest.properties.os_command_line}`,
      '--property',
      'architecture=riscv32',
      'uploaded',
    ]);
    const shown = await os.json(['image', 'show', uploaded.id]);
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, guest.size);
    assert.equal(shown.checksum, guest.checksum);

    const group = await os.json(['server', 'group', 'create', '--policy', 'anti-affinity', 'spread']);
    for (const [name, image] of [
      ['g1', 'uploaded'],
      ['g2', 'guest'],
    ]) {
      const s = await os.json([
        'server',
        'create',
        '--image',
        image,
        '--flavor',
        'm1.small',
        '--hint',
        `group=${group.id}`,
        '--wait',
        name,
      ]);
      assert.equal(s.status, 'ACTIVE');
    }
    const [h1, h2] = [(await server('g1'))['OS-EXT-SRV-ATTR:host'], (await server('g2'))['OS-EXT-SRV-ATTR:host']];
    assert.notEqual(h1, h2, 'anti-affinity: different hosts');
    // The server booted from the uploaded image: its node pulled it from the object store.
    await waitBootOk('g1');
    const members = (await os.json(['server', 'group', 'show', 'spread'])).members;
    assert.equal(String(members).split(',').length, 2);
  });

  it('manages keypairs, quotas and limits', async () => {
    const key = await os.ok(['keypair', 'create', 'e2e-key']);
    assert.match(key, /BEGIN RSA PRIVATE KEY/);
    assert.deepEqual(
      (await os.json(['keypair', 'list'])).map((k: any) => k.Name),
      ['e2e-key'],
    );
    const limits = await os.json(['limits', 'show', '--absolute']);
    const used = limits.find((l: any) => l.Name === 'totalInstancesUsed');
    assert.equal(used.Value, 3);
    await os.ok(['quota', 'set', '--instances', '25', 'admin']);
    assert.equal((await os.json(['quota', 'show', 'admin'])).instances, 25);
    await os.ok(['keypair', 'delete', 'e2e-key']);
  });

  it('refuses the admin commands to a member with 403', async () => {
    await os.ok(['project', 'create', 'demo']);
    await os.ok(['user', 'create', '--password', 'demo-pw', '--project', 'demo', 'demo']);
    await os.ok(['role', 'add', '--project', 'demo', '--user', 'demo', 'member']);
    const member = { OS_USERNAME: 'demo', OS_PASSWORD: 'demo-pw', OS_PROJECT_NAME: 'demo' };
    assert.deepEqual(await os.json(['server', 'list'], member), [], "members do not see the admin's servers");
    const demoId = (await os.json(['project', 'show', 'demo'])).id;
    await os.fails(['hypervisor', 'list'], 403, member);
    await os.fails(['compute', 'service', 'list'], 403, member);
    await os.fails(['server', 'migration', 'list'], 403, member);
    await os.fails(['flavor', 'create', '--ram', '64', '--vcpus', '1', '--disk', '1', 'mine'], 403, member);
    await os.fails(['flavor', 'delete', 'm1.tiny'], 403, member);
    await os.fails(['quota', 'set', '--instances', '50', demoId], 403, member);
    const hidden = await os.run('openstack', ['server', 'show', 'vm1'], member);
    assert.notEqual(hidden.code, 0);
    assert.match(hidden.out, /No server with a name or ID of 'vm1' exists/);
    const mine = await os.json(
      ['server', 'create', '--image', 'guest', '--flavor', 'm1.tiny', '--wait', 'demo-vm'],
      member,
    );
    assert.equal(mine.status, 'ACTIVE');
    await os.ok(['server', 'delete', '--wait', 'demo-vm'], member);
  });

  it('lists servers with the legacy nova CLI', async () => {
    const r = await os.run('nova', ['list']);
    assert.equal(r.code, 0, r.out);
    for (const name of ['vm1', 'g1', 'g2']) assert.match(r.out, new RegExp(`\\| ${name} +\\| ACTIVE`));
  });

  it('deletes every server with server delete --wait', async () => {
    await os.ok(['server', 'delete', '--wait', 'vm1', 'g1', 'g2']);
    assert.deepEqual(await os.json(['server', 'list']), []);
    const hypervisors = await os.json(['hypervisor', 'list', '--long']);
    assert.equal(
      hypervisors.reduce((n: number, h: any) => n + h['Memory MB Used'], 0),
      0,
      'every claim released',
    );
  });
});
