// Keystone's credential handling against real Redis: scrypt password hashes (upgraded on login),
// tokens kept only as digests with Keystone's expiry, revocation when a user is disabled,
// deleted, given a new password or loses a role, and the failed-login lockout that never tells
// whether a user exists.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ADMIN_PASSWORD, Cluster, passwordAuth, type ApiResponse } from './cluster.js';

const LOCKOUT_S = 2;

describe('api-gateway: Keystone credentials and tokens', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start({
      env: {
        HYPERNOVA_LOCKOUT_FAILURE_ATTEMPTS: '3',
        HYPERNOVA_LOCKOUT_ADDRESS_ATTEMPTS: '0',
        HYPERNOVA_LOCKOUT_DURATION_S: String(LOCKOUT_S),
      },
    });
  });
  after(async () => {
    await c?.stop();
  });

  const login = (user: string, password: string, project?: string): Promise<ApiResponse> =>
    c.request('POST', '/identity/v3/auth/tokens', { body: passwordAuth(user, password, project) });
  const works = async (token: string) => (await c.compute('GET', '/servers', { token })).status === 200;
  const storedUser = async (id: string) => JSON.parse((await c.redis.hget('hn:identity:users', id)) as string);
  const patchUser = (id: string, user: object) =>
    c.request('PATCH', `/identity/v3/users/${id}`, { token: c.adminToken, body: { user } });

  it('stores salted scrypt hashes with their parameters, and upgrades weaker ones on login', async () => {
    const t = await c.tenant('hash');
    const first = await storedUser(t.userId);
    assert.match(first.passwordHash, /^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{86}$/);
    assert.ok(!JSON.stringify(first).includes('hash-pw'));
    // Same password, another user: another salt, another hash.
    const u = await c.request('POST', '/identity/v3/users', {
      token: c.adminToken,
      body: { user: { name: 'hash-twin', password: 'hash-pw' } },
    });
    assert.notEqual((await storedUser(u.body.user.id)).passwordHash, first.passwordHash);

    // A hash made with a lower cost (as an older release would have) still verifies, and is redone.
    const { scrypt } = await import('node:crypto');
    const salt = Buffer.from('0123456789abcdef');
    const key = await new Promise<Buffer>((res, rej) =>
      scrypt('hash-pw', salt, 64, { N: 1024, r: 8, p: 1 }, (e, k) => (e ? rej(e) : res(k))),
    );
    const weak = ['scrypt', 1024, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
    await c.redis.hset('hn:identity:users', t.userId, JSON.stringify({ ...first, passwordHash: weak }));
    assert.equal((await login('hash-user', 'hash-pw', 'hash')).status, 201);
    const upgraded = (await storedUser(t.userId)).passwordHash;
    assert.match(upgraded, /^scrypt\$16384\$/);
    assert.equal((await login('hash-user', 'hash-pw', 'hash')).status, 201);
    // Upgrading the hash is no credential change: the tokens issued before still work.
    assert.ok(await works(t.token));
  });

  it('keeps tokens only as digests, with expiry at issue + 1 h, kept when rescoping', async () => {
    const res = await login('admin', ADMIN_PASSWORD, 'admin');
    const token = res.headers.get('x-subject-token') as string;
    const keys = await c.redis.keys('hn:token:*');
    assert.ok(keys.includes(`hn:token:${createHash('sha256').update(token).digest('hex')}`));
    for (const k of keys) assert.ok(!(await c.redis.get(k))?.includes(token));
    const { issued_at, expires_at } = res.body.token;
    assert.equal(Date.parse(expires_at) - Date.parse(issued_at), 3600_000);
    const ttl = await c.redis.ttl(`hn:token:${createHash('sha256').update(token).digest('hex')}`);
    assert.ok(ttl > 3590 && ttl <= 3600, String(ttl));

    await new Promise((r) => setTimeout(r, 20));
    const rescoped = await c.request('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: {
          identity: { methods: ['token'], token: { id: token } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      },
    });
    assert.equal(rescoped.status, 201);
    assert.equal(rescoped.body.token.expires_at, expires_at);
  });

  it('validates with HEAD (no body) and GET; a revoked subject is 404, and the token 401', async () => {
    const t = await c.tenant('validate');
    const opts = { token: t.token, headers: { 'x-subject-token': t.token } };
    const head = await c.request('HEAD', '/identity/v3/auth/tokens', opts);
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('x-subject-token'), t.token);
    const get = await c.request('GET', '/identity/v3/auth/tokens', opts);
    assert.equal(get.status, 200);
    assert.equal(get.body.token.user.id, t.userId);
    // Another user's token is not the caller's to see.
    const other = await c.tenant('validate-other');
    const peek = await c.request('GET', '/identity/v3/auth/tokens', {
      token: other.token,
      headers: { 'x-subject-token': t.token },
    });
    assert.equal(peek.status, 403);
    // Users revoke their own tokens.
    const spare = (await login('validate-user', 'validate-pw', 'validate')).headers.get('x-subject-token') as string;
    const del = await c.request('DELETE', '/identity/v3/auth/tokens', {
      token: t.token,
      headers: { 'x-subject-token': spare },
    });
    assert.equal(del.status, 204);
    assert.equal(
      (await c.request('HEAD', '/identity/v3/auth/tokens', { ...opts, headers: { 'x-subject-token': spare } })).status,
      404,
    );
    assert.equal((await c.compute('GET', '/servers', { token: spare })).status, 401);
    assert.ok(await works(t.token));
  });

  it("revokes a user's tokens when it is disabled, gets a new password, loses a role or is deleted", async () => {
    const t = await c.tenant('revoke');
    const fresh = async (password = 'revoke-pw') =>
      (await login('revoke-user', password, 'revoke')).headers.get('x-subject-token') as string;

    assert.equal((await patchUser(t.userId, { enabled: false })).status, 200);
    assert.ok(!(await works(t.token)));
    assert.equal((await login('revoke-user', 'revoke-pw', 'revoke')).status, 401);
    assert.equal((await patchUser(t.userId, { enabled: true })).status, 200);
    // Re-enabling does not bring the old tokens back.
    assert.ok(!(await works(t.token)));

    const beforePassword = await fresh();
    assert.ok(await works(beforePassword));
    await patchUser(t.userId, { password: 'revoke-pw2' });
    assert.ok(!(await works(beforePassword)));
    // Other changes (a description) are no reason to revoke.
    const afterPassword = await fresh('revoke-pw2');
    await patchUser(t.userId, { description: 'still me' });
    assert.ok(await works(afterPassword));

    // Losing one of two roles revokes, even though the token would still be scoped.
    const reader = (await c.request('GET', '/identity/v3/roles?name=reader', { token: c.adminToken })).body.roles[0];
    const grant = `/identity/v3/projects/${t.projectId}/users/${t.userId}/roles/${reader.id}`;
    assert.equal((await c.request('PUT', grant, { token: c.adminToken })).status, 204);
    const twoRoles = await fresh('revoke-pw2');
    assert.equal((await c.request('DELETE', grant, { token: c.adminToken })).status, 204);
    assert.ok(!(await works(twoRoles)));
    const oneRole = await fresh('revoke-pw2');
    assert.ok(await works(oneRole));

    assert.equal((await c.request('DELETE', `/identity/v3/users/${t.userId}`, { token: c.adminToken })).status, 204);
    assert.ok(!(await works(oneRole)));
  });

  it('locks a user out after repeated failures, with the same 401 as for a user who does not exist', async () => {
    await c.tenant('lock');
    const refused = (await login('lock-user', 'wrong', 'lock')).body;
    await login('lock-user', 'wrong', 'lock');
    // A success before the limit resets the count.
    assert.equal((await login('lock-user', 'lock-pw', 'lock')).status, 201);
    for (let i = 0; i < 3; i++) assert.equal((await login('lock-user', 'wrong', 'lock')).status, 401);
    const locked = await login('lock-user', 'lock-pw', 'lock');
    assert.equal(locked.status, 401);
    assert.deepEqual(locked.body, refused);
    // An unknown name locks the same way, and answers the same.
    for (let i = 0; i < 4; i++) {
      const nobody = await login('nobody-at-all', 'x', 'lock');
      assert.equal(nobody.status, 401);
      assert.deepEqual(nobody.body, refused);
    }
    // Others are not affected.
    assert.equal((await login('admin', ADMIN_PASSWORD, 'admin')).status, 201);
    await new Promise((r) => setTimeout(r, LOCKOUT_S * 1000 + 200));
    assert.equal((await login('lock-user', 'lock-pw', 'lock')).status, 201);
  });

  it('locks a source address out after repeated failures across names', async () => {
    const gw = await c.startGateway({
      HYPERNOVA_LOCKOUT_FAILURE_ATTEMPTS: '0',
      HYPERNOVA_LOCKOUT_ADDRESS_ATTEMPTS: '4',
      HYPERNOVA_LOCKOUT_DURATION_S: String(LOCKOUT_S),
    });
    const post = async (user: string, password: string) =>
      (
        await fetch(`${gw.url}/identity/v3/auth/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(passwordAuth(user, password, 'admin')),
        })
      ).status;
    try {
      // The failures of the test before have had time to lapse.
      assert.equal(await post('admin', ADMIN_PASSWORD), 201);
      for (let i = 0; i < 4; i++) assert.equal(await post(`guess-${i}`, 'x'), 401);
      assert.equal(await post('admin', ADMIN_PASSWORD), 401);
      await new Promise((r) => setTimeout(r, LOCKOUT_S * 1000 + 200));
      assert.equal(await post('admin', ADMIN_PASSWORD), 201);
    } finally {
      await gw.close();
    }
  });
});
