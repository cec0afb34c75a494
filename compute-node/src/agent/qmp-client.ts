// Client of a VM process's control socket: QMP-shaped JSON lines over a unix socket. The VM
// greets with {"QMP": {...}}; a command {"execute", "arguments", "id"} is answered by
// {"return", "id"} or {"error": {"class", "desc"}, "id"}; events {"event", "data", "timestamp"}
// come at any time. After the `console` command the connection carries raw serial bytes instead.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** An error reply from the VM process. */
export class QmpError extends Error {
  constructor(
    readonly errorClass: string,
    desc: string,
  ) {
    super(desc);
    this.name = 'QmpError';
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** The console command: its reply switches the connection to raw bytes. */
  console?: boolean;
}

export interface QmpClientEvents {
  event: [QmpEvent];
  close: [];
}

export class QmpClient extends EventEmitter<QmpClientEvents> {
  private buffer: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedFlag = false;
  /** Set once the console command answered: bytes are no longer parsed. */
  private raw = false;
  greeting: Record<string, unknown> = {};

  private constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows and is what callers act on
    socket.on('close', () => this.onClose());
  }

  /** Connects and waits for the greeting. */
  static connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const client = new QmpClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no QMP greeting on ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      client.onGreeting = (g) => {
        clearTimeout(timer);
        client.greeting = g;
        resolve(client);
      };
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Connects, retrying while the socket is not there yet (a VM process still starting). */
  static async connectWhenReady(path: string, opts: { timeoutMs: number; alive?: () => boolean }): Promise<QmpClient> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      try {
        return await QmpClient.connect(path, Math.max(500, deadline - Date.now()));
      } catch (err) {
        if (Date.now() > deadline) throw err;
        if (opts.alive && !opts.alive()) throw new Error('VM process exited before its control socket answered');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onGreeting: ((g: Record<string, unknown>) => void) | undefined;

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Runs a command; rejects with QmpError on an error reply, or when the connection ends. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    return this.send(command, args, timeoutMs, false) as Promise<T>;
  }

  /**
   * Turns this connection into the VM's serial console: returns the socket, now a raw byte stream
   * both ways, plus any bytes that arrived with the reply. The client is done afterwards.
   */
  async console(timeoutMs = 5000): Promise<{ socket: Socket; initial: Buffer }> {
    await this.send('console', undefined, timeoutMs, true);
    const initial = this.buffer;
    this.buffer = Buffer.alloc(0);
    this.socket.removeAllListeners('data');
    return { socket: this.socket, initial };
  }

  close(): void {
    this.socket.destroy();
  }

  private send(
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
    isConsole: boolean,
  ): Promise<unknown> {
    if (this.closedFlag) return Promise.reject(new Error(`control connection closed (${command})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${command}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, console: isConsole });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args) msg.arguments = args;
      this.socket.write(JSON.stringify(msg) + '\n');
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.raw) return;
      const nl = this.buffer.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.buffer.subarray(0, nl).toString('utf8').trim();
      this.buffer = this.buffer.subarray(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not ours to judge; a VM process never sends half a line
    }
    if ('QMP' in msg) {
      this.onGreeting?.((msg.QMP ?? {}) as Record<string, unknown>);
      this.onGreeting = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const p = this.pending.get(msg.id as number);
    if (!p) return;
    this.pending.delete(msg.id as number);
    clearTimeout(p.timer);
    if (msg.error) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(e.class ?? 'GenericError', e.desc ?? 'error'));
    } else {
      if (p.console) this.raw = true;
      p.resolve(msg.return);
    }
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('control connection closed'));
    }
    this.pending.clear();
    this.emit('close');
  }
}
