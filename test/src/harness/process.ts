// Child processes for tests: start one, wait until its output says it is ready, keep the tail
// of its output for error messages, and make sure none outlives the test run.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

const OUTPUT_TAIL = 64 * 1024;

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** The ready pattern's match (its groups carry e.g. a port the process printed). */
  readonly ready: RegExpMatchArray;
  /** The last 64 KiB of stdout+stderr. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ends. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after timeoutMs. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output that means the process is ready. */
  ready: RegExp;
  timeoutMs?: number;
}

export function startProcess(opts: StartProcessOptions): Promise<ManagedProcess> {
  const child = spawn(opts.command, opts.args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    }),
  );

  const stop = async (signal: NodeJS.Signals, timeoutMs: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };

  return new Promise<ManagedProcess>((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const timer = setTimeout(() => fail(new Error(`${opts.name} not ready after ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop('SIGKILL', 0);
      err.message += `\n--- ${opts.name} output ---\n${out}`;
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-OUTPUT_TAIL);
      const m = settled ? null : out.match(opts.ready);
      if (!m) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        name: opts.name,
        pid: child.pid ?? -1,
        ready: m,
        output: () => out,
        exited,
        stop: (t = 5000) => stop('SIGTERM', t),
        kill: () => stop('SIGKILL', 0),
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => fail(err));
    void exited.then((code) => fail(new Error(`${opts.name} exited (${code}) before it was ready`)));
  });
}

/** Finds an executable on PATH, then in the sbin folders Debian puts servers in. */
export function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found: run scripts/install-deps.sh`);
}
