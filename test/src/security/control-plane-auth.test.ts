// The control plane accepts only its own: Redis, NATS and gRPC each refuse a client without
// credentials and one with another cluster's (wrong password, a certificate or NATS user from
// another CA/operator), and serve the right one; a service's Redis user cannot run admin
// commands; a VM process's per-migration NATS user reaches its migration's subjects and nothing
// else. Prints what each connection got.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  callUnary,
  connectNats,
  createRedis,
  ensureClusterCredentials,
  grpcClientCredentials,
  loadCredentials,
  startGrpcServer,
  subjects,
  type ClientCredentials,
  type Credentials,
  type GrpcServerHandle,
} from '@hypernova/common';
import { migrationCredentials } from '@hypernova/compute-node';
import { health } from '@hypernova/proto';
import { startInfra, testCredentials, type Infra } from '../harness/index.js';

/** 'ok', or the start of the error the attempt ended with. */
async function outcome(attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt();
    return 'ok';
  } catch (err) {
    return `refused: ${(err as Error).message.split('\n')[0]?.slice(0, 90)}`;
  }
}

function report(what: string, got: string): string {
  console.log(`      ${what.padEnd(52)} ${got}`);
  return got;
}

describe('control plane authentication (Redis ACL/TLS, NATS operator/TLS, gRPC mTLS)', function () {
  this.timeout(60_000);
  let infra: Infra;
  let other: string;
  /** Another cluster's identity: its CA, certificate, Redis password and NATS user are all foreign. */
  let foreign: Credentials;
  let own: (name: 'gateway' | 'scheduler' | 'compute' | 'admin') => Credentials;

  before(async () => {
    infra = await startInfra();
    other = mkdtempSync(join(tmpdir(), 'hn-other-cluster-'));
    const set = ensureClusterCredentials(other, [{ name: 'gateway', role: 'gateway' }]);
    foreign = loadCredentials(set.dir('gateway')) as Credentials;
    own = (name) => loadCredentials(testCredentials().dir(name)) as Credentials;
  });

  after(async () => {
    await infra?.stop();
    rmSync(other, { recursive: true, force: true });
  });

  describe('Redis', () => {
    const ping = async (url: string, credentials: ClientCredentials | null) => {
      const redis = createRedis(url, {
        credentials,
        options: { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 },
      });
      try {
        return await redis.ping();
      } finally {
        redis.disconnect();
      }
    };

    it('refuses a client without credentials, a wrong password and plaintext; serves its user', async () => {
      const { ca } = own('gateway');
      const url = infra.redis.url;
      const none = report('redis: TLS, no user (default user off)', await outcome(() => ping(url, { ca })));
      const wrong = report(
        'redis: wrong password',
        await outcome(() => ping(url, { ca, redis: { username: 'gateway', password: foreign.redis!.password } })),
      );
      const foreignCa = report('redis: server not from the trusted CA', await outcome(() => ping(url, foreign)));
      const plain = report(
        'redis: plaintext to the TLS port',
        await outcome(() => ping(url.replace('rediss:', 'redis:'), own('gateway'))),
      );
      const right = report('redis: the gateway user', await outcome(() => ping(url, own('gateway'))));
      for (const r of [none, wrong, foreignCa, plain]) assert.match(r, /^refused/);
      assert.equal(right, 'ok');
    });

    it("a service's user runs data commands on hn:* only, no FLUSHALL/CONFIG/ACL/DEBUG/KEYS", async () => {
      const redis = createRedis(infra.redis.url, { credentials: own('scheduler') });
      try {
        assert.equal(await redis.set('hn:security-probe', '1'), 'OK');
        assert.equal(await redis.eval("return redis.call('GET', KEYS[1])", 1, 'hn:security-probe'), '1');
        const denied: string[][] = [
          ['flushall'],
          ['flushdb'],
          ['config', 'get', 'dir'],
          ['config', 'set', 'dir', '/tmp'],
          ['acl', 'list'],
          ['debug', 'sleep', '0'],
          ['keys', '*'],
          ['shutdown'],
          ['set', 'outside', '1'],
        ];
        for (const [cmd, ...args] of denied) {
          const got = report(
            `redis: scheduler runs ${[cmd, ...args].join(' ')}`,
            await outcome(() => redis.call(cmd!, ...args)),
          );
          // DEBUG is refused before the ACL is consulted (enable-debug-command is off by default).
          assert.match(got, /^refused: (NOPERM|ERR DEBUG command not allowed)/);
        }
      } finally {
        redis.disconnect();
      }
    });
  });

  describe('NATS', () => {
    const attempt = async (credentials: ClientCredentials | null) => {
      const nc = await connectNats(infra.nats.url, { credentials });
      // connectNats reconnects forever; a refused connection never gets here.
      await nc.close();
    };
    const once = (credentials: ClientCredentials | null) =>
      outcome(() =>
        Promise.race([
          attempt(credentials),
          new Promise((_, reject) => setTimeout(() => reject(new Error('no connection within 3 s')), 3000)),
        ]),
      );

    it("refuses a client without a user, another operator's user and plaintext; serves its user", async () => {
      const { ca } = own('gateway');
      const none = report('nats: TLS, no user', await once({ ca }));
      const wrong = report("nats: another operator's user", await once({ ca, natsCreds: foreign.natsCreds }));
      const foreignCa = report('nats: server not from the trusted CA', await once(foreign));
      const plain = report('nats: client without the CA or a user', await once(null));
      const right = report('nats: the gateway user', await once(own('gateway')));
      for (const r of [none, wrong, foreignCa, plain]) assert.match(r, /^refused/);
      assert.equal(right, 'ok');
    });

    it('a migration user publishes and subscribes on its migration only', async () => {
      const admin = await connectNats(infra.nats.url, { credentials: own('admin') });
      const creds = migrationCredentials(own('compute'), 'mig-a');
      const vm = await connectNats(infra.nats.url, { credentials: { ca: own('compute').ca, natsCreds: creds } });
      const errors: string[] = [];
      void (async () => {
        // Each refusal arrives as an error status (PERMISSIONS_VIOLATION); the connection stays.
        for await (const s of vm.status()) if (s.type === 'error') errors.push(String(s.data));
      })();
      try {
        const seen = new Set<string>();
        const sub = admin.subscribe('hn.>', { callback: (_, m) => seen.add(m.subject) });
        await admin.flush();
        const own_ = `${subjects.migration('mig-a')}.data`;
        const others = [
          `${subjects.migration('mig-b')}.data`,
          subjects.instanceEvents('i-1'),
          subjects.hostEvents('h'),
        ];
        for (const s of [own_, ...others]) vm.publish(s, 'x');
        await vm.flush();
        await new Promise((r) => setTimeout(r, 300));
        sub.unsubscribe();
        report(`nats: migration user publishes on ${own_}`, seen.has(own_) ? 'ok' : 'lost');
        for (const s of others) report(`nats: migration user publishes on ${s}`, seen.has(s) ? 'delivered' : 'refused');
        assert.ok(seen.has(own_));
        for (const s of others) assert.ok(!seen.has(s), `${s} must not get through`);
        const violations = errors.length;
        assert.ok(violations >= others.length, errors.join('; '));
        const forbiddenSub = vm.subscribe(`${subjects.migration('mig-b')}.>`);
        await vm.flush();
        await new Promise((r) => setTimeout(r, 200));
        forbiddenSub.unsubscribe();
        const subRefused = errors.length > violations;
        report("nats: migration user subscribes to another's", subRefused ? 'refused' : 'allowed');
        assert.ok(subRefused, errors.join('; '));
      } finally {
        await vm.close();
        await admin.close();
      }
    });
  });

  describe('gRPC', () => {
    let server: GrpcServerHandle;
    before(async () => {
      server = await startGrpcServer({ services: [], address: '127.0.0.1:0', credentials: own('compute') });
    });
    after(() => server?.close(0));

    const check = async (creds: ReturnType<typeof grpcClientCredentials>) => {
      const client = new health.HealthClient(`127.0.0.1:${server.port}`, creds);
      try {
        return (await callUnary(client.check.bind(client), { service: '' }, 3000)).status;
      } finally {
        client.close();
      }
    };

    it('refuses plaintext, a certificate from another CA and the wrong role; serves mutual TLS', async () => {
      const none = report('grpc: plaintext client', await outcome(() => check(grpcClientCredentials('compute', null))));
      const wrong = report(
        'grpc: client certificate from another CA',
        await outcome(() => check(grpcClientCredentials('compute', { ...foreign, ca: own('gateway').ca }))),
      );
      const foreignCa = report(
        'grpc: server not from the trusted CA',
        await outcome(() => check(grpcClientCredentials('compute', foreign))),
      );
      const role = report(
        'grpc: a compute server where a scheduler is wanted',
        await outcome(() => check(grpcClientCredentials('scheduler', own('gateway')))),
      );
      const right = report(
        'grpc: the gateway calling a compute node',
        await outcome(() => check(grpcClientCredentials('compute', own('gateway')))),
      );
      for (const r of [none, wrong, foreignCa, role]) assert.match(r, /^refused/);
      assert.equal(right, 'ok');
    });
  });
});
