// os-instance-actions: every action on a server is recorded under the request id the API
// answered with (X-Compute-Request-ID), with its compute events and their results.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { Cluster } from './cluster.js';

describe('api-gateway: instance actions and their events', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start({ nodes: [{}] });
  });
  after(async () => {
    await c?.stop();
  });

  it('records create, stop, start, pause, unpause, suspend, resume and reboot with their events', async () => {
    const created = await c.compute('POST', '/servers', {
      body: { server: { name: 'recorded', imageRef: c.image.id, flavorRef: '1' } },
    });
    const id = created.body.server.id;
    const createRequest = created.headers.get('x-compute-request-id');
    await c.waitStatus(id, 'ACTIVE');
    const requests: [string, string | null][] = [['create', createRequest]];
    for (const [body, status, name] of [
      [{ 'os-stop': null }, 'SHUTOFF', 'stop'],
      [{ 'os-start': null }, 'ACTIVE', 'start'],
      [{ pause: null }, 'PAUSED', 'pause'],
      [{ unpause: null }, 'ACTIVE', 'unpause'],
      [{ suspend: null }, 'SUSPENDED', 'suspend'],
      [{ resume: null }, 'ACTIVE', 'resume'],
      [{ reboot: { type: 'HARD' } }, 'ACTIVE', 'reboot'],
    ] as const) {
      const res = await c.compute('POST', `/servers/${id}/action`, { body });
      assert.equal(res.status, 202, res.text);
      requests.push([name, res.headers.get('x-compute-request-id')]);
      await c.waitStatus(id, status);
    }
    await c.gateway.gateway.tasks.idle();
    // A refused action (409) is not recorded.
    assert.equal((await c.compute('POST', `/servers/${id}/action`, { body: { 'os-start': null } })).status, 409);

    const list = await c.compute('GET', `/servers/${id}/os-instance-actions`);
    assert.equal(list.status, 200);
    const actions = list.body.instanceActions;
    assert.deepEqual(
      actions.map((a: any) => [a.action, a.request_id]),
      [...requests].reverse(),
      'newest first, under the request ids the API answered with',
    );
    for (const a of actions) {
      assert.equal(a.instance_uuid, id);
      assert.equal(a.message, null);
      assert.match(a.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      assert.ok(a.user_id && a.project_id);
      assert.equal(a.events, undefined, 'lists carry no events');
    }

    const create = await c.compute('GET', `/servers/${id}/os-instance-actions/${createRequest}`);
    assert.deepEqual(
      create.body.instanceAction.events.map((e: any) => [e.event, e.result]),
      [
        ['conductor_schedule_and_build_instances', 'Success'],
        ['compute__do_build_and_run_instance', 'Success'],
      ],
    );
    const stop = await c.compute('GET', `/servers/${id}/os-instance-actions/${requests[1][1]}`);
    const [event] = stop.body.instanceAction.events;
    assert.equal(event.event, 'compute_stop_instance');
    assert.equal(event.result, 'Success');
    assert.equal(event.traceback, null);
    assert.ok(event.finish_time >= event.start_time);
    assert.equal((await c.compute('GET', `/servers/${id}/os-instance-actions/req-nope`)).status, 404);

    const del = await c.compute('DELETE', `/servers/${id}`);
    await c.waitServer(id, 'gone');
    // At 2.1 a deleted server's actions are gone with it (2.21 keeps them listable: microversions.test).
    assert.equal((await c.compute('GET', `/servers/${id}/os-instance-actions`)).status, 404);
    assert.ok(del.headers.get('x-compute-request-id'));
  });

  it('records a failed build as an error event with the action message Error', async () => {
    c.nodes[0].failSpawn = 'disk on fire';
    try {
      const id = await c.createServer('doomed');
      await c.waitStatus(id, 'ERROR');
      const [create] = (await c.compute('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions;
      const shown = (await c.compute('GET', `/servers/${id}/os-instance-actions/${create.request_id}`)).body
        .instanceAction;
      assert.equal(shown.message, 'Error');
      const failed = shown.events.filter((e: any) => e.result === 'Error');
      assert.ok(failed.length > 0);
      assert.ok(
        failed.some((e: any) => /disk on fire/.test(e.traceback ?? '')),
        JSON.stringify(shown.events),
      );
      await c.compute('DELETE', `/servers/${id}`);
      await c.waitServer(id, 'gone');
    } finally {
      c.nodes[0].failSpawn = undefined;
    }
  });

  it("shows members their own servers' actions without events (admin-only in Nova's policy)", async () => {
    const m = await c.tenant('acting-member');
    const id = await c.createServer('mine', { token: m.token });
    await c.waitStatus(id, 'ACTIVE', m.token);
    const list = await c.compute('GET', `/servers/${id}/os-instance-actions`, { token: m.token });
    assert.equal(list.status, 200);
    const [create] = list.body.instanceActions;
    assert.equal(create.user_id, m.userId);
    const shown = await c.compute('GET', `/servers/${id}/os-instance-actions/${create.request_id}`, { token: m.token });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.instanceAction.events, undefined);
    const other = await c.tenant('acting-other');
    assert.equal((await c.compute('GET', `/servers/${id}/os-instance-actions`, { token: other.token })).status, 404);
    await c.compute('DELETE', `/servers/${id}`, { token: m.token });
    await c.waitServer(id, 'gone');
  });
});
