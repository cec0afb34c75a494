// `hypernova cluster up`: the docker-compose topology as processes on this machine. Real
// nats-server (JetStream) and redis-server (AOF) on free loopback ports, two scheduler replicas,
// three compute agents (each its own state dir), the API gateway, the guest image registered in
// the object store; then an openrc file, cluster.json beside it (the endpoints, no secrets) and
// the line `openrc: <path>` once every service answers its health check. Each service logs to
// <dir>/logs/<name>.log. Ctrl-C (or SIGTERM) stops it all, VM processes included. The control
// plane is authenticated: <dir>/credentials holds the CA and one directory per service (Redis
// ACL user, NATS user, gRPC certificate), which each service is given by its path alone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  callUnary,
  connectNats,
  createRedis,
  CREDENTIALS_DIR_ENV,
  ensureClusterCredentials,
  grpcClientCredentials,
  infraSettings,
  loadConfig,
  loadCredentials,
  ServingStatus,
  type ClusterCredentials,
  type Credentials,
  type Role,
} from '@hypernova/common';
import { registerGuestImageSet, type GuestImageFiles, type ImageRecord } from '@hypernova/cluster-state';
import { agentUidRange } from '@hypernova/compute-node';
import { health } from '@hypernova/proto';

const USAGE = `usage: hypernova cluster up [--dir DIR] [--nodes N] [--schedulers N] [--api-port PORT] [--no-guest] [--shared-instances]
       hypernova cluster register-guest --kernel FILE [--root-disk FILE]
       hypernova cluster health [--grpc HOST:PORT]... [--http URL]...
       hypernova cluster credentials --dir DIR --identity NAME:ROLE[:HOST,...]... [--server-host HOST]...
                                     [--nats-dir PATH]

  up              run the cluster here until Ctrl-C
  register-guest  store the guest image set in NATS and register it (REDIS_URL, NATS_URL,
                  HYPERNOVA_CREDENTIALS_DIR)
  health          exit 0 when every gRPC server answers SERVING (grpc.health.v1) and every URL 2xx
                  (mutual TLS with the credentials HYPERNOVA_CREDENTIALS_DIR names, if any)
  credentials     make (or complete) a cluster's credentials in DIR: the CA, DIR/redis, DIR/nats
                  and DIR/NAME for each identity (ROLE: gateway, scheduler, compute or admin);
                  --server-host names Redis and NATS are reached at, --nats-dir where nats-server
                  sees DIR/nats (what a Compose init service runs)

  --dir         where data, logs, credentials, openrc and cluster.json go (default: ./.hypernova-cluster)
  --nodes       compute agents node-1..N (default 3)
  --schedulers  scheduler replicas (default 2)
  --api-port    port of the API gateway (default 8080; 0: a free port)
  --no-guest    do not build and register the Linux guest image
  --shared-instances  the nodes keep instance disks in one instances path (DIR/instances), as
                over NFS: live migration then keeps disks where they are (block_migration false)

environment: HYPERNOVA_ADMIN_PASSWORD (default secret), LOG_LEVEL (default info),
COMPUTE_* settings are passed to every agent (see hypernova-compute --help).`;

/** The checkout this CLI runs from (cli/dist/src/cluster.js -> ../../..). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export async function clusterCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'register-guest') return registerGuestCommand(rest);
  if (sub === 'health') return healthCommand(rest);
  if (sub === 'credentials') return credentialsCommand(rest);
  if (sub !== 'up') {
    process.stderr.write(`${USAGE}\n`);
    return sub === '-h' || sub === '--help' ? 0 : 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string', default: '.hypernova-cluster' },
      nodes: { type: 'string', default: '3' },
      schedulers: { type: 'string', default: '2' },
      'api-port': { type: 'string', default: '8080' },
      'no-guest': { type: 'boolean', default: false },
      'shared-instances': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const launcher = new Launcher(resolve(values.dir), {
    nodes: Number(values.nodes),
    schedulers: Number(values.schedulers),
    apiPort: Number(values['api-port']),
    guest: !values['no-guest'],
    sharedInstances: values['shared-instances'],
  });
  return launcher.run();
}

interface LaunchOptions {
  nodes: number;
  schedulers: number;
  apiPort: number;
  guest: boolean;
  sharedInstances: boolean;
}

/** One service process: output to its log file, watched for a ready line from the start. */
class Service {
  readonly exited: Promise<number | string>;
  private stopping = false;
  private tail = '';
  private readonly readyMatch: Promise<RegExpMatchArray>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    ready: RegExp | undefined,
  ) {
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
    this.readyMatch = new Promise((resolveReady, reject) => {
      if (!ready) return resolveReady([] as unknown as RegExpMatchArray);
      const onData = (b: Buffer) => {
        this.tail = (this.tail + b.toString()).slice(-8192);
        const m = this.tail.match(ready);
        if (!m) return;
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolveReady(m);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      void this.exited.then((code) =>
        reject(new Error(`${this.name} exited (${code}) before it was ready (see its log)`)),
      );
    });
    // eslint-disable-next-line no-restricted-syntax -- observed by waitReady
    this.readyMatch.catch(() => undefined);
  }

  /** The ready line's match; rejects when the process exits first or takes too long. */
  waitReady(timeoutMs = 60_000): Promise<RegExpMatchArray> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} not ready after ${timeoutMs} ms (see its log)`)),
        timeoutMs,
      );
    });
    return Promise.race([this.readyMatch, timeout]).finally(() => clearTimeout(timer));
  }

  get expectedExit(): boolean {
    return this.stopping;
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

class Launcher {
  private readonly services: Service[] = [];
  private readonly logs: string;
  /** The launcher's own identity (health checks, the guest image). */
  private admin: Credentials | null = null;

  constructor(
    private readonly dir: string,
    private readonly opts: LaunchOptions,
  ) {
    this.logs = join(dir, 'logs');
  }

  async run(): Promise<number> {
    mkdirSync(this.logs, { recursive: true });
    process.on('exit', () => {
      for (const s of this.services) s.child.kill('SIGKILL');
    });
    let stopRequested: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((r) => (stopRequested = r));
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stopRequested(sig));
    try {
      await Promise.race([this.start(), stopped.then((sig) => Promise.reject(new Error(`${sig} during start`)))]);
    } catch (err) {
      process.stderr.write(`cluster: ${(err as Error).message}\ncluster: logs in ${this.logs}\n`);
      await this.stopAll();
      return 1;
    }
    const signal = await stopped;
    process.stdout.write(`cluster: ${signal}: stopping\n`);
    await this.stopAll();
    process.stdout.write('cluster: stopped\n');
    return 0;
  }

  private async start(): Promise<void> {
    const natsBin = findOrInstall('nats-server');
    const redisBin = findOrInstall('redis-server');
    const [natsPort, redisPort] = [await freePort(), await freePort()];
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    const redisUrl = `rediss://127.0.0.1:${redisPort}`;
    for (const d of ['nats', 'redis']) mkdirSync(join(this.dir, d), { recursive: true });
    const creds = this.credentials();
    this.admin = loadCredentials(creds.dir('admin'));
    const nats = this.spawn(
      'nats',
      natsBin,
      ['-c', creds.nats.config, '-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(this.dir, 'nats')],
      {},
      /Server is ready/,
    );
    const redis = this.spawn(
      'redis',
      redisBin,
      [
        '--port',
        '0',
        '--tls-port',
        String(redisPort),
        '--tls-cert-file',
        creds.redis.cert,
        '--tls-key-file',
        creds.redis.key,
        '--tls-ca-cert-file',
        creds.redis.ca,
        '--tls-auth-clients',
        'no',
        '--aclfile',
        creds.redis.aclFile,
        '--bind',
        '127.0.0.1',
        '--dir',
        join(this.dir, 'redis'),
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--daemonize',
        'no',
      ],
      {},
      /Ready to accept connections/,
    );
    await Promise.all([nats.waitReady(), redis.waitReady()]);
    this.say(`nats ${natsUrl}, redis ${redisUrl}`);

    const infra = { REDIS_URL: redisUrl, NATS_URL: natsUrl, METRICS_PORT: '0' };
    const identity = (name: string) => ({ [CREDENTIALS_DIR_ENV]: creds.dir(name) });
    const schedulers = Array.from({ length: this.opts.schedulers }, (_, i) =>
      this.node(
        `scheduler-${i + 1}`,
        'scheduler/dist/src/main.js',
        { ...infra, ...identity(`scheduler-${i + 1}`), SCHEDULER_GRPC_ADDRESS: '127.0.0.1:0' },
        /SCHEDULER_READY port=(\d+)/,
      ),
    );
    const agents = Array.from({ length: this.opts.nodes }, (_, i) =>
      this.node(
        `node-${i + 1}`,
        'compute-node/dist/src/agent/main.js',
        {
          ...infra,
          ...identity(`node-${i + 1}`),
          COMPUTE_HOST_NAME: `node-${i + 1}`,
          COMPUTE_GRPC_ADDRESS: '127.0.0.1:0',
          COMPUTE_STATE_DIR: join(this.dir, `node-${i + 1}`),
          COMPUTE_VM_UID_RANGE: agentUidRange(i),
          ...(this.opts.sharedInstances ? { COMPUTE_INSTANCES_DIR: join(this.dir, 'instances') } : {}),
        },
        /COMPUTE_READY host=\S+ port=(\d+)/,
      ),
    );
    const schedulerPorts = (await Promise.all(schedulers.map((s) => s.waitReady()))).map((m) => m[1]);
    const agentPorts = (await Promise.all(agents.map((s) => s.waitReady()))).map((m) => m[1]);
    this.say(
      `schedulers on ${schedulerPorts.map((p) => `127.0.0.1:${p}`).join(', ')}; compute agents on ${agentPorts.map((p) => `127.0.0.1:${p}`).join(', ')}`,
    );

    if (this.opts.guest) await this.registerGuest(natsUrl, redisUrl);

    let apiUrl = '';
    const password = process.env.HYPERNOVA_ADMIN_PASSWORD || 'secret';
    if (existsSync(join(ROOT, 'api-gateway/dist/src/main.js'))) {
      const apiPort = this.opts.apiPort === 0 ? await freePort() : this.opts.apiPort;
      const gateway = this.node(
        'api-gateway',
        'api-gateway/dist/src/main.js',
        {
          ...infra,
          ...identity('gateway'),
          API_PORT: String(apiPort),
          SCHEDULER_ADDRESS: `ipv4:${schedulerPorts.map((p) => `127.0.0.1:${p}`).join(',')}`,
          HYPERNOVA_ADMIN_PASSWORD: password,
          // devstack's public network and, for the admin project, private and router1.
          HYPERNOVA_DEVSTACK_NETWORKS: 'admin',
        },
        /API_READY url=(\S+)/,
      );
      apiUrl = (await gateway.waitReady())[1];
    } else {
      this.say('the API gateway is not built (api-gateway/dist missing): running without it');
    }

    await checkHealth(
      [...schedulerPorts, ...agentPorts].map((p) => `127.0.0.1:${p}`),
      apiUrl ? [`${apiUrl}/identity/v3`] : [],
      this.admin,
    );
    const openrc = join(this.dir, 'openrc');
    // It holds the admin password: the operator's alone, like the credentials beside it.
    writeFileSync(openrc, openrcText(apiUrl || 'http://127.0.0.1:8080', password), { mode: 0o600 });
    chmodSync(openrc, 0o600);
    writeFileSync(
      join(this.dir, 'cluster.json'),
      clusterJson({
        gateway: apiUrl,
        redis: [redisUrl],
        nats: [natsUrl],
        compute: agentPorts.map((p, i) => ({ host: `node-${i + 1}`, grpc: `127.0.0.1:${p}` })),
      }),
    );
    this.say(`ready: API ${apiUrl || '(none)'}, logs in ${this.logs}; Ctrl-C stops the cluster`);
    process.stdout.write(`openrc: ${openrc}\n`);
  }

  private async registerGuest(natsUrl: string, redisUrl: string): Promise<void> {
    let files: GuestImageFiles;
    try {
      this.say('guest: building the Linux guest unless cached (the first build takes a while)');
      files = await buildGuest();
    } catch (err) {
      this.say(`guest: not available (${(err as Error).message}); no image registered`);
      return;
    }
    const image = await registerGuest(natsUrl, redisUrl, files, this.admin);
    this.say(`guest image "${image.name}" registered: ${image.id}${files.rootDisk ? ' (with its root disk)' : ''}`);
  }

  /** Every service's credentials in DIR/credentials, made on the first start and kept after. */
  private credentials(): ClusterCredentials {
    return ensureClusterCredentials(join(this.dir, 'credentials'), [
      { name: 'admin', role: 'admin' },
      { name: 'gateway', role: 'gateway' },
      ...Array.from({ length: this.opts.schedulers }, (_, i) => ({
        name: `scheduler-${i + 1}`,
        role: 'scheduler' as const,
      })),
      ...Array.from({ length: this.opts.nodes }, (_, i) => ({ name: `node-${i + 1}`, role: 'compute' as const })),
    ]);
  }

  private node(name: string, main: string, env: Record<string, string>, ready: RegExp): Service {
    const path = join(ROOT, main);
    if (!existsSync(path)) throw new Error(`${path} missing: run npm run build`);
    return this.spawn(name, process.execPath, [path], env, ready);
  }

  private spawn(name: string, command: string, args: string[], env: Record<string, string>, ready?: RegExp): Service {
    const log = createWriteStream(join(this.logs, `${name}.log`), { flags: 'a' });
    // Detached: Ctrl-C reaches only the launcher, which stops the services in order.
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const service = new Service(name, child, ready);
    void service.exited.then((code) => {
      if (!service.expectedExit)
        process.stderr.write(`cluster: ${name} exited (${code}); see ${join(this.logs, `${name}.log`)}\n`);
    });
    this.services.push(service);
    return service;
  }

  /** Gateway first, then agents (and their VMs), schedulers, and the servers last. */
  private async stopAll(): Promise<void> {
    const order = (s: Service) =>
      s.name === 'api-gateway' ? 0 : s.name.startsWith('node-') ? 1 : s.name.startsWith('scheduler') ? 2 : 3;
    for (const rank of [0, 1, 2, 3]) {
      await Promise.all(this.services.filter((s) => order(s) === rank).map((s) => s.stop()));
      if (rank === 1) this.killVms();
    }
  }

  /** VM processes outlive their agents by design; a cluster going down takes them along. */
  private killVms(): void {
    for (let i = 1; i <= this.opts.nodes; i++) {
      const instances = join(this.dir, `node-${i}`, 'instances');
      if (!existsSync(instances)) continue;
      for (const uuid of readdirSync(instances)) {
        try {
          const { pid } = JSON.parse(readFileSync(join(instances, uuid, 'instance.json'), 'utf8')) as { pid?: number };
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // no process, or gone already
        }
      }
    }
  }

  private say(line: string): void {
    process.stdout.write(`cluster: ${line}\n`);
  }
}

/** The guest build (@hypernova/guest): the kernel, plus the root disk when the build makes one. */
async function buildGuest(): Promise<GuestImageFiles> {
  const guest = (await import('@hypernova/guest')) as {
    ensureLinuxGuest(): Promise<{ image: string }>;
    ensureRootfs?: () => Promise<{ image: string; linux: { image: string } }>;
  };
  if (guest.ensureRootfs) {
    try {
      const rootfs = await guest.ensureRootfs();
      return { kernel: rootfs.linux.image, rootDisk: rootfs.image, rootDiskFormat: 'raw' };
    } catch (err) {
      process.stdout.write(`cluster: guest: no root disk (${(err as Error).message}); the kernel alone\n`);
    }
  }
  return { kernel: (await guest.ensureLinuxGuest()).image };
}

async function registerGuest(
  natsUrl: string,
  redisUrl: string,
  files: GuestImageFiles,
  credentials?: Credentials | null,
): Promise<ImageRecord> {
  const nc = await connectNats(natsUrl, { credentials });
  const redis = createRedis(redisUrl, { credentials });
  try {
    return await registerGuestImageSet(nc, redis, files);
  } finally {
    await nc.close();
    redis.disconnect();
  }
}

/** `cluster register-guest`: what a Compose deployment runs once at start. */
async function registerGuestCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { kernel: { type: 'string' }, 'root-disk': { type: 'string' } },
    strict: true,
  });
  if (!values.kernel) throw new Error(`--kernel is required\n${USAGE}`);
  const config = loadConfig({ redisUrl: infraSettings.redisUrl, natsUrl: infraSettings.natsUrl });
  const image = await registerGuest(config.natsUrl, config.redisUrl, {
    kernel: values.kernel,
    rootDisk: values['root-disk'],
  });
  process.stdout.write(`guest image "${image.name}" registered: ${image.id}\n`);
  return 0;
}

/**
 * grpc.health.v1 on every gRPC server (service ''), GET on every URL: all must answer SERVING / 2xx.
 * gRPC with `credentials` (default: those the environment names), any cluster certificate accepted.
 */
export async function checkHealth(
  grpcAddresses: string[],
  urls: string[],
  credentials?: Credentials | null,
): Promise<void> {
  await Promise.all([
    ...grpcAddresses.map(async (address) => {
      const client = new health.HealthClient(address, grpcClientCredentials(undefined, credentials));
      try {
        const res = await callUnary(client.check.bind(client), { service: '' }, 10_000);
        if (res.status !== ServingStatus.SERVING) throw new Error(`gRPC server ${address} is not serving`);
      } finally {
        client.close();
      }
    }),
    ...urls.map(async (url) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    }),
  ]);
}

/** `cluster health`: a container health check. */
async function healthCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      grpc: { type: 'string', multiple: true, default: [] },
      http: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  await checkHealth(values.grpc, values.http);
  return 0;
}

export interface ClusterEndpoints {
  gateway: string;
  redis: string[];
  nats: string[];
  compute: { host: string; grpc: string }[];
}

/**
 * cluster.json: where the cluster's services listen, for tools and launchers; never a secret (the
 * credentials stay in their directories). There is no dashboard yet: `dashboard` is the gateway.
 */
export function clusterJson(e: ClusterEndpoints): string {
  const doc = {
    gateway: e.gateway,
    dashboard: e.gateway,
    dashboardNote: 'no dashboard yet: this is the API gateway',
    redis: e.redis,
    sentinel: [],
    nats: e.nats,
    compute: e.compute,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** `cluster credentials`: a cluster's credentials for a deployment other than `cluster up`. */
function credentialsCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      identity: { type: 'string', multiple: true, default: [] },
      'server-host': { type: 'string', multiple: true, default: [] },
      'nats-dir': { type: 'string' },
    },
    strict: true,
  });
  if (!values.dir || values.identity.length === 0) throw new Error(`--dir and --identity are required\n${USAGE}`);
  const roles = new Set<string>(['gateway', 'scheduler', 'compute', 'admin']);
  const identities = values.identity.map((spec) => {
    const [name, role, hosts] = spec.split(':');
    if (!name || !role || !roles.has(role))
      throw new Error(`--identity ${spec}: NAME:ROLE[:HOST,...] with a known role`);
    return { name, role: role as Role, hosts: hosts ? hosts.split(',') : [] };
  });
  ensureClusterCredentials(values.dir, identities, {
    serverHosts: values['server-host'],
    natsDir: values['nats-dir'],
  });
  process.stdout.write(`credentials in ${values.dir}: ${identities.map((i) => i.name).join(', ')}, redis, nats\n`);
  return 0;
}

/** Shell exports for the OpenStack clients, as devstack writes them. */
export function openrcText(apiUrl: string, password: string): string {
  const vars: Record<string, string> = {
    OS_AUTH_URL: `${apiUrl}/identity/v3`,
    OS_USERNAME: 'admin',
    OS_PASSWORD: password,
    OS_PROJECT_NAME: 'admin',
    OS_USER_DOMAIN_ID: 'default',
    OS_PROJECT_DOMAIN_ID: 'default',
    OS_IDENTITY_API_VERSION: '3',
    OS_REGION_NAME: 'RegionOne',
  };
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  return (
    Object.entries(vars)
      .map(([k, v]) => `export ${k}=${quote(v)}`)
      .join('\n') + '\n'
  );
}

/** An executable on PATH or in Debian's sbin folders, installed with scripts/install-deps.sh when missing. */
function findOrInstall(name: string): string {
  const find = () => {
    for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
    return undefined;
  };
  const found = find();
  if (found) return found;
  process.stdout.write(`cluster: ${name} missing; installing Debian's packages (scripts/install-deps.sh)\n`);
  spawnSync('bash', [join(ROOT, 'scripts', 'install-deps.sh')], { stdio: 'inherit' });
  const installed = find();
  if (!installed) throw new Error(`${name} not found, and scripts/install-deps.sh did not install it`);
  return installed;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolvePort(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}
