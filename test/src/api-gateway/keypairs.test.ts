// os-keypairs: generate and import per user, list, show, delete, Nova's fingerprints, the key
// type and status codes that change at 2.2, other users' keypairs for admins at 2.10, the
// key_pairs quota, and key_name on server create.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { Cluster } from './cluster.js';

/** An OpenSSH ed25519 public key line and its Nova (md5) fingerprint. */
function ed25519Key(comment: string): { line: string; fingerprint: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const x = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(x)]);
  const md5 = createHash('md5').update(blob).digest('hex');
  return {
    line: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    fingerprint: md5.match(/../g)?.join(':') as string,
  };
}

const at = (v: string) => ({ headers: { 'X-OpenStack-Nova-API-Version': v } });

describe('api-gateway: keypairs', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start({ nodes: [{}], env: { HYPERNOVA_QUOTA_KEY_PAIRS: '3' } });
  });
  after(async () => {
    await c?.stop();
  });

  it('generates a keypair (private key shown once) and imports a public key, at 2.1', async () => {
    const gen = await c.compute('POST', '/os-keypairs', { body: { keypair: { name: 'generated' } } });
    assert.equal(gen.status, 200);
    const kp = gen.body.keypair;
    assert.match(kp.public_key, /^ssh-rsa AAAA/);
    assert.match(kp.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
    assert.match(kp.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    assert.ok(kp.user_id);
    assert.equal(kp.type, undefined, 'no type before 2.2');
    // The generated public key is a valid OpenSSH key: importing it elsewhere gives the same fingerprint.
    const reimport = await c.compute('POST', '/os-keypairs', {
      body: { keypair: { name: 'reimported', public_key: kp.public_key } },
    });
    assert.equal(reimport.body.keypair.fingerprint, kp.fingerprint);
    assert.equal(reimport.body.keypair.private_key, undefined);

    const key = ed25519Key('me@host');
    const imp = await c.compute('POST', '/os-keypairs', {
      body: { keypair: { name: 'imported key', public_key: key.line } },
    });
    assert.equal(imp.status, 200, imp.text);
    assert.equal(imp.body.keypair.fingerprint, key.fingerprint);

    const list = await c.compute('GET', '/os-keypairs');
    assert.deepEqual(
      list.body.keypairs.map((k: any) => k.keypair.name),
      ['generated', 'imported key', 'reimported'],
    );
    assert.deepEqual(Object.keys(list.body.keypairs[0].keypair).sort(), ['fingerprint', 'name', 'public_key']);
    const shown = await c.compute('GET', '/os-keypairs/imported%20key');
    assert.equal(shown.body.keypair.public_key, key.line);
    assert.equal(shown.body.keypair.deleted, false);
    assert.equal(typeof shown.body.keypair.id, 'number');

    // Three keypairs is this cloud's quota.
    const over = await c.compute('POST', '/os-keypairs', { body: { keypair: { name: 'fourth' } } });
    assert.equal(over.status, 403);
    assert.equal(over.body.forbidden.message, 'Quota exceeded, too many key pairs.');
    const dup = await c.compute('POST', '/os-keypairs', { body: { keypair: { name: 'generated' } } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.conflictingRequest.message, "Key pair 'generated' already exists.");

    assert.equal((await c.compute('DELETE', '/os-keypairs/reimported')).status, 202);
    assert.equal((await c.compute('GET', '/os-keypairs/reimported')).status, 404);
    assert.equal((await c.compute('DELETE', '/os-keypairs/reimported')).status, 404);
  });

  it('refuses invalid keys and names with 400', async () => {
    const bad = [
      { name: 'x', public_key: `ssh-rsa ${'A'.repeat(2048)}` },
      { name: 'x', public_key: 'not a key' },
      { name: 'x', public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== short' },
      { name: 'bad/name' },
      { name: '' },
      { name: 'n'.repeat(256) },
      { name: '   ' },
      { name: 'x', type: 'ssh' },
      { name: 'x', colour: 'red' },
    ];
    for (const keypair of bad) {
      const res = await c.compute('POST', '/os-keypairs', { body: { keypair } });
      assert.equal(res.status, 400, `${JSON.stringify(keypair)}: ${res.text}`);
      assert.equal(typeof res.body.badRequest.message, 'string');
    }
  });

  it('answers 2.2 with the type, 201 and 204, and lets admins act for other users at 2.10', async () => {
    const key = ed25519Key('typed');
    const created = await c.compute('POST', '/os-keypairs', {
      ...at('2.2'),
      body: { keypair: { name: 'typed', public_key: key.line, type: 'ssh' } },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.keypair.type, 'ssh');
    assert.equal(
      (await c.compute('GET', '/os-keypairs', at('2.2'))).body.keypairs.find((k: any) => k.keypair.name === 'typed')
        .keypair.type,
      'ssh',
    );
    assert.equal((await c.compute('DELETE', '/os-keypairs/typed', at('2.2'))).status, 204);

    const m = await c.tenant('keyholder');
    const forOther = await c.compute('POST', '/os-keypairs', {
      ...at('2.10'),
      body: { keypair: { name: 'given', public_key: ed25519Key('x').line, user_id: m.userId } },
    });
    assert.equal(forOther.status, 201, forOther.text);
    assert.equal(forOther.body.keypair.user_id, m.userId);
    assert.deepEqual(
      (await c.compute('GET', '/os-keypairs', { token: m.token })).body.keypairs.map((k: any) => k.keypair.name),
      ['given'],
    );
    assert.equal((await c.compute('GET', `/os-keypairs/given?user_id=${m.userId}`, at('2.10'))).status, 200);
    assert.equal((await c.compute('GET', '/os-keypairs/given')).status, 404, "not the admin's own");
    // Members see only their own keypairs.
    const other = await c.tenant('keyholder-2');
    const peek = await c.compute('GET', `/os-keypairs?user_id=${other.userId}`, { token: m.token, ...at('2.10') });
    assert.equal(peek.status, 403);
    const userIdBefore = await c.compute('POST', '/os-keypairs', {
      body: { keypair: { name: 'y', user_id: m.userId } },
    });
    assert.equal(userIdBefore.status, 400, 'user_id needs 2.10');
  });

  it('boots a server with key_name, shown in the server body', async () => {
    const m = await c.tenant('booter');
    await c.compute('POST', '/os-keypairs', {
      token: m.token,
      body: { keypair: { name: 'login', public_key: ed25519Key('b').line } },
    });
    const id = await c.createServer('keyed', { token: m.token, extra: { key_name: 'login' } });
    const s = await c.waitStatus(id, 'ACTIVE', m.token);
    assert.equal(s.key_name, 'login');
    const wrong = await c.compute('POST', '/servers', {
      token: m.token,
      body: { server: { name: 'x', imageRef: c.image.id, flavorRef: '1', key_name: 'generated' } },
    });
    assert.equal(wrong.status, 400, "another user's keypair is not usable");
    assert.equal(wrong.body.badRequest.message, 'Invalid key_name provided.');
    await c.compute('DELETE', `/servers/${id}`, { token: m.token });
    await c.waitServer(id, 'gone', { token: m.token });
  });
});
