// Run confined in place of a VM process: reports what it is and what it can reach, as one JSON
// line on stdout. Usage: probe.js [--read PATH]... [--write PATH]... [--list DIR]...
import { accessSync, constants, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    read: { type: 'string', multiple: true, default: [] },
    write: { type: 'string', multiple: true, default: [] },
    list: { type: 'string', multiple: true, default: [] },
  },
});

/** The error code of trying, or 'ok'. */
function attempt(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

const status = Object.fromEntries(
  readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .map((l) => l.split(':\t'))
    .filter((kv) => kv.length === 2)
    .map(([k, v]) => [k, v!.trim()]),
);
const limits = Object.fromEntries(
  readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => [l.slice(0, 26).trim(), l.slice(26, 47).trim()]),
);

process.stdout.write(
  `${JSON.stringify({
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    groups: process.getgroups?.(),
    caps: [status.CapInh, status.CapPrm, status.CapEff, status.CapBnd, status.CapAmb],
    noNewPrivs: status.NoNewPrivs,
    env: Object.keys(process.env).sort(),
    openFiles: limits['Max open files'],
    processes: limits['Max processes'],
    core: limits['Max core file size'],
    // What it holds open: the event loop's own descriptors and its stdio, nothing of the agent's.
    fds: readdirSync('/proc/self/fd').map((fd) =>
      attempt(() => readlinkSync(`/proc/self/fd/${fd}`)) === 'ok' ? readlinkSync(`/proc/self/fd/${fd}`) : '?',
    ),
    mountNs: readlinkSync('/proc/self/ns/mnt'),
    root: readdirSync('/').sort(),
    read: Object.fromEntries(values.read.map((p) => [p, attempt(() => accessSync(p, constants.R_OK))])),
    write: Object.fromEntries(values.write.map((p) => [p, attempt(() => accessSync(p, constants.W_OK))])),
    list: Object.fromEntries(values.list.map((p) => [p, attempt(() => readdirSync(p)) === 'ok' ? readdirSync(p) : []])),
  })}\n`,
);
