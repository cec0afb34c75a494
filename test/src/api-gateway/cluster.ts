// A small cluster for API tests: real redis-server and nats-server (the harness), the real
// scheduler in-process, fake compute nodes over real gRPC, and the gateway in-process; plus an
// HTTP helper that speaks to it as the OpenStack clients do.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field in the tests */
import { loadConfig, createLogger, createRedis, type Redis } from '@hypernova/common';
import { registerImage, type ImageRecord } from '@hypernova/cluster-state';
import { gatewaySettings, startGateway, type GatewayApp } from '@hypernova/api-gateway';
import { schedulerSettings, startSchedulerApp, type SchedulerApp } from '@hypernova/scheduler';
import { credentialsEnv, startInfra, type Infra } from '../harness/index.js';
import { FakeComputeNode, type FakeNodeOptions } from './fake-compute.js';

export const ADMIN_PASSWORD = 'test-admin-secret';
const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as is (malformed JSON, wrong types). */
  rawBody?: string | Uint8Array;
  headers?: Record<string, string>;
}

export class Cluster {
  readonly nodes: FakeComputeNode[] = [];
  image!: ImageRecord;
  adminToken = '';

  gateway!: GatewayApp;

  private constructor(
    readonly infra: Infra,
    readonly redis: Redis,
    readonly scheduler: SchedulerApp,
  ) {}

  static async start(opts: { nodes?: FakeNodeOptions[]; env?: Record<string, string> } = {}): Promise<Cluster> {
    const infra = await startInfra();
    const redis = createRedis(infra.redis.url);
    const scheduler = await startSchedulerApp(
      loadConfig(schedulerSettings, {
        REDIS_URL: infra.redis.url,
        SCHEDULER_GRPC_ADDRESS: '127.0.0.1:0',
        METRICS_PORT: '-1',
        SCHEDULER_HOST_REFRESH_MS: '100',
        ...credentialsEnv('scheduler'),
      }),
      createLogger('scheduler', { level: LOG_LEVEL }),
    );
    const cluster = new Cluster(infra, redis, scheduler);
    cluster.gateway = await cluster.startGateway(opts.env);
    for (const [i, n] of (opts.nodes ?? []).entries()) await cluster.addNode(`node-${i + 1}`, n);
    cluster.image = await registerImage(redis, {
      name: 'hypernova-guest',
      size: 4 * 1024 * 1024,
      minRamMb: 32,
      properties: { architecture: 'riscv32', hypervisor_type: 'hypernova' },
      location: 'guest/linux.img',
    });
    cluster.adminToken = await cluster.token('admin', ADMIN_PASSWORD, 'admin');
    return cluster;
  }

  /** The settings of the cluster's gateways, with `env` on top. */
  gatewayEnv(env: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL: this.infra.redis.url,
      NATS_URL: this.infra.nats.url,
      API_PORT: '0',
      SCHEDULER_ADDRESS: `127.0.0.1:${this.scheduler.grpc.port}`,
      HYPERNOVA_ADMIN_PASSWORD: ADMIN_PASSWORD,
      HYPERNOVA_COMPUTE_TIMEOUT_MS: '5000',
      HYPERNOVA_SPAWN_TIMEOUT_MS: '5000',
      ...credentialsEnv('gateway'),
      ...env,
    };
  }

  /** A gateway in this process on the cluster's Redis, NATS and scheduler; the caller closes it. */
  startGateway(env: Record<string, string> = {}): Promise<GatewayApp> {
    return startGateway(
      loadConfig(gatewaySettings, this.gatewayEnv(env)),
      createLogger('api-gateway', { level: LOG_LEVEL }),
    );
  }

  /** The OS_* variables of an admin openrc for this cluster's gateway (what the CLI tests run with). */
  adminOpenrc(): Record<string, string> {
    return {
      OS_AUTH_URL: `${this.gateway.url}/identity/v3`,
      OS_USERNAME: 'admin',
      OS_PASSWORD: ADMIN_PASSWORD,
      OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_ID: 'default',
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_IDENTITY_API_VERSION: '3',
      OS_REGION_NAME: 'RegionOne',
    };
  }

  async addNode(name: string, opts: FakeNodeOptions = {}): Promise<FakeComputeNode> {
    const node = await FakeComputeNode.start(this.redis, name, opts);
    this.nodes.push(node);
    // The scheduler re-reads hosts every 100 ms: give it time to see the new one.
    await new Promise((r) => setTimeout(r, 250));
    return node;
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.scheduler.close();
    this.redis.disconnect();
    await this.infra.stop();
  }

  async request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    if (opts.token) headers['x-auth-token'] = opts.token;
    let body: string | Uint8Array | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.gateway.url + path, { method, headers, body: body as BodyInit | undefined });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  /** A project-scoped token (401 fails the test). */
  async token(user: string, password: string, project: string): Promise<string> {
    const res = await this.request('POST', '/identity/v3/auth/tokens', { body: passwordAuth(user, password, project) });
    if (res.status !== 201) throw new Error(`token for ${user}: ${res.status} ${res.text}`);
    return res.headers.get('x-subject-token') as string;
  }

  /** Creates a project and a user holding `role` on it; returns the user's token. */
  async tenant(name: string, role = 'member'): Promise<{ projectId: string; userId: string; token: string }> {
    const t = this.adminToken;
    const project = await this.request('POST', '/identity/v3/projects', {
      token: t,
      body: { project: { name, domain_id: 'default' } },
    });
    const user = await this.request('POST', '/identity/v3/users', {
      token: t,
      body: { user: { name: `${name}-user`, password: `${name}-pw`, domain_id: 'default' } },
    });
    const roles = await this.request('GET', `/identity/v3/roles?name=${role}`, { token: t });
    const projectId = project.body.project.id as string;
    const userId = user.body.user.id as string;
    const put = await this.request(
      'PUT',
      `/identity/v3/projects/${projectId}/users/${userId}/roles/${roles.body.roles[0].id}`,
      { token: t },
    );
    if (put.status !== 204) throw new Error(`role grant: ${put.status} ${put.text}`);
    return { projectId, userId, token: await this.token(`${name}-user`, `${name}-pw`, name) };
  }

  compute<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>(method, `/compute/v2.1${path}`, { token: this.adminToken, ...opts });
  }

  /** Creates a server and returns its id (without waiting). */
  async createServer(
    name: string,
    opts: { token?: string; flavorRef?: string; extra?: object; hints?: object } = {},
  ): Promise<string> {
    const res = await this.compute('POST', '/servers', {
      token: opts.token ?? this.adminToken,
      body: {
        server: { name, imageRef: this.image.id, flavorRef: opts.flavorRef ?? '1', networks: 'none', ...opts.extra },
        ...(opts.hints ? { 'os:scheduler_hints': opts.hints } : {}),
      },
    });
    if (res.status !== 202) throw new Error(`create ${name}: ${res.status} ${res.text}`);
    return res.body.server.id as string;
  }

  /** Polls GET /servers/{id} until `done` holds for the body (or 404 when done is 'gone'). */
  async waitServer(
    id: string,
    done: ((server: any) => boolean) | 'gone',
    opts: { token?: string; timeoutMs?: number } = {},
  ): Promise<any> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    let last: ApiResponse | undefined;
    while (Date.now() < deadline) {
      last = await this.compute('GET', `/servers/${id}`, { token: opts.token ?? this.adminToken });
      if (done === 'gone' ? last.status === 404 : last.status === 200 && done(last.body.server))
        return last.body?.server;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`server ${id} not there after waiting: ${last?.status} ${last?.text}`);
  }

  waitStatus(id: string, status: string, token?: string): Promise<any> {
    return this.waitServer(id, (s) => s.status === status && s['OS-EXT-STS:task_state'] === null, { token });
  }
}

export function passwordAuth(user: string, password: string, project?: string) {
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, password, domain: { id: 'default' } } } },
      ...(project ? { scope: { project: { name: project, domain: { id: 'default' } } } } : {}),
    },
  };
}
