// Neutron v2.0 at the HTTP level: discovery, bad bodies (400 with a message in Neutron's error
// body), 404s and 409s with Neutron's types, admin-only attributes, atomic address allocation
// across two gateways, list filters, and devstack's initial networks.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { DEVSTACK, ensureDevstackNetworks, type GatewayApp } from '@hypernova/api-gateway';
import { Cluster, type RequestOptions } from './cluster.js';

describe('api-gateway: Neutron API', function () {
  this.timeout(120_000);
  let c: Cluster;
  let second: GatewayApp;
  let member: string;
  const net = (method: string, path: string, opts: RequestOptions = {}) =>
    c.request(method, `/networking/v2.0${path}`, { token: c.adminToken, ...opts });
  const created = async (path: string, body: object, token = c.adminToken) => {
    const res = await net('POST', path, { body, token });
    assert.equal(res.status, 201, res.text);
    return Object.values(res.body)[0] as any;
  };
  const neutronError = (res: { status: number; body: any }, status: number, type: string) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.NeutronError.type, type, JSON.stringify(res.body));
    assert.equal(typeof res.body.NeutronError.message, 'string');
    assert.equal(res.body.NeutronError.detail, '');
    return res.body.NeutronError.message as string;
  };

  before(async () => {
    c = await Cluster.start();
    second = await c.startGateway();
    member = (await c.tenant('netdemo')).token;
  });
  after(async () => {
    await second?.close();
    await c?.stop();
  });

  it('serves the versions document without a token and needs one below it', async () => {
    const v = await c.request('GET', '/networking');
    assert.equal(v.status, 200);
    assert.deepEqual(v.body.versions[0].id, 'v2.0');
    assert.equal(v.body.versions[0].links[0].href, `${c.gateway.url}/networking/v2.0/`);
    const res = await c.request('GET', '/networking/v2.0/networks');
    assert.equal(res.status, 401);
    assert.equal((await net('GET', '/extensions/external-net')).body.extension.alias, 'external-net');
    neutronError(await net('GET', '/extensions/dns-integration'), 404, 'HTTPNotFound');
  });

  it('refuses bad bodies with 400 and a message', async () => {
    for (const body of [
      { network: { name: 1 } },
      { network: { name: 'x', bogus: true } },
      { net: {} },
      { network: { 'provider:network_type': 'gre' } },
    ]) {
      const msg = neutronError(await net('POST', '/networks', { body }), 400, 'HTTPBadRequest');
      assert.match(msg, /Invalid input/);
    }
    neutronError(
      await net('POST', '/networks', { rawBody: '{"network":', headers: { 'content-type': 'application/json' } }),
      400,
      'HTTPBadRequest',
    );
    neutronError(await net('POST', '/subnets', { body: { subnet: { network_id: 'x' } } }), 400, 'HTTPBadRequest');
    neutronError(
      await net('POST', '/ports', { body: { port: { network_id: 'x', fixed_ips: 'all' } } }),
      400,
      'HTTPBadRequest',
    );
    neutronError(
      await net('POST', '/security-group-rules', {
        body: { security_group_rule: { security_group_id: 'x', direction: 'up' } },
      }),
      400,
      'HTTPBadRequest',
    );
    neutronError(await net('PUT', '/quotas/p', { body: { quota: { network: -2 } } }), 400, 'HTTPBadRequest');
  });

  it('answers 404 with the resource type for unknown ids and paths', async () => {
    for (const [path, type] of [
      ['/networks/nope', 'NetworkNotFound'],
      ['/subnets/nope', 'SubnetNotFound'],
      ['/ports/nope', 'PortNotFound'],
      ['/routers/nope', 'RouterNotFound'],
      ['/floatingips/nope', 'FloatingIPNotFound'],
      ['/security-groups/nope', 'SecurityGroupNotFound'],
      ['/security-group-rules/nope', 'SecurityGroupRuleNotFound'],
    ]) {
      neutronError(await net('GET', path), 404, type);
      neutronError(await net('DELETE', path), 404, type);
    }
    neutronError(await net('GET', '/lbaas/loadbalancers'), 404, 'HTTPNotFound');
    neutronError(await net('POST', '/ports', { body: { port: { network_id: 'nope' } } }), 404, 'NetworkNotFound');
  });

  it('validates subnets: CIDR, gateway, pools, overlaps', async () => {
    const n = await created('/networks', { network: { name: 'v' } });
    const sub = (extra: object) =>
      net('POST', '/subnets', { body: { subnet: { network_id: n.id, ip_version: 4, ...extra } } });
    neutronError(await sub({ cidr: '10.9.0.1/24' }), 400, 'InvalidInput');
    neutronError(await sub({ cidr: 'fd00::/64' }), 400, 'InvalidInput');
    neutronError(await sub({ cidr: '10.9.0.0/24', gateway_ip: '10.8.0.1' }), 400, 'InvalidInput');
    neutronError(
      await sub({ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.10', end: '10.9.1.5' }] }),
      400,
      'InvalidInput',
    );
    neutronError(
      await sub({ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.1', end: '10.9.0.20' }] }),
      409,
      'GatewayConflictWithAllocationPools',
    );
    const s = (await sub({ cidr: '10.9.0.0/24', gateway_ip: null, dns_nameservers: ['8.8.8.8'] })).body.subnet;
    assert.equal(s.gateway_ip, null);
    assert.deepEqual(s.allocation_pools, [{ start: '10.9.0.1', end: '10.9.0.254' }]);
    // Neutron's overlap is an InvalidInput (400).
    assert.match(
      neutronError(await sub({ cidr: '10.9.0.128/25' }), 400, 'InvalidInput'),
      /overlaps with another subnet/,
    );
    const [a, b] = await Promise.all([sub({ cidr: '10.10.0.0/24' }), sub({ cidr: '10.10.0.0/25' })]);
    assert.deepEqual([a.status, b.status].sort(), [201, 400], 'racing overlapping subnets: one wins');
    assert.equal((await net('GET', `/networks/${n.id}`)).body.network.subnets.length, 2);
  });

  it('allocates every address once across two gateways, first free first', async () => {
    const n = await created('/networks', { network: { name: 'alloc' } });
    const s = await created('/subnets', { subnet: { network_id: n.id, cidr: '10.20.0.0/28', ip_version: 4 } });
    const viaSecond = (body: object) =>
      fetch(`${second.url}/networking/v2.0/ports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': c.adminToken },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const body = { port: { network_id: n.id } };
    // The pool is .2 to .14: 13 addresses, taken by 13 racing creates on two gateways.
    const results = await Promise.all(
      Array.from({ length: 13 }, (_, i) => (i % 2 ? viaSecond(body) : net('POST', '/ports', { body }))),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(13).fill(201),
    );
    const ports = results.map((r) => r.body.port);
    assert.equal(new Set(ports.map((p) => p.fixed_ips[0].ip_address)).size, 13);
    assert.equal(new Set(ports.map((p) => p.mac_address)).size, 13);
    neutronError(await net('POST', '/ports', { body }), 409, 'IpAddressGenerationFailure');
    const five = ports.find((p) => p.fixed_ips[0].ip_address === '10.20.0.5');
    assert.equal((await net('DELETE', `/ports/${five.id}`)).status, 204);
    const again = await created('/ports', body);
    assert.deepEqual(again.fixed_ips, [{ subnet_id: s.id, ip_address: '10.20.0.5' }]);
    const taken = { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.20.0.5' }] } };
    assert.match(
      neutronError(await net('POST', '/ports', { body: taken }), 409, 'IpAddressAlreadyAllocated'),
      /IP address 10\.20\.0\.5 already allocated in subnet/,
    );
    const mac = { port: { network_id: n.id, fixed_ips: [], mac_address: again.mac_address } };
    neutronError(await net('POST', '/ports', { body: mac }), 409, 'MacAddressInUse');
    neutronError(await net('DELETE', `/subnets/${s.id}`), 409, 'SubnetInUse');
    neutronError(await net('DELETE', `/networks/${n.id}`), 409, 'NetworkInUse');
  });

  it('keeps provider attributes and bindings to admins and allocates distinct VNIs', async () => {
    neutronError(
      await net('POST', '/networks', { token: member, body: { network: { 'provider:segmentation_id': 77 } } }),
      403,
      'PolicyNotAuthorized',
    );
    const mine = await created('/networks', { network: { name: 'mine' } }, member);
    assert.equal(mine['provider:segmentation_id'], undefined);
    const [a, b] = await Promise.all([created('/networks', { network: {} }), created('/networks', { network: {} })]);
    assert.notEqual(a['provider:segmentation_id'], b['provider:segmentation_id']);
    const given = await created('/networks', { network: { 'provider:segmentation_id': 4242 } });
    assert.equal(given['provider:segmentation_id'], 4242);
    neutronError(
      await net('POST', '/networks', { body: { network: { 'provider:segmentation_id': 4242 } } }),
      409,
      'TunnelIdInUse',
    );
    const flat = await created('/networks', {
      network: { 'provider:network_type': 'flat', 'provider:physical_network': 'physnet9' },
    });
    assert.equal(flat.mtu, 1500);
    neutronError(
      await net('POST', '/networks', {
        body: { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'physnet9' } },
      }),
      409,
      'FlatNetworkInUse',
    );
    await created('/subnets', { subnet: { network_id: mine.id, cidr: '10.30.0.0/24' } }, member);
    neutronError(
      await net('POST', '/ports', {
        token: member,
        body: { port: { network_id: mine.id, 'binding:host_id': 'node-1' } },
      }),
      403,
      'PolicyNotAuthorized',
    );
    const port = await created('/ports', { port: { network_id: mine.id, 'binding:host_id': 'node-1' } });
    assert.equal(port['binding:host_id'], 'node-1');
    const seen = (await net('GET', `/ports/${port.id}`, { token: member })).body.port;
    assert.equal(seen['binding:host_id'], undefined, 'the network owner sees the port, not its binding');
    // Others' networks: not seen (404), and not for ports unless shared.
    neutronError(await net('GET', `/networks/${a.id}`, { token: member }), 404, 'NetworkNotFound');
    neutronError(
      await net('POST', '/ports', { token: member, body: { port: { network_id: a.id } } }),
      404,
      'NetworkNotFound',
    );
    await net('PUT', `/networks/${a.id}`, { body: { network: { shared: true } } });
    await created('/subnets', { subnet: { network_id: a.id, cidr: '10.31.0.0/24' } });
    const onShared = await created('/ports', { port: { network_id: a.id } }, member);
    assert.equal(onShared.fixed_ips.length, 1);
    neutronError(
      await net('POST', '/ports', {
        token: member,
        body: { port: { network_id: a.id, fixed_ips: [{ ip_address: '10.31.0.9' }] } },
      }),
      403,
      'PolicyNotAuthorized',
    );
    neutronError(await net('DELETE', `/networks/${a.id}`, { token: member }), 403, 'PolicyNotAuthorized');
  });

  it('filters lists and picks fields', async () => {
    await created('/networks', { network: { name: 'filtered' } });
    const byName = (await net('GET', '/networks?name=filtered&fields=id&fields=name')).body.networks;
    assert.equal(byName.length, 1);
    assert.deepEqual(Object.keys(byName[0]).sort(), ['id', 'name']);
    const external = (await net('GET', '/networks?router:external=True')).body.networks;
    assert.ok(external.every((n: any) => n['router:external'] === true));
    const paged = await net('GET', '/networks?limit=2');
    assert.equal(paged.body.networks.length, 2);
    assert.match(paged.body.networks_links[0].href, /marker=/);
    neutronError(await net('GET', '/networks?limit=x'), 400, 'HTTPBadRequest');
  });

  it("gives each project a default security group with Neutron's rules, and enforces rule checks", async () => {
    const groups = (await net('GET', '/security-groups', { token: member })).body.security_groups;
    const def = groups.find((g: any) => g.name === 'default');
    const rules = def.security_group_rules.map((r: any) => [r.direction, r.ethertype, r.remote_group_id]);
    assert.deepEqual(rules.sort(), [
      ['egress', 'IPv4', null],
      ['egress', 'IPv6', null],
      ['ingress', 'IPv4', def.id],
      ['ingress', 'IPv6', def.id],
    ]);
    const rule = (extra: object) =>
      net('POST', '/security-group-rules', {
        token: member,
        body: { security_group_rule: { security_group_id: def.id, direction: 'ingress', ...extra } },
      });
    neutronError(await rule({ port_range_min: 22, port_range_max: 22 }), 400, 'InvalidInput');
    neutronError(await rule({ protocol: 'tcp', port_range_min: 30, port_range_max: 20 }), 400, 'InvalidInput');
    neutronError(await rule({ protocol: 'bogus' }), 400, 'SecurityGroupRuleInvalidProtocol');
    neutronError(await rule({ protocol: 'tcp', remote_ip_prefix: '::/0' }), 400, 'InvalidInput');
    neutronError(await rule({ remote_ip_prefix: '10.0.0.0/8', remote_group_id: def.id }), 400, 'InvalidInput');
    assert.equal((await rule({ protocol: 'icmp', remote_ip_prefix: '10.0.0.0/8' })).status, 201);
    neutronError(await rule({ protocol: '1', remote_ip_prefix: '10.0.0.0/8' }), 409, 'SecurityGroupRuleExists');
    neutronError(
      await net('DELETE', `/security-groups/${def.id}`, { token: member }),
      409,
      'SecurityGroupCannotRemoveDefault',
    );
    neutronError(
      await net('POST', '/security-groups', { token: member, body: { security_group: { name: 'default' } } }),
      409,
      'SecurityGroupDefaultAlreadyExists',
    );
  });

  it('shows, sets and enforces quotas with OverQuota', async () => {
    const project = (await c.tenant('quotaproj')).projectId;
    const token = await c.token('quotaproj-user', 'quotaproj-pw', 'quotaproj');
    assert.equal((await net('GET', `/quotas/${project}`, { token })).body.quota.router, 10);
    neutronError(
      await net('PUT', `/quotas/${project}`, { token, body: { quota: { router: 1 } } }),
      403,
      'PolicyNotAuthorized',
    );
    assert.equal((await net('PUT', `/quotas/${project}`, { body: { quota: { router: 1 } } })).body.quota.router, 1);
    await created('/routers', { router: { name: 'r' } }, token);
    assert.match(
      neutronError(await net('POST', '/routers', { token, body: { router: {} } }), 409, 'OverQuota'),
      /Quota exceeded for resources: \['router'\]/,
    );
    const details = (await net('GET', `/quotas/${project}/details`, { token })).body.quota;
    assert.deepEqual(details.router, { used: 1, limit: 1, reserved: 0 });
    neutronError(await net('GET', '/quotas/someone-else', { token }), 403, 'HTTPForbidden');
    assert.equal((await net('DELETE', `/quotas/${project}`)).status, 204);
    assert.equal((await net('GET', `/quotas/${project}/default`, { token })).body.quota.router, 10);
  });

  it("makes devstack's networks once: public with the host at .1, private and router1", async () => {
    for (let i = 0; i < 2; i++)
      assert.deepEqual(await ensureDevstackNetworks(c.gateway.gateway, ['netdemo', 'nobody']), { missing: ['nobody'] });
    const token = member;
    const nets = (await net('GET', '/networks', { token })).body.networks;
    const pub = nets.filter((n: any) => n.name === DEVSTACK.public.network);
    const priv = nets.filter((n: any) => n.name === DEVSTACK.private.network);
    assert.equal(pub.length, 1);
    assert.equal(priv.length, 1);
    assert.equal(pub[0]['router:external'], true);
    const pubSubnet = (await net('GET', `/subnets/${pub[0].subnets[0]}`, { token })).body.subnet;
    assert.equal(pubSubnet.cidr, '172.24.4.0/24');
    assert.equal(pubSubnet.gateway_ip, '172.24.4.1');
    const privSubnet = (await net('GET', `/subnets/${priv[0].subnets[0]}`, { token })).body.subnet;
    assert.equal(privSubnet.cidr, '10.0.0.0/26');
    const routers = (await net('GET', '/routers?name=router1', { token })).body.routers;
    assert.equal(routers.length, 1);
    assert.equal(routers[0].external_gateway_info.network_id, pub[0].id);
    assert.match(routers[0].external_gateway_info.external_fixed_ips[0].ip_address, /^172\.24\.4\.\d+$/);
    const ifaces = (
      await net('GET', `/ports?device_id=${routers[0].id}&device_owner=network:router_interface`, { token })
    ).body.ports;
    assert.deepEqual(
      ifaces.map((p: any) => p.fixed_ips[0].ip_address),
      ['10.0.0.1'],
    );
  });
});
