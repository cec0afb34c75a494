// Bad input never reaches a 5xx: malformed JSON, oversized bodies, wrong content types, invalid
// UUIDs and field values give 4xx in the API's own error format, and a seeded fuzzer throws
// random and mutated bodies at every endpoint that takes one.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { redisKeys } from '@hypernova/common';
import { ADMIN_PASSWORD, Cluster, passwordAuth, type ApiResponse } from './cluster.js';

type Api = 'compute' | 'identity' | 'image';

/**
 * The body is Nova's {"<fault>": {code, message}} (compute), Keystone's {"error": {code, title,
 * message}} (identity, and any API's 401) or Glance's {code: "400 Bad Request", title, message}.
 */
function assertErrorFormat(res: ApiResponse, api: Api, what: string): void {
  assert.ok(res.status >= 400 && res.status < 500, `${what}: status ${res.status} ${res.text}`);
  const body = res.body as Record<string, any> | undefined;
  assert.ok(body && typeof body === 'object', `${what}: no JSON error body: ${res.text}`);
  if (api === 'image' && res.status !== 401) {
    assert.match(body.code, new RegExp(`^${res.status} `), `${what}: ${res.text}`);
    assert.equal(typeof body.title, 'string', what);
    assert.equal(typeof body.message, 'string', what);
    return;
  }
  const keys = Object.keys(body);
  assert.equal(keys.length, 1, `${what}: ${res.text}`);
  const inner = body[keys[0]];
  if (api === 'identity' || res.status === 401) {
    assert.equal(keys[0], 'error', `${what}: ${res.text}`);
    assert.equal(typeof inner.title, 'string');
  } else {
    const faults: Record<number, string> = {
      400: 'badRequest',
      403: 'forbidden',
      404: 'itemNotFound',
      405: 'badMethod',
      409: 'conflictingRequest',
      413: 'overLimit',
      415: 'badMediaType',
    };
    assert.equal(keys[0], faults[res.status] ?? 'computeFault', `${what}: ${res.text}`);
  }
  assert.equal(inner.code, res.status, what);
  assert.equal(typeof inner.message, 'string', what);
}

/** A small seeded PRNG (mulberry32), so a failing case can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * (depth > 2 ? 6 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [0, -1, 1, 2 ** 53, -(2 ** 31), 3.5, 1e308][Math.floor(r() * 7)];
    case 3:
      return [
        '',
        ' ',
        'a',
        'x'.repeat(300),
        '00000000-0000-0000-0000-000000000000',
        '../../etc',
        '\u0000',
        '🙂',
        'SOFT',
        'auto',
        '1',
      ][Math.floor(r() * 11)];
    case 4:
      return 'z'.repeat(Math.floor(r() * 40));
    case 5:
      return Math.floor(r() * 1000) - 500;
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const keys = [
        'server',
        'name',
        'flavorRef',
        'imageRef',
        'auth',
        'identity',
        'project',
        'user',
        'role',
        'flavor',
        'type',
        'length',
        'metadata',
        'networks',
        'os-stop',
        'pause',
        'reboot',
        'os-getConsoleOutput',
        'server_group',
        'policies',
        'host',
        'binary',
        'ram',
        'vcpus',
        'disk',
        'password',
        'domain',
        '__proto__',
        'constructor',
      ];
      const obj: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--)
        obj[keys[Math.floor(r() * keys.length)]] = randomValue(r, depth + 1);
      return obj;
    }
  }
}

/** Replaces one value somewhere in `v` with a random one, or drops a key. */
function mutate(v: unknown, r: () => number): unknown {
  if (v === null || typeof v !== 'object' || r() < 0.2) return randomValue(r);
  const copy: any = Array.isArray(v) ? [...v] : { ...v };
  const keys = Object.keys(copy);
  if (keys.length === 0) return randomValue(r);
  const k = keys[Math.floor(r() * keys.length)];
  if (r() < 0.25 && !Array.isArray(copy)) delete copy[k];
  else copy[k] = mutate(copy[k], r);
  return copy;
}

describe("api-gateway: bad input gives 4xx in the API's format, never 5xx", function () {
  this.timeout(120_000);
  let c: Cluster;
  let serverId: string;

  before(async () => {
    c = await Cluster.start({ nodes: [{}] });
    serverId = await c.createServer('target');
    await c.waitStatus(serverId, 'ACTIVE');
  });
  after(async () => {
    await c?.stop();
  });

  it('rejects malformed JSON, empty bodies and wrong content types', async () => {
    for (const [path, api] of [
      ['/compute/v2.1/servers', 'compute'],
      [`/compute/v2.1/servers/${serverId}/action`, 'compute'],
      ['/identity/v3/auth/tokens', 'identity'],
      ['/identity/v3/projects', 'identity'],
    ] as const) {
      for (const raw of ['{', '{"server": ', 'null', '[]', '"x"', '12', '{"a":1}{', '\u0000\u0001']) {
        const res = await c.request('POST', path, {
          token: c.adminToken,
          rawBody: raw,
          headers: { 'content-type': 'application/json' },
        });
        assertErrorFormat(res, api, `${path} ${JSON.stringify(raw)}`);
        assert.equal(res.status, 400);
      }
      const empty = await c.request('POST', path, {
        token: c.adminToken,
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      assertErrorFormat(empty, api, `${path} empty`);
      for (const type of [
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
      ]) {
        const res = await c.request('POST', path, {
          token: c.adminToken,
          rawBody: 'name=x',
          headers: { 'content-type': type },
        });
        assertErrorFormat(res, api, `${path} ${type}`);
        assert.equal(res.status, 415, `${path} ${type}`);
      }
    }
    const missing = await c.compute('POST', '/servers');
    assertErrorFormat(missing, 'compute', 'no body');
    assert.equal(missing.status, 400);
  });

  it('refuses oversized bodies with 413', async () => {
    const big = JSON.stringify({ server: { name: 'x', flavorRef: '1', metadata: { k: 'v'.repeat(200_000) } } });
    const res = await c.compute('POST', '/servers', { rawBody: big, headers: { 'content-type': 'application/json' } });
    assertErrorFormat(res, 'compute', 'oversized');
    assert.equal(res.status, 413);
    assert.equal(res.body.overLimit.message, 'Request is too large.');
    const auth = await c.request('POST', '/identity/v3/auth/tokens', {
      rawBody: big,
      headers: { 'content-type': 'application/json' },
    });
    assertErrorFormat(auth, 'identity', 'oversized auth');
  });

  it('refuses prototype pollution attempts', async () => {
    const res = await c.compute('POST', '/servers', {
      rawBody: '{"__proto__": {"admin": true}, "server": {"name": "x", "flavorRef": "1"}}',
      headers: { 'content-type': 'application/json' },
    });
    assertErrorFormat(res, 'compute', '__proto__');
  });

  it('answers 404 for invalid or unknown UUIDs in paths', async () => {
    for (const id of [
      'not-a-uuid',
      '1',
      '%00',
      '00000000-0000-0000-0000-000000000000',
      `${serverId}x`,
      "'; DROP TABLE",
    ]) {
      const path = encodeURIComponent(id);
      for (const [method, suffix, body] of [
        ['GET', '', undefined],
        ['DELETE', '', undefined],
        ['POST', '/action', { 'os-stop': null }],
      ] as const) {
        const res = await c.compute(method, `/servers/${path}${suffix}`, { body });
        assertErrorFormat(res, 'compute', `${method} ${id}${suffix}`);
        assert.equal(res.status, 404);
      }
    }
    for (const path of [
      '/flavors/nope',
      '/os-hypervisors/abc',
      '/images/x',
      '/os-server-groups/zzz',
      '/no-such-resource',
    ]) {
      const res = await c.compute('GET', path);
      assertErrorFormat(res, 'compute', path);
      assert.equal(res.status, 404);
    }
    const ks = await c.request('GET', '/identity/v3/projects/nope', { token: c.adminToken });
    assertErrorFormat(ks, 'identity', 'unknown project');
    assert.equal(ks.status, 404);
  });

  it("validates server create fields with Nova's 400s", async () => {
    const image = c.image.id;
    const cases: [string, unknown][] = [
      ['numeric name', { server: { name: 12, imageRef: image, flavorRef: '1' } }],
      ['empty name', { server: { name: '', imageRef: image, flavorRef: '1' } }],
      ['blank-edged name', { server: { name: ' x', imageRef: image, flavorRef: '1' } }],
      ['long name', { server: { name: 'n'.repeat(256), imageRef: image, flavorRef: '1' } }],
      ['no flavor', { server: { name: 'x', imageRef: image } }],
      ['unknown flavor', { server: { name: 'x', imageRef: image, flavorRef: '999' } }],
      ['unknown image', { server: { name: 'x', imageRef: '11111111-2222-3333-4444-555555555555', flavorRef: '1' } }],
      ['non-uuid image', { server: { name: 'x', imageRef: 'guest', flavorRef: '1' } }],
      ['no image', { server: { name: 'x', flavorRef: '1' } }],
      ['too small flavor for image', { server: { name: 'x', imageRef: image, flavorRef: '1' } }],
      ['unknown key', { server: { name: 'x', imageRef: image, flavorRef: '1', color: 'red' } }],
      ['unknown top-level key', { server: { name: 'x', imageRef: image, flavorRef: '1' }, extra: 1 }],
      ['bad networks', { server: { name: 'x', imageRef: image, flavorRef: '1', networks: 'some' } }],
      [
        'unknown network',
        {
          server: {
            name: 'x',
            imageRef: image,
            flavorRef: '1',
            networks: [{ uuid: '11111111-2222-3333-4444-555555555555' }],
          },
        },
      ],
      ['bad metadata key', { server: { name: 'x', imageRef: image, flavorRef: '1', metadata: { '': 'v' } } }],
      ['non-string metadata', { server: { name: 'x', imageRef: image, flavorRef: '1', metadata: { k: 1 } } }],
      ['bad accessIPv4', { server: { name: 'x', imageRef: image, flavorRef: '1', accessIPv4: '300.1.1.1' } }],
      ['bad accessIPv6', { server: { name: 'x', imageRef: image, flavorRef: '1', accessIPv6: 'fe80:::1' } }],
      ['zero min_count', { server: { name: 'x', imageRef: image, flavorRef: '1', min_count: 0 } }],
      ['min > max', { server: { name: 'x', imageRef: image, flavorRef: '1', min_count: 3, max_count: 2 } }],
      ['bad user_data', { server: { name: 'x', imageRef: image, flavorRef: '1', user_data: '!!not base64!!' } }],
      [
        'bad group hint',
        { server: { name: 'x', imageRef: image, flavorRef: '1' }, 'os:scheduler_hints': { group: 'nope' } },
      ],
      ['unknown zone', { server: { name: 'x', imageRef: image, flavorRef: '1', availability_zone: 'mars' } }],
      ['unknown keypair', { server: { name: 'x', imageRef: image, flavorRef: '1', key_name: 'mykey' } }],
    ];
    // The image needs 32 MiB: make "too small" real with a 16 MiB flavor.
    await c.compute('POST', '/flavors', {
      body: { flavor: { name: 'rv.nano', ram: 16, vcpus: 1, disk: 0, id: 'nano' } },
    });
    (cases.find((x) => x[0] === 'too small flavor for image') as [string, any])[1].server.flavorRef = 'nano';
    for (const [what, body] of cases) {
      const res = await c.compute('POST', '/servers', { body });
      assertErrorFormat(res, 'compute', what);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
    }
    const tooMany = await c.compute('POST', '/servers', {
      body: {
        server: {
          name: 'x',
          imageRef: image,
          flavorRef: '1',
          metadata: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v'])),
        },
      },
    });
    assert.equal(tooMany.status, 403);
    assertErrorFormat(tooMany, 'compute', 'too many metadata items');
  });

  it("answers wrong microversion headers with Nova's 406 (or 400 when malformed)", async () => {
    for (const v of ['2.0', '2.26', '2.92', '3.1', '1.1']) {
      for (const header of ['X-OpenStack-Nova-API-Version', 'OpenStack-API-Version']) {
        const res = await c.compute('GET', '/servers', {
          headers: { [header]: header === 'OpenStack-API-Version' ? `compute ${v}` : v },
        });
        assertErrorFormat(res, 'compute', `${header}: ${v}`);
        assert.equal(res.status, 406);
        assert.equal(
          res.body.computeFault.message,
          `Version ${v} is not supported by the API. Minimum is 2.1 and maximum is 2.25.`,
        );
      }
    }
    for (const v of ['', 'two', '2', '2.1.1', '02.1', '2.01', '-2.1', '2.x', '99999.1', 'compute']) {
      const res = await c.compute('GET', '/servers', { headers: { 'X-OpenStack-Nova-API-Version': v } });
      assert.ok(res.status === 400 || (v === '' && res.status === 200), `${JSON.stringify(v)}: ${res.status}`);
      if (res.status === 400) assertErrorFormat(res, 'compute', `version ${JSON.stringify(v)}`);
    }
  });

  it('refuses unknown and malformed actions with 400', async () => {
    const act = (body: unknown) => c.compute('POST', `/servers/${serverId}/action`, { body });
    for (const body of [
      { 'os-fly': null },
      { shelve: null },
      {},
      { pause: null, unpause: null },
      { pause: 1 },
      { pause: { x: 1 } },
      { reboot: { type: 'SOFT', extra: 1 } },
      { 'os-getConsoleOutput': { length: 'ten' } },
      [],
    ]) {
      const res = await act(body);
      assertErrorFormat(res, 'compute', JSON.stringify(body));
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    }
    assert.equal((await act({ 'os-fly': null })).body.badRequest.message, 'There is no such action: os-fly');
  });

  it('refuses negative, non-numeric and unknown-marker pages with 400 on every list', async () => {
    const lists: [string, Api][] = [
      ['/compute/v2.1/servers', 'compute'],
      ['/compute/v2.1/servers/detail', 'compute'],
      ['/compute/v2.1/flavors', 'compute'],
      ['/compute/v2.1/flavors/detail', 'compute'],
      ['/compute/v2.1/images', 'compute'],
      ['/compute/v2.1/images/detail', 'compute'],
      ['/compute/v2.1/os-hypervisors', 'compute'],
      ['/compute/v2.1/os-server-groups', 'compute'],
      ['/image/v2/images', 'image'],
    ];
    for (const [path, api] of lists) {
      for (const q of ['limit=-1', 'limit=abc', 'limit=1.5', 'marker=00000000-0000-0000-0000-000000000000']) {
        const res = await c.request('GET', `${path}?${q}`, { token: c.adminToken });
        assertErrorFormat(res, api, `${path}?${q}`);
        assert.equal(res.status, 400, `${path}?${q}: ${res.text}`);
      }
    }
    for (const q of ['changes-since=yesterday', 'status=FLYING']) {
      const res = await c.compute('GET', `/servers?${q}`);
      assert.ok(res.status === 400 || (res.status === 200 && res.body.servers.length === 0), `${q}: ${res.status}`);
    }
    assert.equal((await c.request('GET', '/image/v2/images?sort_key=colour', { token: c.adminToken })).status, 400);
    assert.equal((await c.request('GET', '/image/v2/images?sort_dir=sideways', { token: c.adminToken })).status, 400);
  });

  it('answers 404 for invalid ids on every resource', async () => {
    const paths: [string, Api][] = [
      ['/compute/v2.1/servers/not-a-uuid/os-instance-actions', 'compute'],
      [`/compute/v2.1/servers/${serverId}/os-instance-actions/req-nope`, 'compute'],
      ['/compute/v2.1/os-keypairs/nope', 'compute'],
      ['/compute/v2.1/flavors/nope/os-extra_specs', 'compute'],
      ['/compute/v2.1/flavors/1/os-extra_specs/nope', 'compute'],
      ['/image/v2/images/not-a-uuid', 'image'],
      ['/image/v2/images/00000000-0000-0000-0000-000000000000', 'image'],
      ['/image/v2/images/00000000-0000-0000-0000-000000000000/file', 'image'],
      ['/image/v2/nothing', 'image'],
    ];
    for (const [path, api] of paths) {
      const res = await c.request('GET', path, { token: c.adminToken });
      assertErrorFormat(res, api, path);
      assert.equal(res.status, 404, `${path}: ${res.text}`);
    }
  });

  it("refuses over-quota creates with Nova's 403", async () => {
    const t = await c.tenant('bad-quota');
    await c.compute('PUT', `/os-quota-sets/${t.projectId}`, { body: { quota_set: { instances: 1, ram: 100 } } });
    const ram = await c.compute('POST', '/servers', {
      token: t.token,
      body: { server: { name: 'x', imageRef: c.image.id, flavorRef: '2' } },
    });
    assertErrorFormat(ram, 'compute', 'over ram');
    assert.equal(ram.status, 403);
    assert.equal(ram.body.forbidden.message, 'Quota exceeded for ram: Requested 128, but already used 0 of 100 ram');
    const many = await c.compute('POST', '/servers', {
      token: t.token,
      body: { server: { name: 'x', imageRef: c.image.id, flavorRef: '1', min_count: 2 } },
    });
    assertErrorFormat(many, 'compute', 'over instances');
    assert.equal(
      many.body.forbidden.message,
      'Quota exceeded for instances, ram: Requested 2, 128, but already used 0, 0 of 1, 100 instances, ram',
    );
  });

  it('answers forged, malformed, revoked and expired tokens with 401 on every API', async () => {
    const token = await c.token('admin', ADMIN_PASSWORD, 'admin');
    const revoked = await c.token('admin', ADMIN_PASSWORD, 'admin');
    await c.request('DELETE', '/identity/v3/auth/tokens', {
      token: c.adminToken,
      headers: { 'x-subject-token': revoked },
    });
    // Expired: the stored record says so even while Redis still holds it.
    const expired = await c.token('admin', ADMIN_PASSWORD, 'admin');
    const key = redisKeys.token(createHash('sha256').update(expired).digest('hex'));
    const stored = JSON.parse((await c.redis.get(key)) as string);
    await c.redis.set(
      key,
      JSON.stringify({ ...stored, expiresAt: new Date(Date.now() - 1000).toISOString() }),
      'EX',
      60,
    );
    const forged = [
      token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'),
      'x',
      'x'.repeat(600),
      't\u00f6k\u00e9n',
      'gAAAAAB' + 'a'.repeat(180),
      revoked,
      expired,
    ];
    for (const [path, api] of [
      ['/compute/v2.1/servers', 'compute'],
      ['/compute/v2.1/os-keypairs', 'compute'],
      ['/image/v2/images', 'image'],
      ['/identity/v3/projects', 'identity'],
    ] as [string, Api][]) {
      for (const t of forged) {
        const res = await c.request('GET', path, { headers: { 'x-auth-token': t } });
        assertErrorFormat(res, api, `${path} with ${t.slice(0, 20)}`);
        assert.equal(res.status, 401, `${path}: ${res.text}`);
        assert.equal(res.body.error.message, 'The request you have made requires authentication.');
      }
      const none = await c.request('GET', path);
      assert.equal(none.status, 401);
    }
    assert.equal(
      (await c.request('GET', '/compute/v2.1/servers', { headers: { 'x-auth-token': token } })).status,
      200,
      'the real token still works',
    );
  });

  it('refuses oversized and malformed image metadata and patches', async () => {
    const big = JSON.stringify({ name: 'x', description: 'v'.repeat(200_000) });
    const res = await c.request('POST', '/image/v2/images', {
      token: c.adminToken,
      rawBody: big,
      headers: { 'content-type': 'application/json' },
    });
    assertErrorFormat(res, 'image', 'oversized image create');
    assert.equal(res.status, 413);
    const img = (await c.request('POST', '/image/v2/images', { token: c.adminToken, body: { name: 'bad-input' } }))
      .body;
    for (const raw of [
      '{',
      '[{"op":',
      'null',
      '"x"',
      '[1]',
      `[${'{"op":"add","path":"/a","value":"b"},'.repeat(5000)}{}]`,
    ]) {
      const r = await c.request('PATCH', `/image/v2/images/${img.id}`, {
        token: c.adminToken,
        rawBody: raw,
        headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      });
      assertErrorFormat(r, 'image', `patch ${raw.slice(0, 20)}`);
    }
    for (const body of [
      { name: 5 },
      { visibility: 'everyone' },
      { min_ram: -1 },
      { tags: 'x' },
      { protected: 'yes' },
      { id: '123' },
      { hw: 1 },
    ]) {
      const r = await c.request('POST', '/image/v2/images', { token: c.adminToken, body: { name: 'x', ...body } });
      assertErrorFormat(r, 'image', JSON.stringify(body));
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
  });

  it('survives a fuzzer throwing random and mutated bodies at every endpoint', async () => {
    const me = await c.request('GET', '/identity/v3/auth/tokens', {
      token: c.adminToken,
      headers: { 'x-subject-token': c.adminToken },
    });
    const victim = await c.request('POST', '/identity/v3/users', {
      token: c.adminToken,
      body: { user: { name: 'fuzz-victim', password: 'x' } },
    });
    const image = await c.request('POST', '/image/v2/images', { token: c.adminToken, body: { name: 'fuzz-image' } });
    const patchType = { 'content-type': 'application/openstack-images-v2.1-json-patch' };
    const targets: { method: string; path: string; api: Api; valid: unknown; headers?: Record<string, string> }[] = [
      {
        method: 'POST',
        path: '/identity/v3/auth/tokens',
        api: 'identity',
        valid: passwordAuth('admin', 'wrong', 'admin'),
      },
      {
        method: 'POST',
        path: '/identity/v3/projects',
        api: 'identity',
        valid: { project: { name: 'p', domain_id: 'default' } },
      },
      { method: 'POST', path: '/identity/v3/users', api: 'identity', valid: { user: { name: 'u', password: 'p' } } },
      { method: 'POST', path: '/identity/v3/roles', api: 'identity', valid: { role: { name: 'r' } } },
      {
        method: 'PATCH',
        path: `/identity/v3/users/${victim.body.user.id}`,
        api: 'identity',
        valid: { user: { enabled: false } },
      },
      {
        method: 'POST',
        path: '/compute/v2.1/servers',
        api: 'compute',
        valid: { server: { name: 'f', imageRef: c.image.id, flavorRef: '1', networks: 'none' } },
      },
      {
        method: 'POST',
        path: `/compute/v2.1/servers/${serverId}/action`,
        api: 'compute',
        valid: { reboot: { type: 'HARD' } },
      },
      {
        method: 'POST',
        path: '/compute/v2.1/flavors',
        api: 'compute',
        valid: { flavor: { name: 'f', ram: 64, vcpus: 1, disk: 1 } },
      },
      {
        method: 'POST',
        path: '/compute/v2.1/os-server-groups',
        api: 'compute',
        valid: { server_group: { name: 'g', policies: ['affinity'] } },
      },
      {
        method: 'PUT',
        path: '/compute/v2.1/os-services/disable',
        api: 'compute',
        valid: { host: 'nowhere', binary: 'nova-compute' },
      },
      {
        method: 'PUT',
        path: '/compute/v2.1/os-services/force-down',
        api: 'compute',
        valid: { host: 'nowhere', binary: 'nova-compute', forced_down: true },
        headers: { 'X-OpenStack-Nova-API-Version': '2.11' },
      },
      {
        method: 'PUT',
        path: `/compute/v2.1/servers/${serverId}`,
        api: 'compute',
        valid: { server: { name: 'renamed' } },
      },
      {
        method: 'POST',
        path: '/compute/v2.1/os-keypairs',
        api: 'compute',
        valid: { keypair: { name: 'k', type: 'ssh' } },
        headers: { 'X-OpenStack-Nova-API-Version': '2.2' },
      },
      {
        method: 'PUT',
        path: '/compute/v2.1/os-quota-sets/nowhere',
        api: 'compute',
        valid: { quota_set: { instances: 5, force: true } },
      },
      {
        method: 'POST',
        path: '/compute/v2.1/flavors/1/os-extra_specs',
        api: 'compute',
        valid: { extra_specs: { 'hw:x': '1' } },
      },
      { method: 'PUT', path: '/compute/v2.1/flavors/1/os-extra_specs/hw:x', api: 'compute', valid: { 'hw:x': '2' } },
      {
        method: 'POST',
        path: '/image/v2/images',
        api: 'image',
        valid: { name: 'i', disk_format: 'raw', container_format: 'bare', visibility: 'private' },
      },
      {
        method: 'PATCH',
        path: `/image/v2/images/${image.body.id}`,
        api: 'image',
        valid: [{ op: 'replace', path: '/name', value: 'n' }],
        headers: patchType,
      },
    ];
    assert.ok(me.body.token.user.id);
    const r = rng(20261125);
    let fourxx = 0;
    let total = 0;
    for (let i = 0; i < 1000; i++) {
      const t = targets[i % targets.length];
      const body = r() < 0.5 ? randomValue(r) : mutate(t.valid, r);
      const res = await c.request(t.method, t.path, {
        token: c.adminToken,
        body: body === undefined ? null : body,
        headers: t.headers,
      });
      total++;
      assert.ok(
        res.status < 500,
        `case ${i} ${t.method} ${t.path} ${JSON.stringify(body)} -> ${res.status} ${res.text}`,
      );
      if (res.status >= 400) {
        fourxx++;
        assertErrorFormat(res, t.api, `case ${i} ${t.path} ${JSON.stringify(body)}`);
      }
    }
    // Most random bodies are invalid; the rest were valid requests (answered 2xx).
    assert.ok(fourxx > total / 2, `${fourxx} of ${total} refused`);
    // The gateway still works.
    assert.equal((await c.compute('GET', `/servers/${serverId}`)).status, 200);
  });

  it('survives random query strings and version headers on every list', async () => {
    const r = rng(1125);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const paths = [
      '/compute/v2.1/servers',
      '/compute/v2.1/servers/detail',
      '/compute/v2.1/flavors/detail',
      '/compute/v2.1/images/detail',
      '/compute/v2.1/os-hypervisors/detail',
      '/compute/v2.1/os-services',
      '/compute/v2.1/os-keypairs',
      '/compute/v2.1/os-migrations',
      '/compute/v2.1/os-server-groups',
      `/compute/v2.1/servers/${serverId}/os-instance-actions`,
      '/image/v2/images',
      '/identity/v3/projects',
    ];
    const keys = [
      'limit',
      'marker',
      'name',
      'status',
      'host',
      'all_tenants',
      'sort_key',
      'sort_dir',
      'sort',
      'user_id',
      'is_public',
      'minRam',
      'changes-since',
      'visibility',
      'tag',
      'size_min',
      'binary',
    ];
    const values = [
      '',
      '-1',
      '0',
      '1',
      '1e9',
      'abc',
      '%00',
      '../',
      'ACTIVE',
      'name:asc',
      'in:a,b',
      '00000000-0000-0000-0000-000000000000',
      'true',
      'x'.repeat(2000),
    ];
    const versions = [
      undefined,
      '2.1',
      '2.11',
      '2.16',
      '2.21',
      '2.23',
      '2.25',
      '2.26',
      'latest',
      '2',
      'compute',
      '2.1, 2.2',
    ];
    for (let i = 0; i < 400; i++) {
      const path = pick(paths);
      const q = new URLSearchParams();
      for (let k = Math.floor(r() * 4); k > 0; k--) q.append(pick(keys), pick(values));
      const v = pick(versions);
      const res = await c.request('GET', `${path}?${q}`, {
        token: c.adminToken,
        headers: v === undefined ? {} : { 'X-OpenStack-Nova-API-Version': v },
      });
      assert.ok(res.status < 500, `case ${i}: GET ${path}?${q} (${v}) -> ${res.status} ${res.text}`);
    }
  });
});
