// One real infrastructure server (Redis, NATS) for a test: a local process on a free loopback
// port with its data in a temp dir, or a container through testcontainers when Docker is there.
// redis.ts and nats.ts only describe their server; starting, restarting and stopping live here.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testcontainers, useDocker } from './docker.js';
import { freePort } from './ports.js';
import { findBinary, startProcess, type ManagedProcess } from './process.js';

export interface ServerRecipe {
  name: string;
  scheme: string;
  binary: string;
  image: string;
  containerPort: number;
  /** Output meaning the server accepts clients. */
  ready: RegExp;
  /** Arguments for the local binary listening on 127.0.0.1:port with its data in dir. */
  processArgs(port: number, dir: string): string[];
  /** The container's command, with its data in /data. */
  containerCommand(): string[];
  /** Host directories the container sees at the same paths, read-only (the credentials). */
  mounts?: string[];
}

export interface InfraServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly mode: 'process' | 'docker';
  /** Stops and starts it again on the same port with the same data dir; crash: SIGKILL instead of a clean stop. */
  restart(opts?: { crash?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(recipe: ServerRecipe): Promise<InfraServer> {
  return (await useDocker()) ? startContainer(recipe) : startLocal(recipe);
}

async function startLocal(recipe: ServerRecipe): Promise<InfraServer> {
  const binary = findBinary(recipe.binary);
  const dir = await mkdtemp(join(tmpdir(), `hn-${recipe.binary}-`));
  // The port is free when chosen but may be taken before the server binds it; try a few.
  let port = 0;
  let proc: ManagedProcess | undefined;
  for (let attempt = 0; !proc; attempt++) {
    port = await freePort();
    try {
      proc = await launch(port);
    } catch (err) {
      if (attempt >= 2) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  function launch(p: number) {
    return startProcess({ name: recipe.name, command: binary, args: recipe.processArgs(p, dir), ready: recipe.ready });
  }
  let current = proc;
  return {
    url: `${recipe.scheme}://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    mode: 'process',
    async restart(opts = {}) {
      await (opts.crash ? current.kill() : current.stop());
      current = await launch(port);
    },
    async stop() {
      await current.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startContainer(recipe: ServerRecipe): Promise<InfraServer> {
  const { GenericContainer, Wait } = await testcontainers();
  // A fixed host port, so that the URL stays the same across restarts.
  const hostPort = await freePort();
  const container = await new GenericContainer(recipe.image)
    .withExposedPorts({ container: recipe.containerPort, host: hostPort })
    .withCommand(recipe.containerCommand())
    .withBindMounts((recipe.mounts ?? []).map((source) => ({ source, target: source, mode: 'ro' as const })))
    .withWaitStrategy(Wait.forLogMessage(recipe.ready))
    .start();
  const host = container.getHost();
  return {
    url: `${recipe.scheme}://${host}:${hostPort}`,
    host,
    port: hostPort,
    mode: 'docker',
    async restart(opts = {}) {
      await container.restart({ timeout: opts.crash ? 0 : 10 });
      await waitForTcp(host, hostPort, 20_000);
    },
    async stop() {
      await container.stop();
    },
  };
}

export async function waitForTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} not accepting connections after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
