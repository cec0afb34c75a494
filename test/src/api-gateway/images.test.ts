// Glance v2 against real redis-server and nats-server: create, streamed upload into the JetStream
// object store the compute agents pull from (checksums recorded, queued -> saving -> active),
// download, list pages and filters, JSON patch, delete, and who sees and changes what.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, type NatsConnection } from '@hypernova/common';
import { getImageObject, openImageStore } from '@hypernova/cluster-state';
import { Cluster, type ApiResponse, type RequestOptions } from './cluster.js';

const CAP = 4 * 1024 * 1024;
const PATCH = 'application/openstack-images-v2.1-json-patch';
const PATCH_V20 = 'application/openstack-images-v2.0-json-patch';

describe('api-gateway: Glance v2 images in the JetStream object store', function () {
  this.timeout(60_000);
  let c: Cluster;
  let nc: NatsConnection;
  let tmp: string;

  before(async () => {
    c = await Cluster.start({ nodes: [{}], env: { HYPERNOVA_IMAGE_SIZE_CAP_BYTES: String(CAP) } });
    nc = await connectNats(c.infra.nats.url, { name: 'images-test' });
    tmp = mkdtempSync(join(tmpdir(), 'hn-images-'));
  });
  after(async () => {
    await nc?.close();
    await c?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const glance = (method: string, path: string, opts: RequestOptions = {}) =>
    c.request(method, `/image/v2${path}`, { token: c.adminToken, ...opts });

  async function create(body: object, token = c.adminToken): Promise<any> {
    const res = await glance('POST', '/images', { token, body });
    assert.equal(res.status, 201, res.text);
    return res.body;
  }

  const upload = (id: string, data: Uint8Array, token = c.adminToken) =>
    glance('PUT', `/images/${id}/file`, {
      token,
      rawBody: data,
      headers: { 'content-type': 'application/octet-stream' },
    });

  /** The object's info when the store holds it (deleted objects leave a tombstone). */
  async function storedObject(name: string) {
    const info = await (await openImageStore(nc)).info(name);
    return info && !info.deleted ? info : undefined;
  }

  const patch = (id: string, ops: unknown, token = c.adminToken, type = PATCH) =>
    glance('PATCH', `/images/${id}`, { token, rawBody: JSON.stringify(ops), headers: { 'content-type': type } });

  it('serves the version list at /image', async () => {
    const res = await c.request('GET', '/image');
    assert.equal(res.status, 300);
    assert.equal(res.body.versions[0].id, 'v2.16');
    assert.equal(res.body.versions[0].status, 'CURRENT');
    assert.equal(res.body.versions[0].links[0].href, `${c.gateway.url}/image/v2/`);
  });

  it('creates a queued image, streams its data into the object store and serves it back', async () => {
    // What `openstack image create --file F --disk-format raw --container-format bare` sends.
    const img = await create({
      name: 'uploaded',
      disk_format: 'raw',
      container_format: 'bare',
      'owner_specified.openstack.md5': '',
      'owner_specified.openstack.object': 'images/uploaded',
    });
    assert.equal(img.status, 'queued');
    assert.equal(img.visibility, 'shared');
    assert.equal(img.size, null);
    assert.equal(img.checksum, null);
    assert.equal(img.os_hash_value, null);
    assert.equal(img['owner_specified.openstack.object'], 'images/uploaded');
    assert.equal(img.file, `/v2/images/${img.id}/file`);
    assert.equal((await glance('GET', `/images/${img.id}/file`)).status, 204, 'no data yet');

    const data = randomBytes(3 * 1024 * 1024 + 17);
    const md5 = createHash('md5').update(data).digest('hex');
    const sha512 = createHash('sha512').update(data).digest('hex');
    const put = await upload(img.id, data);
    assert.equal(put.status, 204, put.text);

    const shown = (await glance('GET', `/images/${img.id}`)).body;
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, data.length);
    assert.equal(shown.checksum, md5);
    assert.equal(shown.os_hash_algo, 'sha512');
    assert.equal(shown.os_hash_value, sha512);

    // What a compute agent does to fill its cache.
    const dest = join(tmp, 'cached');
    assert.equal(await getImageObject(await openImageStore(nc), img.id, dest, md5), data.length);
    assert.ok(readFileSync(dest).equals(data));

    const res = await fetch(`${c.gateway.url}/image/v2/images/${img.id}/file`, {
      headers: { 'x-auth-token': c.adminToken },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-md5'), md5);
    assert.equal(res.headers.get('content-length'), String(data.length));
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));

    // Nova's images proxy reads the same registry.
    const proxied = await c.compute('GET', `/images/${img.id}`);
    assert.equal(proxied.body.image.status, 'ACTIVE');
    assert.equal(proxied.body.image['OS-EXT-IMG-SIZE:size'], data.length);

    const again = await upload(img.id, data);
    assert.equal(again.status, 409);
    // A server boots from it.
    const server = await c.createServer('from-upload', { extra: { imageRef: img.id } });
    await c.waitStatus(server, 'ACTIVE');
    await c.compute('DELETE', `/servers/${server}`);
    await c.waitServer(server, 'gone');
  });

  it('refuses uploads without formats, of the wrong type, too large, or twice at once', async () => {
    const bare = await create({ name: 'no-formats' });
    assert.equal((await upload(bare.id, Buffer.from('x'))).status, 400);
    const img = await create({ name: 'limits', disk_format: 'qcow2', container_format: 'bare' });
    const json = await glance('PUT', `/images/${img.id}/file`, { body: { data: 'x' } });
    assert.equal(json.status, 415);

    const big = await upload(img.id, Buffer.alloc(CAP + 1));
    assert.equal(big.status, 413, big.text);
    const after = (await glance('GET', `/images/${img.id}`)).body;
    assert.equal(after.status, 'queued', 'a failed upload puts the image back to queued');
    assert.equal(await storedObject(img.id), undefined, 'and leaves no object behind');

    // Two uploads race: exactly one wins the queued -> saving step.
    const data = randomBytes(1024 * 1024);
    const results = await Promise.all([upload(img.id, data), upload(img.id, data)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [204, 409]);
    assert.equal((await glance('GET', `/images/${img.id}`)).body.status, 'active');
  });

  it('lists with limit, marker and next links, filters by name and properties, sorts', async () => {
    const ids: string[] = [];
    for (const n of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) {
      ids.push(
        (
          await create({
            name: n,
            disk_format: 'raw',
            container_format: 'bare',
            tier: n === 'page-c' ? 'gold' : 'plain',
          })
        ).id,
      );
    }
    const seen: string[] = [];
    let path: string | undefined = '/v2/images?limit=2&sort_key=name&sort_dir=asc&tier=in:plain,gold';
    let pages = 0;
    while (path) {
      const res: ApiResponse = await c.request('GET', `/image${path}`, { token: c.adminToken });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.first, '/v2/images');
      assert.equal(res.body.schema, '/v2/schemas/images');
      seen.push(...res.body.images.map((i: any) => i.name));
      path = res.body.next;
      pages++;
    }
    assert.deepEqual(seen, ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']);
    assert.equal(pages, 3);
    const byName = await glance('GET', '/images?name=page-c');
    assert.deepEqual(
      byName.body.images.map((i: any) => i.id),
      [ids[2]],
    );
    assert.deepEqual(
      (await glance('GET', '/images?tier=gold')).body.images.map((i: any) => i.name),
      ['page-c'],
    );
    const newest = await glance('GET', '/images?limit=1');
    assert.notEqual(newest.body.images[0].name, 'hypernova-guest', 'newest first by default');
    const desc = await glance('GET', '/images?sort=name:desc&name=in:page-a,page-b');
    assert.deepEqual(
      desc.body.images.map((i: any) => i.name),
      ['page-b', 'page-a'],
    );
    assert.equal((await glance('GET', '/images?limit=-1')).status, 400);
    assert.equal((await glance('GET', '/images?limit=x')).status, 400);
    assert.equal((await glance('GET', '/images?marker=00000000-0000-0000-0000-000000000000')).status, 400);
    assert.equal((await glance('GET', '/images?sort_key=color')).status, 400);
    for (const id of ids) assert.equal((await glance('DELETE', `/images/${id}`)).status, 204);
  });

  it("updates images by JSON patch in both of Glance's media types", async () => {
    const img = await create({ name: 'patchable', disk_format: 'raw', container_format: 'bare', stage: 'one' });
    let res = await patch(img.id, [
      { op: 'replace', path: '/name', value: 'patched' },
      { op: 'add', path: '/hw_rng_model', value: 'virtio' },
      { op: 'remove', path: '/stage' },
      { op: 'replace', path: '/min_ram', value: 64 },
      { op: 'add', path: '/tags', value: ['a', 'b'] },
    ]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name, 'patched');
    assert.equal(res.body.hw_rng_model, 'virtio');
    assert.equal(res.body.stage, undefined);
    assert.equal(res.body.min_ram, 64);
    assert.deepEqual(res.body.tags, ['a', 'b']);
    res = await patch(img.id, [{ add: '/hw_rescue_device', value: 'disk' }], c.adminToken, PATCH_V20);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.hw_rescue_device, 'disk');
    assert.equal(
      (await patch(img.id, [{ add: '/hw_rescue_device', value: 'x' }], c.adminToken, PATCH_V20)).status,
      409,
    );
    assert.equal((await patch(img.id, [{ op: 'replace', path: '/status', value: 'active' }])).status, 403);
    assert.equal((await patch(img.id, [{ op: 'replace', path: '/nothing', value: 'x' }])).status, 409);
    assert.equal((await patch(img.id, [{ op: 'remove', path: '/name' }])).status, 403);
    assert.equal((await patch(img.id, [{ op: 'replace', path: '/disk_format', value: 'floppy' }])).status, 400);
    assert.equal((await patch(img.id, [{ op: 'move', path: '/name' }])).status, 400);
    assert.equal((await patch(img.id, { op: 'replace' })).status, 400);
    assert.equal((await patch(img.id, [{ op: 'replace', path: '/a/b', value: 'x' }])).status, 400);
    const asJson = await glance('PATCH', `/images/${img.id}`, { body: [{ op: 'replace', path: '/name', value: 'x' }] });
    assert.equal(asJson.status, 415);
    assert.equal((await glance('PUT', `/images/${img.id}/tags/c`)).status, 204);
    assert.deepEqual((await glance('GET', `/images/${img.id}`)).body.tags, ['a', 'b', 'c']);
    assert.equal((await glance('DELETE', `/images/${img.id}/tags/a`)).status, 204);
    assert.equal((await glance('DELETE', `/images/${img.id}/tags/zz`)).status, 404);
    assert.equal((await glance('DELETE', `/images/${img.id}`)).status, 204);
  });

  it('deletes image records and their data; protected images stay', async () => {
    const img = await create({ name: 'doomed', disk_format: 'raw', container_format: 'bare', protected: true });
    assert.equal((await upload(img.id, Buffer.from('some bytes'))).status, 204);
    const refused = await glance('DELETE', `/images/${img.id}`);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.message, `Image ${img.id} is protected and cannot be deleted.`);
    assert.equal((await patch(img.id, [{ op: 'replace', path: '/protected', value: false }])).status, 200);
    assert.equal((await glance('DELETE', `/images/${img.id}`)).status, 204);
    assert.equal((await glance('GET', `/images/${img.id}`)).status, 404);
    assert.equal((await glance('DELETE', `/images/${img.id}`)).status, 404);
    assert.equal(await storedObject(img.id), undefined);
  });

  it('shows members public images and their own, and lets only owners and admins change them', async () => {
    const a = await c.tenant('img-alpha');
    const b = await c.tenant('img-beta');
    const own = await create(
      { name: 'alpha-private', visibility: 'private', disk_format: 'raw', container_format: 'bare' },
      a.token,
    );
    assert.equal(own.owner, a.projectId);
    const pub = await create({
      name: 'admin-public',
      visibility: 'public',
      disk_format: 'raw',
      container_format: 'bare',
    });

    const seenBy = async (token: string) =>
      (await glance('GET', '/images', { token })).body.images.map((i: any) => i.name);
    assert.ok((await seenBy(a.token)).includes('alpha-private'));
    assert.ok(!(await seenBy(b.token)).includes('alpha-private'));
    assert.ok((await seenBy(b.token)).includes('admin-public'));
    assert.ok((await seenBy(c.adminToken)).includes('alpha-private'), 'admins see every image');
    assert.equal((await glance('GET', `/images/${own.id}`, { token: b.token })).status, 404);
    assert.equal((await glance('DELETE', `/images/${own.id}`, { token: b.token })).status, 404);
    assert.equal((await c.compute('GET', `/images/${own.id}`, { token: b.token })).status, 404);

    const publicize = await glance('POST', '/images', { token: a.token, body: { name: 'x', visibility: 'public' } });
    assert.equal(publicize.status, 403);
    assert.equal(publicize.body.message, 'You are not authorized to complete publicize_image action.');
    assert.equal((await patch(own.id, [{ op: 'replace', path: '/visibility', value: 'public' }], a.token)).status, 403);
    assert.equal((await glance('DELETE', `/images/${pub.id}`, { token: a.token })).status, 403);
    assert.equal((await upload(pub.id, Buffer.from('x'), a.token)).status, 403);
    assert.equal((await patch(pub.id, [{ op: 'replace', path: '/name', value: 'mine' }], a.token)).status, 403);
    assert.equal(
      (await glance('POST', '/images', { token: a.token, body: { name: 'x', owner: b.projectId } })).status,
      403,
    );
    assert.equal(
      (await glance('POST', '/images', { token: a.token, body: { name: 'x', status: 'active' } })).status,
      403,
    );
    assert.equal(
      (await glance('POST', '/images', { token: a.token, body: { name: 'x', id: 'not-a-uuid' } })).status,
      400,
    );
    const dup = await glance('POST', '/images', { body: { name: 'dup', id: own.id } });
    assert.equal(dup.status, 409);

    assert.equal((await glance('DELETE', `/images/${own.id}`, { token: a.token })).status, 204);
    assert.equal((await glance('DELETE', `/images/${pub.id}`)).status, 204);
  });
});
