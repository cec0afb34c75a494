// Smoke test with the real OpenStack CLI (Debian's python3-openstackclient) against the gateway,
// the real scheduler and fake compute nodes: quick, no VM boots. Skipped when the clients cannot
// be installed; ../openstack/cli.test.ts is the end-to-end test against a real cluster.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenStackCli, ensureClients } from '../openstack/cli.js';
import { Cluster } from './cluster.js';

describe('api-gateway: openstack CLI smoke test', function () {
  this.timeout(300_000);
  let c: Cluster;
  let cli: OpenStackCli;
  const ok = (args: string[], env?: Record<string, string>) => cli.ok(args, env);

  before(async function () {
    const clients = ensureClients();
    if (!clients.ok) {
      console.log(`    skipped: ${clients.reason}`);
      this.skip();
    }
    c = await Cluster.start({ nodes: [{}, {}] });
    cli = new OpenStackCli(c.adminOpenrc());
  });
  after(async () => {
    await c?.stop();
  });

  it('issues a token and lists flavors and images', async () => {
    const token = JSON.parse(await ok(['token', 'issue', '-f', 'json']));
    assert.ok(token.id && token.project_id && token.user_id);
    const flavors = JSON.parse(await ok(['flavor', 'list', '-f', 'json'])) as { Name: string }[];
    assert.deepEqual(
      flavors.map((f) => f.Name),
      ['m1.tiny', 'm1.small', 'm1.medium', 'm1.large'],
    );
    const images = JSON.parse(await ok(['image', 'list', '-f', 'json'])) as { Name: string }[];
    assert.deepEqual(
      images.map((i) => i.Name),
      ['hypernova-guest'],
    );
  });

  it('uploads, shows, downloads and deletes an image with image create --file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hn-cli-'));
    try {
      const file = join(dir, 'guest.img');
      const data = randomBytes(512 * 1024);
      writeFileSync(file, data);
      const created = JSON.parse(
        await ok([
          'image',
          'create',
          '--file',
          file,
          '--disk-format',
          'raw',
          '--container-format',
          'bare',
          '--property',
          'architecture=riscv32',
          '-f',
          'json',
          'uploaded',
        ]),
      );
      const shown = JSON.parse(await ok(['image', 'show', '-f', 'json', 'uploaded']));
      assert.equal(shown.id, created.id);
      assert.equal(shown.status, 'active');
      assert.equal(shown.size, data.length);
      assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
      await ok(['image', 'save', '--file', join(dir, 'back.img'), 'uploaded']);
      assert.ok(readFileSync(join(dir, 'back.img')).equals(data));
      await ok(['image', 'set', '--name', 'renamed', '--property', 'hw_rng_model=virtio', 'uploaded']);
      assert.equal(JSON.parse(await ok(['image', 'show', '-f', 'json', 'renamed'])).properties.hw_rng_model, 'virtio');
      await ok(['image', 'delete', 'renamed']);
      const names = (JSON.parse(await ok(['image', 'list', '-f', 'json'])) as { Name: string }[]).map((i) => i.Name);
      assert.deepEqual(names, ['hypernova-guest']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates a server with --wait, lists, shows, stops, reads its console and deletes it', async () => {
    const created = JSON.parse(
      await ok([
        'server',
        'create',
        '--image',
        'hypernova-guest',
        '--flavor',
        'm1.tiny',
        '--wait',
        '-f',
        'json',
        'vm1',
      ]),
    );
    assert.equal(created.status, 'ACTIVE');
    const list = JSON.parse(await ok(['server', 'list', '-f', 'json'])) as {
      Name: string;
      Status: string;
      Image: string;
      Flavor: string;
    }[];
    assert.deepEqual(
      list.map((s) => [s.Name, s.Status, s.Image, s.Flavor]),
      [['vm1', 'ACTIVE', 'hypernova-guest', 'm1.tiny']],
    );
    assert.match(await ok(['console', 'log', 'show', 'vm1']), /BOOT-OK/);
    await ok(['server', 'stop', 'vm1']);
    await c.waitStatus(created.id, 'SHUTOFF');
    await ok(['server', 'start', 'vm1']);
    await c.waitStatus(created.id, 'ACTIVE');
    await ok(['server', 'reboot', '--hard', '--wait', 'vm1']);
    const hypervisors = await ok(['hypervisor', 'list', '--long']);
    assert.match(hypervisors, /node-1/);
    assert.match(await ok(['compute', 'service', 'list']), /nova-compute/);
    await ok(['server', 'delete', '--wait', 'vm1']);
    assert.deepEqual(JSON.parse(await ok(['server', 'list', '-f', 'json'])), []);
  });

  it('adds a tenant from the CLI whose member gets 403 on admin commands', async () => {
    await ok(['project', 'create', 'demo']);
    await ok(['user', 'create', '--password', 'demopw', '--project', 'demo', 'demo']);
    await ok(['role', 'add', '--project', 'demo', '--user', 'demo', 'member']);
    const member = { OS_USERNAME: 'demo', OS_PASSWORD: 'demopw', OS_PROJECT_NAME: 'demo' };
    assert.equal((await ok(['server', 'list', '-f', 'json'], member)).trim(), '[]');
    await cli.fails(['hypervisor', 'list'], 403, member);
  });
});
