// `vm run` flags → a VM description. The flag names are an interface: the agent, the tests and
// the benchmarks build these command lines, so they stay as they are.
import { parseArgs } from 'node:util';

export const RUN_USAGE = `usage: hypernova vm run --kernel FILE [--initrd FILE] [--append STR] [--memory MiB]
                       [--bios builtin|none|FILE] [--dtb FILE]
                       [--disk FILE[,format=qcow2|raw][,readonly][,size=BYTES]]...
                       [--net mac=MAC[,link=unix:PATH[,listen]]]... [--rng] [--keyboard]
                       [--console stdio|none] [--serial-log FILE]
                       [--control unix:PATH] [--name NAME]
                       [--incoming PATH|defer] [--paused]

  --disk      a virtio-blk disk; slots are given to disks, then NICs, then the rng, then the
              keyboard, in flag order; size=BYTES (its virtual size) with --incoming defer leaves
              the image closed until the incoming migration ends or loadvm (an image another host
              still writes, on shared storage)
  --net       a virtio-net NIC; link=unix:PATH sends its frames over a unix stream socket to a
              hub (hypernova vm net-hub) or, with listen, accepts one peer VM on PATH
  --rng       a virtio-rng device fed by the host CSPRNG
  --keyboard  a virtio-input keyboard: system_powerdown presses Ctrl-Alt-Del on it, send-key types
  --console   stdio (default): the serial console on this terminal, Ctrl-A X quits
  --serial-log append every byte the guest prints on the serial console to FILE
  --control   serve the JSON control protocol (QMP-shaped) on a unix socket
  --incoming  start from a saved state file instead of booting, or wait paused for loadvm
  --paused    do not start the guest (after boot or restore) until the cont command`;

/** A command line that does not parse (`hypernova vm run`'s, `hypernova img`'s): shown with the usage, never a stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface DiskSpec {
  path: string;
  format?: 'raw' | 'qcow2';
  readOnly: boolean;
  /** The virtual size, declared: the image may stay closed until the guest needs it (see InactiveDisk). */
  size?: number;
}

export interface NetSpec {
  mac: string;
  /** Unix stream socket carrying the NIC's frames; absent: a NIC with nothing plugged in. */
  link?: { path: string; listen: boolean };
}

export type Incoming = { kind: 'file'; path: string } | { kind: 'defer' };

export interface VmOptions {
  kernel: string;
  initrd?: string;
  append?: string;
  memoryMiB: number;
  /** builtin, none, or the path of an M-mode firmware. */
  bios: string;
  dtb?: string;
  disks: DiskSpec[];
  nets: NetSpec[];
  rng: boolean;
  /** A virtio-input keyboard (system_powerdown, send-key). */
  keyboard: boolean;
  console: 'stdio' | 'none';
  serialLog?: string;
  /** Path of the control socket. */
  control?: string;
  name?: string;
  incoming?: Incoming;
  /** Stay paused after boot or restore until `cont`. */
  paused: boolean;
}

/** Splits `a,b=c,d` into ordered key/value pairs (a bare word has value undefined). */
function splitSpec(spec: string): [string, string | undefined][] {
  return spec.split(',').map((item) => {
    const eq = item.indexOf('=');
    return eq < 0 ? [item, undefined] : [item.slice(0, eq), item.slice(eq + 1)];
  });
}

export function parseDiskSpec(spec: string): DiskSpec {
  const [[path, pathValue], ...rest] = splitSpec(spec);
  // `file=PATH` is accepted as in QEMU's -drive; otherwise the first item is the path.
  const disk: DiskSpec = { path: path === 'file' && pathValue !== undefined ? pathValue : path!, readOnly: false };
  if (!disk.path || (pathValue !== undefined && path !== 'file'))
    throw new UsageError(`--disk '${spec}': the first item must be the image path`);
  for (const [key, value] of rest) {
    if (key === 'format' && (value === 'raw' || value === 'qcow2')) disk.format = value;
    else if (key === 'readonly' && (value === undefined || value === 'on' || value === 'true')) disk.readOnly = true;
    else if (key === 'readonly' && (value === 'off' || value === 'false')) disk.readOnly = false;
    else if (key === 'size' && value !== undefined && /^[1-9]\d*$/.test(value) && Number.isSafeInteger(Number(value)))
      disk.size = Number(value);
    else
      throw new UsageError(
        `--disk '${spec}': unknown option '${value === undefined ? key : `${key}=${value}`}' (format=qcow2|raw, readonly, size=BYTES)`,
      );
  }
  return disk;
}

export function parseNetSpec(spec: string): NetSpec {
  let mac: string | undefined;
  let link: string | undefined;
  let listen = false;
  for (const [key, value] of splitSpec(spec)) {
    if (key === 'mac' && value) mac = value;
    else if (key === 'link' && value) link = value;
    else if (key === 'listen' && value === undefined) listen = true;
    else throw new UsageError(`--net '${spec}': unknown option '${key}' (mac=MAC[,link=unix:PATH[,listen]])`);
  }
  if (!mac) throw new UsageError(`--net '${spec}': mac=xx:xx:xx:xx:xx:xx is required`);
  if (link !== undefined && !link.startsWith('unix:')) throw new UsageError(`--net '${spec}': link must be unix:PATH`);
  if (listen && link === undefined) throw new UsageError(`--net '${spec}': listen needs link=unix:PATH`);
  return { mac, link: link === undefined ? undefined : { path: link.slice(5), listen } };
}

export function parseVmArgs(argv: string[]): VmOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
        memory: { type: 'string', default: '128' },
        bios: { type: 'string', default: 'builtin' },
        dtb: { type: 'string' },
        disk: { type: 'string', multiple: true, default: [] },
        net: { type: 'string', multiple: true, default: [] },
        rng: { type: 'boolean', default: false },
        keyboard: { type: 'boolean', default: false },
        console: { type: 'string', default: 'stdio' },
        'serial-log': { type: 'string' },
        control: { type: 'string' },
        name: { type: 'string' },
        incoming: { type: 'string' },
        paused: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!values.kernel) throw new UsageError('--kernel is required');
  const memoryMiB = Number(values.memory);
  if (!/^\d+$/.test(values.memory)) throw new UsageError(`--memory '${values.memory}' is not a whole number of MiB`);
  if (values.console !== 'stdio' && values.console !== 'none')
    throw new UsageError(`--console must be stdio or none, not '${values.console}'`);
  if (values.control !== undefined && !values.control.startsWith('unix:'))
    throw new UsageError(`--control must be unix:PATH, not '${values.control}'`);
  const control = values.control?.slice(5);
  if (control === '') throw new UsageError('--control unix: needs a path');
  const incoming: Incoming | undefined =
    values.incoming === undefined
      ? undefined
      : values.incoming === 'defer'
        ? { kind: 'defer' }
        : { kind: 'file', path: values.incoming };
  if (incoming?.kind === 'defer' && control === undefined)
    throw new UsageError('--incoming defer needs --control (loadvm comes through it)');
  const nets = values.net.map(parseNetSpec);
  const disks = values.disk.map(parseDiskSpec);
  const slots = disks.length + nets.length + (values.rng ? 1 : 0) + (values.keyboard ? 1 : 0);
  if (slots > 8) throw new UsageError(`${slots} virtio devices requested; the board has 8 slots`);
  return {
    kernel: values.kernel,
    initrd: values.initrd,
    append: values.append,
    memoryMiB,
    bios: values.bios,
    dtb: values.dtb,
    disks,
    nets,
    rng: values.rng,
    keyboard: values.keyboard,
    console: values.console,
    serialLog: values['serial-log'],
    control,
    name: values.name,
    incoming,
    paused: values.paused,
  };
}
