// The control socket: greets each client, reads one JSON command per line, runs commands one
// at a time across all clients (so two supervisors never interleave a savevm with a loadvm),
// answers each on its own connection, and sends every event to every client.
//
// Nothing a client sends can take the process down: bad JSON, bad shapes, unknown commands
// and bad arguments are error replies, and a command that throws is an error reply too.
import type { Server, Socket } from 'node:net';
import { checkArgs, COMMANDS } from './commands.js';
import type { Supervisor } from './migration.js';
import {
  CommandError,
  greeting,
  LineSplitter,
  type QmpCommand,
  type QmpErrorClass,
  type QmpEvent,
} from './protocol.js';
import { closeUnix, listenUnix } from './unix-socket.js';
import type { VmProcess } from './vm-process.js';

/** Serial output kept for a console client that does not read, before bytes are dropped. */
const CONSOLE_BACKLOG = 4 << 20;
const QMP_MEMBERS = new Set(['execute', 'arguments', 'id']);

export class ControlServer {
  private readonly connections = new Set<Connection>();
  private queue: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;

  private constructor(
    readonly path: string,
    readonly vm: VmProcess,
    private server?: Server,
  ) {
    this.unsubscribe = vm.events.subscribe((e) => {
      for (const c of this.connections) c.event(e);
    });
  }

  static async listen(path: string, vm: VmProcess): Promise<ControlServer> {
    const cs = new ControlServer(path, vm);
    try {
      cs.server = await listenUnix(path, 'control socket', (s) => cs.connections.add(new Connection(s, cs)));
    } catch (e) {
      cs.unsubscribe();
      throw e;
    }
    return cs;
  }

  /** Runs `job` after every command queued before it. */
  enqueue(job: () => Promise<void>): void {
    this.queue = this.queue.then(job, job);
  }

  forget(c: Connection): void {
    this.connections.delete(c);
  }

  /** Stops listening, removes the socket file, and lets every client go once its replies are sent. */
  close(): void {
    this.unsubscribe();
    if (this.server) closeUnix(this.server, this.path);
    for (const c of this.connections) c.end();
  }
}

class Connection implements Supervisor {
  private readonly splitter: LineSplitter;
  private mode: 'json' | 'console' = 'json';
  private untap: (() => void) | undefined;
  private closed = false;
  private readonly goneListeners = new Set<() => void>();

  constructor(
    private readonly sock: Socket,
    private readonly server: ControlServer,
  ) {
    this.splitter = new LineSplitter(
      (line) => this.onLine(line),
      () => this.reply({ error: { class: 'GenericError', desc: 'message too long (no newline)' } }),
    );
    sock.on('data', (d: Buffer) => (this.mode === 'console' ? this.server.vm.sendInput(d) : this.splitter.push(d)));
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      this.untap?.();
      this.server.forget(this);
      for (const fn of [...this.goneListeners]) fn();
      this.goneListeners.clear();
    });
    this.send(greeting());
  }

  onGone(fn: () => void): () => void {
    if (this.closed) {
      fn();
      return () => {};
    }
    this.goneListeners.add(fn);
    return () => this.goneListeners.delete(fn);
  }

  event(e: QmpEvent): void {
    if (this.mode === 'json') this.send(e);
  }

  end(): void {
    this.untap?.();
    this.sock.end();
    // Pending writes still go out; the socket no longer keeps the process alive.
    this.sock.unref();
  }

  private send(msg: object): void {
    if (!this.closed && this.sock.writable) this.sock.write(`${JSON.stringify(msg)}\n`);
  }

  private reply(msg: { return: unknown } | { error: { class: QmpErrorClass; desc: string } }, id?: unknown): void {
    this.send(id === undefined ? msg : { ...msg, id });
  }

  private fail(errorClass: QmpErrorClass, desc: string, id?: unknown): void {
    this.reply({ error: { class: errorClass, desc } }, id);
  }

  /** Parses and queues one line; returns false when the connection is turning into a console. */
  private onLine(line: string): boolean {
    if (line.trim() === '') return true;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      this.server.enqueue(async () => this.fail('GenericError', `JSON parse error: ${(e as Error).message}`));
      return true;
    }
    const cmd = this.checkShape(msg);
    if (!cmd) return true;
    if (cmd.execute === 'console') {
      this.server.enqueue(async () => this.becomeConsole(cmd));
      return false;
    }
    this.server.enqueue(() => this.run(cmd));
    return true;
  }

  /** The QMP envelope: an object with `execute`, optional object `arguments`, any `id`. */
  private checkShape(msg: unknown): QmpCommand | undefined {
    const reject = (desc: string, id?: unknown): undefined => {
      this.server.enqueue(async () => this.fail('GenericError', desc, id));
      return undefined;
    };
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return reject('QMP input must be a JSON object');
    const m = msg as Record<string, unknown>;
    const extra = Object.keys(m).find((k) => !QMP_MEMBERS.has(k));
    if (extra !== undefined) return reject(`QMP input member '${extra}' is unexpected`, m.id);
    if (typeof m.execute !== 'string') return reject("QMP input member 'execute' must be a string", m.id);
    if (
      m.arguments !== undefined &&
      (typeof m.arguments !== 'object' || m.arguments === null || Array.isArray(m.arguments))
    ) {
      return reject("QMP input member 'arguments' must be an object", m.id);
    }
    return m as unknown as QmpCommand;
  }

  private async run(cmd: QmpCommand): Promise<void> {
    const spec = COMMANDS[cmd.execute];
    if (!spec) return this.fail('CommandNotFound', `The command ${cmd.execute} has not been found`, cmd.id);
    try {
      const args = cmd.arguments ?? {};
      checkArgs(cmd.execute, args);
      const value = await spec.run(this.server.vm, args, this);
      this.reply({ return: value ?? {} }, cmd.id);
    } catch (e) {
      if (e instanceof CommandError) this.fail(e.errorClass, e.message, cmd.id);
      else this.fail('GenericError', (e as Error).message ?? String(e), cmd.id);
    }
  }

  /** After the reply, the connection is the serial port: guest output out, bytes in as keystrokes. */
  private async becomeConsole(cmd: QmpCommand): Promise<void> {
    const vm = this.server.vm;
    if (cmd.arguments !== undefined && Object.keys(cmd.arguments).length > 0) {
      this.fail('GenericError', `Parameter '${Object.keys(cmd.arguments)[0]}' is unexpected`, cmd.id);
      this.end();
      return;
    }
    if (!vm.alive) {
      this.fail('GenericError', 'the VM has shut down', cmd.id);
      this.end();
      return;
    }
    this.reply({ return: {} }, cmd.id);
    this.mode = 'console';
    this.untap = vm.tapConsole((bytes) => {
      if (!this.closed && this.sock.writableLength < CONSOLE_BACKLOG) this.sock.write(bytes);
    });
    const early = this.splitter.takeRest();
    if (early.length) vm.sendInput(early);
  }
}
