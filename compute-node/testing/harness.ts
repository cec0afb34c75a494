// Starting real VM processes (`hypernova vm run`, as the agent does) and talking to them, for
// the VM process tests and benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QmpClient, type QmpEvent } from '../src/agent/qmp-client.js';

/** The checkout's CLI (this file runs as compute-node/dist/testing/harness.js). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cli', 'bin', 'hypernova.js');

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `hn-vmm-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `bytes` to a fresh file in `dir` and returns its path. */
export function fileIn(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `test(contents of path)` holds (a serial log being appended to). */
export async function waitFile<T>(
  path: string,
  test: (text: string) => T | undefined | false,
  ms: number,
  vm?: VmUnderTest,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = existsSync(path) ? readFileSync(path, 'latin1') : '';
    const r = test(text);
    if (r) return r;
    if (vm?.exit)
      throw new Error(
        `VM exited (${JSON.stringify(vm.exit)}) first; ${path}:\n${text.slice(-3000)}\nstderr:\n${vm.err}`,
      );
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting on ${path}:\n${text.slice(-3000)}`);
    await sleep(100);
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A VM process started by a test: its stdout (the serial console with --console stdio) and stderr. */
export class VmUnderTest {
  out = '';
  err = '';
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly child: ChildProcess,
    readonly control: string | undefined,
  ) {
    child.stdout!.on('data', (d: Buffer) => this.more(() => (this.out += d.toString('latin1'))));
    child.stderr!.on('data', (d: Buffer) => this.more(() => (this.err += d.toString())));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.more(() => (this.exit = { code, signal }));
        resolve({ code, signal });
      }),
    );
  }

  private more(update: () => void): void {
    update();
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `test(stdout)` holds; fails with the output so far after `ms` or when the process ends. */
  async waitOut<T>(test: (out: string) => T | undefined | false, ms = 30_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = test(this.out);
      if (r) return r;
      if (this.exit)
        throw new Error(
          `VM exited (${JSON.stringify(this.exit)}) first; stdout:\n${this.out.slice(-2000)}\nstderr:\n${this.err}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out after ${ms} ms; stdout:\n${this.out.slice(-2000)}\nstderr:\n${this.err}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(0, Math.min(250, deadline - Date.now())));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** A control connection (retrying until the socket answers). */
  qmp(): Promise<QmpClient> {
    if (!this.control) throw new Error('started without --control');
    return QmpClient.connectWhenReady(this.control, { timeoutMs: 30_000, alive: () => !this.exit });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exit) this.child.kill(signal);
  }
}

const started = new Set<VmUnderTest>();

/** Starts `hypernova vm run ARGS` (console on stdout unless ARGS say otherwise). */
export function startVm(args: string[], opts: { control?: string } = {}): VmUnderTest {
  const full = [CLI, 'vm', 'run', ...args];
  if (opts.control) full.push('--control', `unix:${opts.control}`);
  const child = spawn(process.execPath, full, { stdio: ['pipe', 'pipe', 'pipe'] });
  const vm = new VmUnderTest(child, opts.control);
  started.add(vm);
  void vm.exited.then(() => started.delete(vm));
  return vm;
}

/** Kills every VM a test started and left running (a failed test must not leave VMs behind). */
export function killAll(): void {
  for (const vm of started) vm.kill();
}

// Nor a test run that ends early (mocha --exit, a timeout): VMs ignore their stdout closing.
process.on('exit', killAll);

/** Collects a client's events; `next(name)` waits for the next one of that name. */
export class EventLog {
  readonly events: QmpEvent[] = [];
  private cursor = 0;

  constructor(client: QmpClient) {
    client.on('event', (e) => this.events.push(e));
  }

  async next(name: string, ms = 10_000): Promise<QmpEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex((e, k) => k >= this.cursor && e.event === name);
      if (i >= 0) {
        this.cursor = i + 1;
        return this.events[i]!;
      }
      if (Date.now() > deadline)
        throw new Error(
          `no ${name} event within ${ms} ms (got ${this.events.map((e) => e.event).join(', ') || 'none'})`,
        );
      await sleep(20);
    }
  }
}

/** A plain line-based connection, for sending what a well-behaved client never would. */
export class RawClient {
  private buf = '';
  readonly lines: unknown[] = [];

  private constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        this.lines.push(JSON.parse(this.buf.slice(0, nl)));
        this.buf = this.buf.slice(nl + 1);
      }
    });
  }

  static open(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(text: string | Buffer): void {
    this.sock.write(text);
  }

  /** The next `n` messages that are not events. */
  async replies(n: number, ms = 10_000): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = this.lines.filter(
        (l) => !(l as Record<string, unknown>).event && !(l as Record<string, unknown>).QMP,
      );
      if (got.length >= n) {
        // Consume them.
        for (const g of got.slice(0, n)) this.lines.splice(this.lines.indexOf(g), 1);
        return got.slice(0, n) as Record<string, unknown>[];
      }
      if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} replies: ${JSON.stringify(this.lines)}`);
      await sleep(10);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
