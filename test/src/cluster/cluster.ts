// A whole cluster for cross-service tests, as `hypernova cluster up` runs it: real redis-server
// (AOF) and nats-server (JetStream) from the harness, two scheduler replicas and N compute
// agents as their own processes, the API gateway in-process, and the guest image registered in
// the object store. VMs are the real VM process booting Linux, or the stand-in VM process
// (fast, for control-plane tests). stop() ends everything, VM processes included.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are read field by field in the tests */
import { readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  callUnary,
  connectNats,
  createLogger,
  createRedis,
  grpcClientCredentials,
  loadConfig,
  type NatsConnection,
  type Redis,
} from '@hypernova/common';
import { registerGuestImageSet, type ImageRecord } from '@hypernova/cluster-state';
import { gatewaySettings, startGateway, type GatewayApp } from '@hypernova/api-gateway';
import { agentUidRange } from '@hypernova/compute-node';
import { compute } from '@hypernova/proto';
import {
  credentialsEnv,
  startInfra,
  startProcess,
  startSchedulerReplica,
  type Infra,
  type ManagedProcess,
  type SchedulerReplica,
} from '../harness/index.js';

export const ADMIN_PASSWORD = 'cluster-test-secret';

const computeDist = fileURLToPath(new URL('..', import.meta.resolve('@hypernova/compute-node')));
/** compute-node/dist/ */
const AGENT_MAIN = join(computeDist, 'src', 'agent', 'main.js');
const FAKE_VM = join(computeDist, 'test', 'agent', 'fake-vm.js');

export interface AgentOptions {
  vcpus?: number;
  ramMb?: number;
  diskGb?: number;
  env?: Record<string, string>;
}

/** A compute agent process and what it keeps on disk. */
export class AgentProcess {
  proc!: ManagedProcess;
  address = '';

  constructor(
    readonly name: string,
    readonly stateDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async start(): Promise<void> {
    this.proc = await startProcess({
      name: this.name,
      command: process.execPath,
      args: [AGENT_MAIN],
      env: this.env,
      ready: /COMPUTE_READY host=\S+ port=(\d+)/,
      timeoutMs: 30_000,
    });
    this.address = `127.0.0.1:${this.proc.ready[1]}`;
  }

  /** SIGTERM (a clean agent stop: its VMs keep running). */
  stop(): Promise<void> {
    return this.proc.stop();
  }

  /** The pids of the VM processes its instance directories name. */
  vmPids(): Map<string, number> {
    const pids = new Map<string, number>();
    const dir = join(this.stateDir, 'instances');
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return pids;
    }
    for (const uuid of names) {
      try {
        const meta = JSON.parse(readFileSync(join(dir, uuid, 'instance.json'), 'utf8')) as { pid?: number };
        if (meta.pid) pids.set(uuid, meta.pid);
      } catch {
        // a directory being created or removed
      }
    }
    return pids;
  }

  consoleLog(uuid: string): string {
    try {
      return readFileSync(join(this.stateDir, 'instances', uuid, 'console.log'), 'utf8');
    } catch {
      return '';
    }
  }
}

export interface ClusterOptions {
  nodes?: number;
  /** 'fake': the stand-in VM process; 'real': `hypernova vm run` booting the Linux guest. */
  vm: 'fake' | 'real';
  agent?: AgentOptions;
  gatewayEnv?: Record<string, string>;
  /** The kernel to register as the guest image (the real guest for 'real'). */
  kernel?: string;
}

export class TestCluster {
  readonly agents: AgentProcess[] = [];
  /** Counted when an agent is added, before it starts: agents added at once get ranges of their own. */
  private agentsAdded = 0;
  readonly schedulers: SchedulerReplica[] = [];
  gateway!: GatewayApp;
  image!: ImageRecord;
  adminToken = '';
  private readonly clients = new Map<string, compute.ComputeClient>();

  private constructor(
    readonly infra: Infra,
    readonly redis: Redis,
    readonly nc: NatsConnection,
    readonly dir: string,
    private readonly opts: ClusterOptions,
  ) {}

  static async start(opts: ClusterOptions): Promise<TestCluster> {
    const infra = await startInfra({ redis: { aof: true } });
    const dir = mkdtempSync(join(tmpdir(), 'hn-cl-'));
    const c = new TestCluster(infra, createRedis(infra.redis.url), await connectNats(infra.nats.url), dir, opts);
    try {
      for (let i = 0; i < 2; i++) {
        c.schedulers.push(
          await startSchedulerReplica({
            redisUrl: infra.redis.url,
            name: `scheduler-${i + 1}`,
            env: { SCHEDULER_HOST_REFRESH_MS: '200' },
          }),
        );
      }
      await Promise.all(Array.from({ length: opts.nodes ?? 3 }, (_, i) => c.addAgent(`node-${i + 1}`, opts.agent)));
      c.gateway = await startGateway(
        loadConfig(gatewaySettings, c.gatewayEnv()),
        createLogger('api-gateway', { level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      );
      let kernel = opts.kernel;
      if (!kernel)
        writeFileSync(
          (kernel = join(dir, 'fake-kernel')),
          'not a kernel: the stand-in VM never runs it\n'.repeat(1000),
        );
      c.image = await registerGuestImageSet(c.nc, c.redis, { kernel });
      c.adminToken = await c.token('admin', ADMIN_PASSWORD, 'admin');
      // The schedulers re-read hosts every 200 ms.
      await new Promise((r) => setTimeout(r, 500));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** The settings of the cluster's gateway (also for others a test starts, such as a gateway process). */
  gatewayEnv(): Record<string, string> {
    return {
      REDIS_URL: this.infra.redis.url,
      NATS_URL: this.infra.nats.url,
      API_PORT: '0',
      SCHEDULER_ADDRESS: `ipv4:${this.schedulers.map((s) => s.address).join(',')}`,
      HYPERNOVA_ADMIN_PASSWORD: ADMIN_PASSWORD,
      HYPERNOVA_QUOTA_INSTANCES: '100',
      HYPERNOVA_QUOTA_CORES: '100',
      ...credentialsEnv('gateway'),
      ...this.opts.gatewayEnv,
    };
  }

  async addAgent(name: string, opts: AgentOptions = {}): Promise<AgentProcess> {
    const stateDir = join(this.dir, name);
    const vmCommand = this.opts.vm === 'fake' ? `${process.execPath} ${FAKE_VM}` : '';
    const agent = new AgentProcess(name, stateDir, {
      ...process.env,
      REDIS_URL: this.infra.redis.url,
      NATS_URL: this.infra.nats.url,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      METRICS_PORT: '-1',
      COMPUTE_HOST_NAME: name,
      COMPUTE_GRPC_ADDRESS: '127.0.0.1:0',
      COMPUTE_STATE_DIR: stateDir,
      COMPUTE_VM_UID_RANGE: agentUidRange(this.agentsAdded++),
      COMPUTE_VCPUS: String(opts.vcpus ?? 4),
      COMPUTE_RAM_MB: String(opts.ramMb ?? 1024),
      COMPUTE_DISK_GB: String(opts.diskGb ?? 20),
      COMPUTE_CPU_ALLOCATION_RATIO: '1',
      COMPUTE_RAM_ALLOCATION_RATIO: '1',
      COMPUTE_DISK_ALLOCATION_RATIO: '1',
      COMPUTE_HEARTBEAT_INTERVAL_MS: '500',
      COMPUTE_HEARTBEAT_TTL_S: '2',
      COMPUTE_CLEAN_SHUTDOWN_TIMEOUT_S: '1',
      COMPUTE_VM_COMMAND: vmCommand,
      ...credentialsEnv('compute'),
      ...opts.env,
    });
    await agent.start();
    this.agents.push(agent);
    return agent;
  }

  agent(name: string): AgentProcess {
    const a = this.agents.find((x) => x.name === name);
    if (!a) throw new Error(`no agent ${name}`);
    return a;
  }

  /** A Compute gRPC client of a node (reused). */
  computeClient(address: string): compute.ComputeClient {
    let c = this.clients.get(address);
    if (!c) this.clients.set(address, (c = new compute.ComputeClient(address, grpcClientCredentials('compute'))));
    return c;
  }

  /** `await cluster.rpc(agent, 'getInstanceInfo', { instanceUuid })` */
  rpc<K extends keyof compute.ComputeClient>(
    agent: AgentProcess,
    method: K,
    request: unknown,
    timeoutMs = 30_000,
  ): Promise<any> {
    const client = this.computeClient(agent.address);
    return callUnary((client[method] as any).bind(client), request, timeoutMs);
  }

  async stop(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    await this.gateway?.close().catch(() => undefined);
    const pids = this.agents.flatMap((a) => [...a.vmPids().values()]);
    await Promise.all(this.agents.map((a) => a.proc?.stop().catch(() => undefined)));
    // VM processes are detached from their agents on purpose: end them here.
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.all(this.schedulers.map((s) => s.stop().catch(() => undefined)));
    await this.nc?.close().catch(() => undefined);
    this.redis?.disconnect();
    await this.infra.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- the API, as the OpenStack clients speak it ----

  async request(
    method: string,
    path: string,
    body?: unknown,
    token = this.adminToken,
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const headers: Record<string, string> = { accept: 'application/json', 'x-auth-token': token };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.gateway.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  async token(user: string, password: string, project: string): Promise<string> {
    const res = await fetch(this.gateway.url + '/identity/v3/auth/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: user, password, domain: { id: 'default' } } } },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      }),
    });
    if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
    return res.headers.get('x-subject-token') as string;
  }

  /** POST /servers; returns the id. */
  async createServer(
    name: string,
    opts: { flavorRef?: string; imageRef?: string; hints?: object; extra?: object } = {},
  ): Promise<string> {
    const res = await this.request('POST', '/compute/v2.1/servers', {
      server: {
        name,
        imageRef: opts.imageRef ?? this.image.id,
        flavorRef: opts.flavorRef ?? '1',
        networks: 'none',
        ...opts.extra,
      },
      ...(opts.hints ? { 'os:scheduler_hints': opts.hints } : {}),
    });
    if (res.status !== 202) throw new Error(`create ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.server.id as string;
  }

  async server(id: string): Promise<any> {
    const res = await this.request('GET', `/compute/v2.1/servers/${id}`);
    return res.status === 200 ? res.body.server : undefined;
  }

  /** Polls the server until `done` holds (its last body in the error otherwise). */
  async waitServer(id: string, done: (s: any) => boolean, timeoutMs = 10_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let last: any;
    for (;;) {
      last = await this.server(id);
      if (last && done(last)) return last;
      if (Date.now() > deadline)
        throw new Error(
          `server ${id}: still ${JSON.stringify(last && { status: last.status, task: last['OS-EXT-STS:task_state'], fault: last.fault })}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  waitStatus(id: string, status: string, timeoutMs?: number): Promise<any> {
    return this.waitServer(id, (s) => s.status === status && s['OS-EXT-STS:task_state'] === null, timeoutMs);
  }

  action(id: string, body: object): Promise<{ status: number; body: any }> {
    return this.request('POST', `/compute/v2.1/servers/${id}/action`, body);
  }

  async consoleOutput(id: string, length?: number): Promise<string> {
    const res = await this.action(id, { 'os-getConsoleOutput': length === undefined ? {} : { length } });
    return res.status === 200 ? (res.body.output as string) : '';
  }

  /** Deletes the server and waits until it is gone. */
  async deleteServer(id: string): Promise<void> {
    await this.request('DELETE', `/compute/v2.1/servers/${id}`);
    const deadline = Date.now() + 15_000;
    while ((await this.request('GET', `/compute/v2.1/servers/${id}`)).status !== 404) {
      if (Date.now() > deadline) throw new Error(`server ${id} not deleted`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
