// `hypernova cluster up` as a user runs it: the whole topology comes up, the openrc it writes
// gets an admin token from the API, the three compute nodes are up, cluster.json lists the
// endpoints and no secret (nor does any log), and SIGTERM stops every service it started.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../../cli/bin/hypernova.js', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The pids of the processes whose command line mentions `needle` (the cluster's directory). */
function pidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const env = readFileSync(`/proc/${p}/environ`, 'utf8');
      if (cmd.includes(needle) || env.includes(needle)) pids.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function childrenOf(ppid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('hypernova cluster up (local launcher)', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hn-up-'));
  });

  after(() => {
    for (const pid of pidsMentioning(dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the topology, writes openrc once healthy, and stops everything on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'cluster', 'up', '--dir', dir, '--api-port', '0', '--no-guest'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn', HYPERNOVA_ADMIN_PASSWORD: 'launcher-test' },
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const deadline = Date.now() + 90_000;
    while (!/^openrc: (.+)$/m.test(out)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `no openrc line:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const openrc = (out.match(/^openrc: (.+)$/m) as RegExpMatchArray)[1];
    assert.equal(statSync(openrc).mode & 0o777, 0o600, 'the openrc holds a password: 0600');
    const env = Object.fromEntries(
      [...readFileSync(openrc, 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
    );
    for (const k of [
      'OS_AUTH_URL',
      'OS_USERNAME',
      'OS_PASSWORD',
      'OS_PROJECT_NAME',
      'OS_USER_DOMAIN_ID',
      'OS_PROJECT_DOMAIN_ID',
      'OS_IDENTITY_API_VERSION',
      'OS_REGION_NAME',
    ]) {
      assert.ok(env[k], `${k} in openrc`);
    }
    assert.equal(env.OS_PASSWORD, 'launcher-test');
    const auth = await fetch(`${env.OS_AUTH_URL}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: { name: env.OS_USERNAME, password: env.OS_PASSWORD, domain: { id: env.OS_USER_DOMAIN_ID } },
            },
          },
          scope: { project: { name: env.OS_PROJECT_NAME, domain: { id: env.OS_PROJECT_DOMAIN_ID } } },
        },
      }),
    });
    assert.equal(auth.status, 201);
    const token = auth.headers.get('x-subject-token') as string;
    const computeUrl = env.OS_AUTH_URL.replace(/\/identity\/v3$/, '/compute/v2.1');
    const hv = (await (await fetch(`${computeUrl}/os-hypervisors`, { headers: { 'x-auth-token': token } })).json()) as {
      hypervisors: { hypervisor_hostname: string; state: string }[];
    };
    assert.deepEqual(hv.hypervisors.map((h) => `${h.hypervisor_hostname}:${h.state}`).sort(), [
      'node-1:up',
      'node-2:up',
      'node-3:up',
    ]);
    const clusterJson = readFileSync(join(dirname(openrc), 'cluster.json'), 'utf8');
    const cluster = JSON.parse(clusterJson) as Record<string, unknown> & { compute: { host: string; grpc: string }[] };
    assert.equal(cluster.gateway, env.OS_AUTH_URL.replace(/\/identity\/v3$/, ''));
    assert.match((cluster.redis as string[])[0] ?? '', /^rediss:\/\/127\.0\.0\.1:\d+$/);
    assert.match((cluster.nats as string[])[0] ?? '', /^nats:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      cluster.compute.map((c) => c.host),
      ['node-1', 'node-2', 'node-3'],
    );
    const secrets = readdirSync(join(dir, 'credentials')).flatMap((id) =>
      ['redis.password', 'tls.key', 'nats-account.nk'].flatMap((f) => {
        const p = join(dir, 'credentials', id, f);
        return existsSync(p) ? [readFileSync(p, 'utf8').trim()] : [];
      }),
    );
    assert.ok(secrets.length >= 7, 'a password per service');
    const logs = readdirSync(join(dir, 'logs')).map((f) => readFileSync(join(dir, 'logs', f), 'utf8'));
    for (const s of secrets) {
      assert.ok(!clusterJson.includes(s), 'cluster.json holds no secret');
      assert.ok(!out.includes(s) && logs.every((l) => !l.includes(s)), 'no secret in the output or a log');
    }
    console.log(
      `      cluster.json: ${Object.keys(cluster).join(', ')}; ${secrets.length} secrets absent from it and the logs`,
    );
    for (const name of ['nats', 'redis', 'scheduler-1', 'scheduler-2', 'node-1', 'node-2', 'node-3', 'api-gateway']) {
      assert.ok(existsSync(join(dir, 'logs', `${name}.log`)), `${name}.log`);
    }
    const services = childrenOf(child.pid as number);
    assert.equal(services.length, 8, 'nats, redis, 2 schedulers, 3 agents, the gateway');

    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /cluster: stopped/);
    const left = services.filter(alive);
    assert.deepEqual(left, [], 'every service stopped');
  });
});
