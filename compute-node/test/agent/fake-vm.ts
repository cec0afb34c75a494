// A stand-in VM process for the agent's tests: takes the `vm run` options the agent passes,
// serves the control protocol (greeting, query-status, stop, cont, system_reset,
// system_powerdown, quit, savevm, console, events) and writes "BOOT-OK" then "heartbeat N" to
// the serial log at once instead of after a 15 s boot. Its "guest state" is the heartbeat
// counter, which savevm and --incoming carry over. FAKE_VM_GUEST_POWEROFF=1 makes the guest
// power off when asked (system_powerdown), as an ACPI-aware guest would.
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    kernel: { type: 'string' },
    append: { type: 'string' },
    memory: { type: 'string' },
    disk: { type: 'string', multiple: true },
    rng: { type: 'boolean' },
    keyboard: { type: 'boolean' },
    console: { type: 'string' },
    'serial-log': { type: 'string' },
    control: { type: 'string' },
    name: { type: 'string' },
    incoming: { type: 'string' },
    // A test's own: this guest powers off when asked to.
    'guest-poweroff': { type: 'boolean' },
  },
  strict: true,
  args: process.argv.slice(2).filter((a) => a !== 'vm' && a !== 'run'),
});

const log = values['serial-log'] as string;
const control = (values.control as string).replace(/^unix:/, '');
let beat = 0;
let running = true;
const clients = new Set<Socket>();
const consoles = new Set<Socket>();

function serial(text: string): void {
  appendFileSync(log, text);
  for (const c of consoles) c.write(text);
}

function event(name: string, data: Record<string, unknown> = {}): void {
  const now = Date.now();
  const msg = JSON.stringify({
    event: name,
    data,
    timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
  });
  for (const c of clients) c.write(msg + '\n');
}

function exit(code: number): never {
  rmSync(control, { force: true });
  process.exit(code);
}

if (values.incoming) {
  beat = (JSON.parse(readFileSync(values.incoming, 'utf8')) as { beat: number }).beat;
  serial(`restored at heartbeat ${beat}\n`);
} else {
  serial(
    `fake VM ${values.name} kernel=${values.kernel} memory=${values.memory} append=${values.append ?? ''}\nBOOT-OK\n`,
  );
}
setInterval(() => {
  if (running) serial(`heartbeat ${++beat}\n`);
}, 200);

const commands: Record<string, (args: Record<string, unknown>, socket: Socket) => unknown> = {
  'query-status': () => ({ running, status: running ? 'running' : 'paused', singlestep: false }),
  stop: () => {
    running = false;
    event('STOP');
    return {};
  },
  cont: () => {
    running = true;
    event('RESUME');
    return {};
  },
  system_reset: () => {
    event('RESET', { guest: false, reason: 'host-qmp-system-reset' });
    serial('BOOT-OK\n');
    return {};
  },
  system_powerdown: () => {
    event('POWERDOWN');
    if (values['guest-poweroff']) {
      setTimeout(() => {
        event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
        setTimeout(() => exit(0), 20);
      }, 50);
    }
    return {};
  },
  quit: () => {
    event('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
    setTimeout(() => exit(0), 20);
    return {};
  },
  savevm: (args) => {
    writeFileSync(args.path as string, JSON.stringify({ beat }));
    return {};
  },
  console: (_args, socket) => {
    consoles.add(socket);
    return {};
  },
};

const server = createServer((socket) => {
  clients.add(socket);
  socket.write(
    JSON.stringify({
      QMP: { version: { qemu: { major: 0, minor: 1, micro: 0 }, package: 'fake' }, capabilities: [] },
    }) + '\n',
  );
  let buf = '';
  let raw = false;
  socket.on('data', (chunk) => {
    if (raw) {
      serial(`input: ${chunk.toString()}\n`);
      return;
    }
    buf += chunk.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0 && !raw; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const msg = JSON.parse(line) as { execute: string; arguments?: Record<string, unknown>; id?: unknown };
      const fn = commands[msg.execute];
      if (!fn) {
        socket.write(
          JSON.stringify({
            error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` },
            id: msg.id,
          }) + '\n',
        );
        continue;
      }
      socket.write(JSON.stringify({ return: fn(msg.arguments ?? {}, socket), id: msg.id }) + '\n');
      if (msg.execute === 'console') {
        raw = true;
        clients.delete(socket);
      }
    }
  });
  socket.on('close', () => {
    clients.delete(socket);
    consoles.delete(socket);
  });
  socket.on('error', () => undefined);
});
rmSync(control, { force: true });
server.listen(control);
process.on('SIGTERM', () => exit(0));
