// VM process confinement (compute-node confinement.ts) as the agent applies it when root: two
// VMs' processes, each replaced by a probe that reports who it is and what it can reach, and a
// matrix of what one may touch of its own, of the other VM's and of the node's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@hypernova/common';
import { UidPool, VmJail, vmEnvironment, type VmIdentity } from '@hypernova/compute-node';
import { useRedis } from '../harness/index.js';

const PROBE = fileURLToPath(new URL('./probe.js', import.meta.url));
const LIMITS = { openFiles: 256, processes: 128 };

interface Report {
  uid: number;
  gid: number;
  groups: number[];
  caps: string[];
  noNewPrivs: string;
  env: string[];
  openFiles: string;
  processes: string;
  core: string;
  fds: string[];
  mountNs: string;
  root: string[];
  read: Record<string, string>;
  write: Record<string, string>;
  list: Record<string, string[]>;
}

function run(argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const [exe, ...args] = argv;
    const child = spawn(exe!, args, { env: vmEnvironment({}), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('security: VM process confinement', function () {
  this.timeout(60_000);
  const redis = useRedis();
  let state: string;
  let jail: VmJail;
  let pool: UidPool;

  before(function () {
    if (process.getuid?.() !== 0) this.skip(); // confinement needs root; the agent then runs VMs as itself
    state = mkdtempSync(join(tmpdir(), 'hn-confine-'));
    mkdirSync(join(state, 'images'));
    writeFileSync(join(state, 'images', 'base'), 'base image');
    // Writable by its mode: only the read-only mount keeps a VM from writing it.
    chmodSync(join(state, 'images', 'base'), 0o666);
    writeFileSync(join(state, 'agent-secret'), 'nats password');
    jail = new VmJail(join(state, 'jail'), [state], LIMITS);
    pool = new UidPool(redis(), 'node-sec', 200100, 200101, createLogger('test', { level: 'silent' }));
  });
  after(() => {
    if (state) rmSync(state, { recursive: true, force: true });
  });

  /** An instance directory as the agent makes one: its meta (the agent's), disk and serial log (the VM's). */
  function instance(uuid: string, who: VmIdentity): { dir: string; disk: string; meta: string } {
    const dir = join(state, 'instances', uuid);
    mkdirSync(dir, { recursive: true });
    const disk = join(dir, 'disk.qcow2');
    const meta = join(dir, 'instance.json');
    writeFileSync(disk, 'disk');
    writeFileSync(meta, '{}', { mode: 0o600 });
    writeFileSync(join(dir, 'serial.log'), '');
    VmJail.own(who, [dir], [disk, join(dir, 'serial.log')]);
    return { dir, disk, meta };
  }

  it('gives each VM its own uid from the range, recorded in Redis, and frees it', async () => {
    const a = await pool.allocate('vm-a');
    const b = await pool.allocate('vm-b');
    assert.notEqual(a.uid, b.uid);
    assert.deepEqual(await pool.allocate('vm-a'), a, 'an instance keeps its uid');
    await assert.rejects(pool.allocate('vm-c'), /no free VM uid in 200100-200101/);
    assert.deepEqual(await redis().hgetall('hn:host:node-sec:vm-uids'), { [a.uid]: 'vm-a', [b.uid]: 'vm-b' });
    await pool.release('vm-c', b); // not its holder: nothing happens
    assert.equal(await redis().hget('hn:host:node-sec:vm-uids', String(b.uid)), 'vm-b');
    await pool.release('vm-a', a);
    await pool.release('vm-b', b);
    assert.deepEqual(await redis().hgetall('hn:host:node-sec:vm-uids'), {});
  });

  it('confines a VM process: uid, capabilities, environment, limits, files, mounts', async () => {
    const whoA = await pool.allocate('vm-a');
    const whoB = await pool.allocate('vm-b');
    const a = instance('vm-a', whoA);
    const b = instance('vm-b', whoB);
    const base = join(state, 'images', 'base');
    const argv = jail.wrap(
      [
        process.execPath,
        PROBE,
        ...['--read', a.disk, '--read', b.disk, '--read', base, '--read', join(state, 'agent-secret')],
        ...['--write', a.disk, '--write', a.meta, '--write', b.disk, '--write', base],
        ...['--list', join(state, 'instances'), '--list', a.dir],
      ],
      whoA,
      [a.dir],
      // Twice, as when a kernel image is also the disk's backing file.
      [base, base],
    );
    const { code, out, err } = await run(argv);
    assert.equal(code, 0, err);
    const r = JSON.parse(out) as Report;
    const matrix: [string, string, string][] = [
      ['uid (own, from the range)', String(r.uid), String(whoA.uid)],
      ['gid', String(r.gid), String(whoA.gid)],
      ['supplementary groups', r.groups.join(',') || 'none', `${whoA.gid} or none`],
      ['capabilities inh/prm/eff/bnd/amb', r.caps.join('/'), 'all 0'],
      ['no_new_privs', r.noNewPrivs, '1'],
      ['environment', r.env.join(' '), 'PATH'],
      ['RLIMIT_NOFILE / NPROC / CORE', `${r.openFiles} / ${r.processes} / ${r.core}`, '256 / 128 / 0'],
      ['open files', r.fds.filter((f) => f.startsWith('/')).join(' '), 'no agent file'],
      ['mount namespace', r.mountNs === readlinkSync('/proc/self/ns/mnt') ? "the agent's" : 'its own', 'its own'],
      ['read own disk', r.read[a.disk]!, 'ok'],
      ['write own disk', r.write[a.disk]!, 'ok'],
      ["write own instance.json (the agent's)", r.write[a.meta]!, 'EACCES'],
      ["read VM B's disk", r.read[b.disk]!, 'ENOENT'],
      ["write VM B's disk", r.write[b.disk]!, 'ENOENT'],
      ['read base image', r.read[base]!, 'ok'],
      ['write base image', r.write[base]!, 'EROFS'],
      ["read the agent's files", r.read[join(state, 'agent-secret')]!, 'ENOENT'],
      ['instances it sees', r.list[join(state, 'instances')]!.join(' '), 'vm-a'],
    ];
    console.log(
      matrix.map(([what, got, want]) => `      ${what.padEnd(38)} ${got.padEnd(44)} (want ${want})`).join('\n'),
    );
    assert.equal(r.uid, whoA.uid);
    assert.equal(r.gid, whoA.gid);
    assert.ok(r.groups.every((g) => g === whoA.gid));
    assert.deepEqual(r.caps, Array(5).fill('0000000000000000'));
    assert.equal(r.noNewPrivs, '1');
    assert.deepEqual(r.env, ['PATH']);
    assert.deepEqual([r.openFiles, r.processes, r.core], ['256', '128', '0']);
    assert.ok(!r.fds.some((f) => f.startsWith(state)), `no agent file open: ${r.fds.join(' ')}`);
    assert.notEqual(r.mountNs, readlinkSync('/proc/self/ns/mnt'));
    assert.deepEqual(
      [r.read[a.disk], r.write[a.disk], r.write[a.meta]],
      ['ok', 'ok', 'EACCES'],
      'its disk is its own, its meta is not',
    );
    assert.deepEqual(
      [r.read[b.disk], r.write[b.disk]],
      ['ENOENT', 'ENOENT'],
      "another VM's disk does not exist for it",
    );
    assert.deepEqual([r.read[base], r.write[base]], ['ok', 'EROFS'], 'base images are read-only');
    assert.equal(r.read[join(state, 'agent-secret')], 'ENOENT');
    assert.deepEqual(r.list[join(state, 'instances')], ['vm-a']);
    assert.ok(!r.root.includes('root') && !r.root.includes('home'), `its root: ${r.root.join(' ')}`);
    // The namespace and its mounts went with the process.
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(join(state, 'jail')), 'no mount left behind');
    await pool.release('vm-a', whoA);
    await pool.release('vm-b', whoB);
  });
});
