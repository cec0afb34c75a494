// Neutron through Debian's `openstack` CLI against an in-process gateway: networks, subnets,
// ports, routers, floating IPs and security groups, their create/list/show/delete and the
// errors Neutron gives (overlapping subnets, an IP in use, a network with ports, quotas,
// another project's network). Skipped when the clients cannot be installed.
import assert from 'node:assert/strict';
import { OpenStackCli, ensureClients } from '../openstack/cli.js';
import { Cluster } from './cluster.js';

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
    os = new OpenStackCli(c.adminOpenrc());
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

  it('creates ports with generated and requested addresses, and refuses an address in use', async () => {
    await os.ok(['network', 'create', 'pnet']);
    const sub = await os.json(['subnet', 'create', '--network', 'pnet', '--subnet-range', '10.2.0.0/29', 'psub']);
    const p1 = await os.json(['port', 'create', '--network', 'pnet', 'p1']);
    assert.match(p1.mac_address, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
    assert.deepEqual(p1.fixed_ips, [{ subnet_id: sub.id, ip_address: '10.2.0.2' }]);
    assert.equal(p1.security_group_ids.length, 1, 'the default group');
    const p2 = await os.json([
      'port',
      'create',
      '--network',
      'pnet',
      '--fixed-ip',
      'subnet=psub,ip-address=10.2.0.5',
      '--device',
      'vm-1',
      '--mac-address',
      'fa:16:3e:00:00:05',
      'p2',
    ]);
    assert.equal(p2.fixed_ips[0].ip_address, '10.2.0.5');
    assert.equal(p2.mac_address, 'fa:16:3e:00:00:05');
    const out = await os.fails(['port', 'create', '--network', 'pnet', '--fixed-ip', 'ip-address=10.2.0.5', 'p3'], 409);
    assert.match(out, /IP address 10\.2\.0\.5 already allocated/);
    await os.fails(['port', 'create', '--network', 'pnet', '--mac-address', 'fa:16:3e:00:00:05', 'p4'], 409);
    const byDevice = await os.json(['port', 'list', '--device-id', 'vm-1']);
    assert.deepEqual(
      byDevice.map((p: { Name: string }) => p.Name),
      ['p2'],
    );
    assert.match(await os.fails(['network', 'delete', 'pnet'], 409), /one or more ports still in use/);
    await os.fails(['subnet', 'delete', 'psub'], 409);
    await os.ok(['port', 'delete', 'p1', 'p2']);
    await os.ok(['network', 'delete', 'pnet']);
  });

  it('routes a private subnet to an external network and associates a floating IP', async () => {
    await os.ok(['network', 'create', '--external', 'ext']);
    await os.ok(['subnet', 'create', '--network', 'ext', '--subnet-range', '172.30.0.0/24', '--no-dhcp', 'ext-sub']);
    await os.ok(['network', 'create', 'inner']);
    const inner = await os.json([
      'subnet',
      'create',
      '--network',
      'inner',
      '--subnet-range',
      '10.3.0.0/24',
      'inner-sub',
    ]);
    const vm = await os.json(['port', 'create', '--network', 'inner', 'vm-port']);
    const fip = await os.json(['floating', 'ip', 'create', 'ext']);
    assert.match(fip.floating_ip_address, /^172\.30\.0\.\d+$/);
    // No router yet: the external network is not reachable from the port's subnet.
    const unreachable = await os.fails(['floating', 'ip', 'set', '--port', 'vm-port', fip.floating_ip_address], 404);
    assert.match(unreachable, /is not reachable from subnet/);
    await os.ok(['router', 'create', 'r1']);
    await os.ok(['router', 'set', '--external-gateway', 'ext', 'r1']);
    await os.ok(['router', 'add', 'subnet', 'r1', 'inner-sub']);
    const router = await os.json(['router', 'show', 'r1']);
    assert.equal(router.external_gateway_info.network_id, fip.floating_network_id);
    assert.match(router.external_gateway_info.external_fixed_ips[0].ip_address, /^172\.30\.0\./);
    assert.deepEqual(
      router.interfaces_info.map((i: { ip_address: string }) => i.ip_address),
      [inner.gateway_ip],
    );
    await os.ok(['floating', 'ip', 'set', '--port', 'vm-port', fip.floating_ip_address]);
    const shown = await os.json(['floating', 'ip', 'show', fip.floating_ip_address]);
    assert.equal(shown.port_id, vm.id);
    assert.equal(shown.fixed_ip_address, vm.fixed_ips[0].ip_address);
    assert.equal(shown.router_id, router.id);
    const listed = await os.json(['floating', 'ip', 'list']);
    assert.deepEqual(
      listed.map((f: { 'Fixed IP Address': string }) => f['Fixed IP Address']),
      [vm.fixed_ips[0].ip_address],
    );
    await os.fails(['router', 'remove', 'subnet', 'r1', 'inner-sub'], 409);
    await os.ok(['floating', 'ip', 'unset', '--port', fip.floating_ip_address]);
    assert.equal((await os.json(['floating', 'ip', 'show', fip.floating_ip_address])).port_id, null);
    await os.fails(['router', 'delete', 'r1'], 409);
    await os.ok(['router', 'remove', 'subnet', 'r1', 'inner-sub']);
    await os.ok(['router', 'delete', 'r1']);
    await os.ok(['floating', 'ip', 'delete', fip.floating_ip_address]);
    await os.ok(['port', 'delete', 'vm-port']);
    await os.ok(['network', 'delete', 'inner', 'ext']);
  });

  it('manages security groups and rules as a project member', async () => {
    const groups = await os.json(['security', 'group', 'list'], demo);
    assert.deepEqual(
      groups.map((g: { Name: string }) => g.Name),
      ['default'],
    );
    const rules = await os.json(['security', 'group', 'rule', 'list', 'default'], demo);
    assert.equal(rules.length, 4);
    const sg = await os.json(['security', 'group', 'create', 'web'], demo);
    assert.equal(sg.rules.length, 2, 'egress IPv4 and IPv6');
    const rule = await os.json(
      ['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '80:81', 'web'],
      demo,
    );
    assert.equal(rule.port_range_min, 80);
    assert.equal(rule.port_range_max, 81);
    assert.equal(rule.remote_ip_prefix, '0.0.0.0/0');
    assert.match(
      await os.fails(
        ['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '80:81', 'web'],
        409,
        demo,
      ),
      /Security group rule already exists/,
    );
    await os.fails(['security', 'group', 'delete', 'default'], 409, demo);
    await os.ok(['security', 'group', 'rule', 'delete', rule.id], demo);
    await os.ok(['security', 'group', 'delete', 'web'], demo);
  });

  it('enforces quotas and keeps other projects out', async () => {
    const demoId = (await os.json(['project', 'show', 'demo'])).id;
    await os.ok(['quota', 'set', '--networks', '1', demoId]);
    assert.equal((await os.json(['quota', 'show', demoId])).networks, 1);
    await os.ok(['network', 'create', 'demo-net'], demo);
    assert.match(
      await os.fails(['network', 'create', 'demo-net2'], 409, demo),
      /Quota exceeded for resources: \['network'\]/,
    );
    await os.ok(['network', 'create', 'admin-only']);
    // The CLI looks the network up first: to the demo project it does not exist.
    const hidden = (await os.json(['network', 'show', 'admin-only'])).id;
    const r = await os.run('openstack', ['port', 'create', '--network', hidden, 'x'], demo);
    assert.notEqual(r.code, 0);
    assert.match(r.out, new RegExp(`No Network found for ${hidden}`));
    await os.fails(['network', 'create', '--share', 'shared-by-demo'], 403, demo);
    await os.ok(['network', 'delete', 'admin-only']);
    await os.ok(['network', 'delete', 'demo-net'], demo);
  });
});
