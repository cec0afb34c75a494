// Contract: the Glance v2 responses (versions, images through their life, lists with paging
// links, errors) against the schemas of contract/glance.ts, each schema also shown to reject
// wrong shapes of the body it accepted.
import assert from 'node:assert/strict';
import { Cluster, type RequestOptions } from './cluster.js';
import { expectShape } from './contract/expect.js';
import * as glance from './contract/glance.js';

describe('contract: Glance v2 responses', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start();
  });
  after(async () => {
    await c?.stop();
  });

  const call = (method: string, path: string, opts: RequestOptions = {}) =>
    c.request(method, `/image/v2${path}`, { token: c.adminToken, ...opts });

  it('versions', async () => {
    expectShape(await c.request('GET', '/image'), 300, glance.versions, 'GET /image');
  });

  it('an image queued, active with its data, patched, listed in pages, deleted', async () => {
    const created = expectShape(
      await call('POST', '/images', {
        body: {
          name: 'contract-img',
          disk_format: 'qcow2',
          container_format: 'bare',
          hw_rng_model: 'virtio',
          tags: ['t'],
        },
      }),
      201,
      glance.image,
      'create',
    );
    assert.equal(created.status, 'queued');
    const id = created.id;
    const put = await call('PUT', `/images/${id}/file`, {
      rawBody: Buffer.from('contract data'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(put.status, 204);
    const active = expectShape(await call('GET', `/images/${id}`), 200, glance.image, 'show active');
    assert.equal(active.status, 'active');
    const patch = [{ op: 'replace', path: '/name', value: 'contract-img-2' }];
    expectShape(
      await call('PATCH', `/images/${id}`, {
        rawBody: JSON.stringify(patch),
        headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      }),
      200,
      glance.image,
      'patch',
    );
    await call('POST', '/images', { body: { name: 'contract-second' } });
    const page = expectShape(await call('GET', '/images?limit=1'), 200, glance.imageList, 'list page');
    assert.ok(page.next, 'a full page links to the next');
    expectShape(
      await c.request('GET', `/image${page.next}`, { token: c.adminToken }),
      200,
      glance.imageList,
      'next page',
    );
    expectShape(await call('GET', '/images'), 200, glance.imageList, 'list');
    assert.equal((await call('DELETE', `/images/${id}`)).status, 204);
  });

  it("errors in Glance's format", async () => {
    expectShape(await call('GET', '/images/00000000-0000-0000-0000-000000000000'), 404, glance.error(404), '404');
    expectShape(
      await call('POST', '/images', { body: { name: 'x', disk_format: 'floppy' } }),
      400,
      glance.error(400),
      '400',
    );
    expectShape(
      await call('POST', '/images', { body: { name: 'x', status: 'active' } }),
      403,
      glance.error(403),
      '403',
    );
    const img = (await call('POST', '/images', { body: { name: 'x', disk_format: 'raw', container_format: 'bare' } }))
      .body;
    expectShape(await call('PATCH', `/images/${img.id}`, { body: [] }), 415, glance.error(415), '415');
    await call('PUT', `/images/${img.id}/file`, {
      rawBody: Buffer.from('x'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expectShape(
      await call('PUT', `/images/${img.id}/file`, {
        rawBody: Buffer.from('x'),
        headers: { 'content-type': 'application/octet-stream' },
      }),
      409,
      glance.error(409),
      '409',
    );
  });
});
