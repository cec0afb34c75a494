// Live-migration benchmark (`npm run bench:migration`): the bare-metal dirtier guest
// (guest/baremetal/bench/dirtier.c: a working set filled with incompressible data, one word
// rewritten in N pages every 10 ms, a heartbeat every 250 ms) migrated between two VM
// processes over a real nats-server, for RAM 64/256 MiB × dirty rate 0/10/50/200 MiB/s over a
// 32 MiB working set, plus the stress case of 128 MiB dirtied at 200 MiB/s on 256 MiB, and the
// stream's ceiling (192 MiB written once on 256 MiB, QEMU's max-bandwidth raised). Per case:
// total time, stop→resume (source pause to destination resume, wall clock), bytes sent, rounds,
// converged. With qemu-system-riscv32 installed, QEMU's own pre-copy (two processes, -incoming
// tcp, QMP migrate, its defaults) runs the same guest and RAM size in the same run, and the
// ratios are computed. The stream is encrypted (AES-256-GCM), as the compute agent runs it; a
// few cases also run with it authenticated only (HMAC-SHA256), alternating, to show what the
// encryption costs (--compare-only: just those, into bench/results/migration-encryption.json).
// Medians of --runs (default 5). Results: bench/results/migration.json.
//
// The file is also its own child process: `migration.js --role source|destination ...` is one
// VM process holding a Machine and one side of the migration.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectNats } from '@hypernova/common';
import { ensureBaremetal } from '@hypernova/guest';
import { Machine } from '@hypernova/hypervisor';
import {
  MigrationDestination,
  MigrationSource,
  QmpClient,
  VM_PROCESS_ENV,
  type DestinationResult,
  type SourceResult,
} from '@hypernova/compute-node';
import { freePort, startNats } from '@hypernova/test';
import { median } from './lib/measure.js';
import { QEMU, QEMU_CPU, qemuInstalled } from './lib/qemu.js';

const MiB = 1 << 20;
/** Both engines run the guest this long after it filled its working set before migrating. */
const WARMUP_MS = 500;
/** A case still iterating after this is forced (ours) or cancelled (QEMU): not converged. */
const CASE_LIMIT_MS = 20_000;

interface Case {
  memoryMiB: number;
  wssMiB: number;
  rateMiBs: number;
  /**
   * The stream's ceiling: a long first pass and nothing dirtied, with QEMU's max-bandwidth raised
   * from its 128 MiB/s default (ours has no cap by default), as ../shared/anchors.md measured it.
   */
  ceiling?: boolean;
  /** Also run with the stream authenticated only (HMAC, no encryption), to see what encryption costs. */
  compare?: boolean;
}

/** QEMU's max-bandwidth for the ceiling case, bytes/s. */
const QEMU_UNCAPPED = 10 * 1024 * MiB;

interface RunFigures {
  totalMs: number;
  stopToResumeMs: number;
  mibSent: number;
  rounds: number;
  converged: boolean;
  /** Stream throughput measured by the sender (ours) / QEMU's mbps. */
  throughputMiBs: number;
  /** The guest's console across both sides: every heartbeat once, some after the move, no MEMCHECK-FAIL. */
  guestOk: boolean;
  guest: GuestCheck;
  detail?: Record<string, unknown>;
}

const appendFor = (c: Case): string => `hn.wss_mib=${c.wssMiB} hn.dirty_mib_s=${c.rateMiBs} hn.beat_ms=250`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface GuestCheck {
  /** Heartbeats the destination printed in the second after the move (4 expected). */
  beatsAfter: number;
  /** Every heartbeat number once, in order, across both consoles. */
  consecutive: boolean;
  memcheckFail: boolean;
}

function checkGuest(src: string, dst: string): GuestCheck {
  const beats = [...(src + dst).matchAll(/heartbeat (\d+)/g)].map((m) => Number(m[1]));
  return {
    beatsAfter: [...dst.matchAll(/heartbeat \d+/g)].length,
    consecutive: beats.every((b, i) => i === 0 || b === beats[i - 1]! + 1),
    memcheckFail: /MEMCHECK-FAIL/.test(src + dst),
  };
}

const guestOk = (g: GuestCheck): boolean => g.beatsAfter > 0 && g.consecutive && !g.memcheckFail;

// ---------------------------------------------------------------- child: one VM process

type ToChild = { type: 'key'; key: string; encrypt: boolean } | { type: 'go' } | { type: 'force' };
type FromChild =
  | { type: 'started' }
  | { type: 'ready' }
  | {
      type: 'done';
      log: string;
      result?: SourceResult;
      resumedAt?: number;
      destination?: DestinationResult;
      error?: string;
    };

async function child(args: Map<string, string>): Promise<void> {
  process.on('SIGTERM', () => process.exit(0)); // exit cleanly, so --cpu-prof profiles are written
  const send = (m: FromChild): void => void process.send!(m);
  const c: Case = {
    memoryMiB: Number(args.get('mib')),
    wssMiB: Number(args.get('wss')),
    rateMiBs: Number(args.get('rate')),
  };
  let log = '';
  const machine = new Machine(
    { kernel: readFileSync(args.get('kernel')!), bios: 'none', append: appendFor(c) },
    { config: { memoryMiB: c.memoryMiB }, console: (b) => (log += Buffer.from(b).toString('latin1')) },
  );
  const nc = await connectNats(args.get('nats')!, { name: `bench-${args.get('role')}` });
  const id = args.get('id')!;
  // The key comes over IPC, as the agent's comes over the control socket: never in argv.
  const secret = new Promise<Extract<ToChild, { type: 'key' }>>((resolve) =>
    process.once('message', (m: ToChild) => m.type === 'key' && resolve(m)),
  );
  send({ type: 'started' });
  const { key: hex, encrypt } = await secret;
  const key = Buffer.from(hex, 'hex');
  if (args.get('role') === 'destination') {
    machine.pause();
    void machine.run();
    const dst = new MigrationDestination(machine, nc, { id, key, encrypt });
    await dst.listen();
    send({ type: 'ready' });
    try {
      const r = await dst.finished;
      await sleep(1000); // a few heartbeats on this side
      send({ type: 'done', log, resumedAt: r.resumedAt, destination: r });
    } catch (e) {
      send({ type: 'done', log, error: String(e) });
    }
  } else {
    void machine.run();
    while (!log.includes('DIRTIER-READY')) await sleep(10);
    await sleep(WARMUP_MS);
    const src = new MigrationSource(machine, nc, { id, key, encrypt });
    process.on('message', (m: ToChild) => {
      if (m.type === 'go') {
        src.run().then(
          (result) => send({ type: 'done', log, result }),
          (e: unknown) => send({ type: 'done', log, error: String(e) }),
        );
      } else if (m.type === 'force') {
        src.forceComplete();
      }
    });
    send({ type: 'ready' });
    return; // the parent kills this process when done
  }
  machine.powerOffNow();
  await nc.close();
  process.exit(0);
}

// ---------------------------------------------------------------- ours

function vmProcess(
  role: string,
  c: Case,
  kernel: string,
  nats: string,
  id: string,
  secret: { key: Buffer; encrypt: boolean },
): { proc: ChildProcess; next: () => Promise<FromChild> } {
  const proc = fork(
    fileURLToPath(import.meta.url),
    [
      '--role',
      role,
      '--mib',
      `${c.memoryMiB}`,
      '--wss',
      `${c.wssMiB}`,
      '--rate',
      `${c.rateMiBs}`,
      '--kernel',
      kernel,
      '--nats',
      nats,
      '--id',
      id,
    ],
    {
      env: { ...process.env, ...VM_PROCESS_ENV },
      execArgv: process.env.BENCH_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF_DIR] : [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const queue: FromChild[] = [];
  const waiters: ((m: FromChild) => void)[] = [];
  proc.on('message', (m: FromChild) => {
    if (m.type === 'started') proc.send({ type: 'key', key: secret.key.toString('hex'), encrypt: secret.encrypt });
    else if (waiters.length) waiters.shift()!(m);
    else queue.push(m);
  });
  proc.on('exit', (code) => {
    const m: FromChild = { type: 'done', log: '', error: `${role} process exited (${code})` };
    while (waiters.length) waiters.shift()!(m);
  });
  return { proc, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) };
}

async function ours(c: Case, kernel: string, nats: string, run: number, encrypt: boolean): Promise<RunFigures> {
  const id = `bench-${c.memoryMiB}-${c.wssMiB}-${c.rateMiBs}-${run}-${Date.now()}`;
  const secret = { key: randomBytes(32), encrypt };
  const dst = vmProcess('destination', c, kernel, nats, id, secret);
  const src = vmProcess('source', c, kernel, nats, id, secret);
  try {
    await Promise.all([dst.next(), src.next()]);
    src.proc.send({ type: 'go' } satisfies ToChild);
    const force = setTimeout(() => src.proc.send({ type: 'force' } satisfies ToChild), CASE_LIMIT_MS);
    const [s, d] = await Promise.all([src.next(), dst.next()]);
    clearTimeout(force);
    if (s.type !== 'done' || d.type !== 'done' || !s.result || d.resumedAt === undefined) {
      throw new Error(
        `migration failed: ${(s as { error?: string }).error ?? ''} ${(d as { error?: string }).error ?? ''}`,
      );
    }
    const r = s.result;
    return {
      totalMs: r.totalMs,
      stopToResumeMs: d.resumedAt - r.pausedAt,
      mibSent: r.transferredBytes / MiB,
      rounds: r.rounds,
      converged: r.converged,
      throughputMiBs: r.progress.bandwidthBytesPerSec / MiB,
      guestOk: guestOk(checkGuest(s.log, d.log)),
      guest: checkGuest(s.log, d.log),
      detail: {
        pages: r.progress.pages,
        throttle: r.progress.throttle,
        retransmits: r.progress.retransmits,
        expectedDowntimeMs: r.progress.expectedDowntimeMs,
        switchover: {
          ...r.switchover,
          pauseToEndMs: d.destination!.switchover.endAt - r.pausedAt,
          destinationRestoreMs: d.destination!.switchover.restoreMs,
        },
      },
    };
  } finally {
    for (const p of [src.proc, dst.proc]) {
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 3000).unref();
    }
  }
}

// ---------------------------------------------------------------- QEMU

interface QmpEventLike {
  event: string;
  timestamp?: { seconds: number; microseconds: number };
}

async function qemu(c: Case, kernel: string, dir: string, run: number): Promise<RunFigures> {
  const tag = `${c.memoryMiB}-${c.wssMiB}-${c.rateMiBs}-${run}`;
  const port = await freePort();
  const logs = { src: join(dir, `qemu-src-${tag}.log`), dst: join(dir, `qemu-dst-${tag}.log`) };
  const start = (name: 'src' | 'dst', extra: string[]): ChildProcess => {
    const sock = join(dir, `qemu-${name}-${tag}.sock`);
    const args = [
      '-M',
      'virt',
      '-cpu',
      QEMU_CPU,
      '-m',
      `${c.memoryMiB}M`,
      '-display',
      'none',
      '-monitor',
      'none',
      '-serial',
      `file:${logs[name]}`,
    ];
    args.push(
      '-bios',
      'none',
      '-kernel',
      kernel,
      '-append',
      appendFor(c),
      '-qmp',
      `unix:${sock},server=on,wait=off`,
      ...extra,
    );
    return spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  };
  const procs = [start('dst', ['-incoming', `tcp:127.0.0.1:${port}`]), start('src', [])];
  try {
    const [qd, qs] = await Promise.all(
      ['dst', 'src'].map(async (n) => {
        const q = await QmpClient.connectWhenReady(join(dir, `qemu-${n}-${tag}.sock`), { timeoutMs: 30_000 });
        await q.execute('qmp_capabilities');
        return q;
      }),
    );
    const events: { src: QmpEventLike[]; dst: QmpEventLike[] } = { src: [], dst: [] };
    qs!.on('event', (e) => events.src.push(e));
    qd!.on('event', (e) => events.dst.push(e));
    const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'latin1') : '');
    while (!read(logs.src).includes('DIRTIER-READY')) await sleep(10);
    await sleep(WARMUP_MS);
    if (c.ceiling) await qs!.execute('migrate-set-parameters', { 'max-bandwidth': QEMU_UNCAPPED });
    await qs!.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    const began = performance.now();
    let info: Record<string, unknown> = {};
    // A cancelled migration reports no figures: keep the last ones seen while it ran.
    let running: Record<string, unknown> = {};
    let converged = true;
    for (;;) {
      info = await qs!.execute<Record<string, unknown>>('query-migrate');
      if (info.status === 'completed' || info.status === 'failed' || info.status === 'cancelled') break;
      if (info.status === 'active') running = info;
      if (performance.now() - began > CASE_LIMIT_MS && converged) {
        converged = false;
        await qs!.execute('migrate_cancel');
      }
      await sleep(10);
    }
    const ram = ((info.status === 'completed' ? info : running).ram ?? {}) as Record<string, number>;
    const ts = (e?: QmpEventLike): number =>
      e?.timestamp ? e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000 : NaN;
    let stopToResume = NaN;
    if (info.status === 'completed') {
      const deadline = performance.now() + 5000;
      while (!events.dst.some((e) => e.event === 'RESUME') && performance.now() < deadline) await sleep(10);
      stopToResume = ts(events.dst.find((e) => e.event === 'RESUME')) - ts(events.src.find((e) => e.event === 'STOP'));
      await sleep(1000); // a few heartbeats on the destination
    }
    const guest = checkGuest(read(logs.src), read(logs.dst));
    return {
      totalMs: Number(info['total-time'] ?? running['total-time'] ?? performance.now() - began),
      stopToResumeMs: stopToResume,
      mibSent: (ram.transferred ?? 0) / MiB,
      rounds: ram['dirty-sync-count'] ?? 0,
      converged: info.status === 'completed',
      throughputMiBs: (ram.mbps ?? 0) / 8 / 1.048576,
      guestOk: info.status === 'completed' && guestOk(guest),
      guest,
      detail: { status: info.status, downtimeMs: info.downtime, dirtyPagesRate: ram['dirty-pages-rate'] },
    };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- main

function summarise(runs: RunFigures[]): Record<string, unknown> {
  return {
    totalMs: median(runs.map((r) => r.totalMs)),
    stopToResumeMs: median(runs.map((r) => r.stopToResumeMs)),
    mibSent: median(runs.map((r) => r.mibSent)),
    rounds: median(runs.map((r) => r.rounds)),
    converged: runs.every((r) => r.converged),
    throughputMiBs: median(runs.map((r) => r.throughputMiBs)),
    guestOk: runs.every((r) => r.guestOk),
    runs,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const runs = Number(opt('runs') ?? 5);
  const only = opt('only'); // e.g. 256-32-200
  // The cases that compare encrypted with plaintext streams, and only those.
  const compareOnly = argv.includes('--compare-only');
  const kernel = join(await ensureBaremetal(), 'dirtier.elf');
  const withQemu = !argv.includes('--no-qemu') && (await qemuInstalled());
  const cases: Case[] = [];
  for (const memoryMiB of [64, 256])
    for (const rateMiBs of [0, 10, 50, 200])
      cases.push({
        memoryMiB,
        wssMiB: 32,
        rateMiBs,
        compare: memoryMiB === 256 && (rateMiBs === 0 || rateMiBs === 50),
      });
  cases.push({ memoryMiB: 256, wssMiB: 128, rateMiBs: 200, compare: true });
  cases.push({ memoryMiB: 256, wssMiB: 192, rateMiBs: 0, ceiling: true, compare: true });
  const selected = cases.filter(
    (c) => (!only || only === `${c.memoryMiB}-${c.wssMiB}-${c.rateMiBs}`) && (!compareOnly || c.compare),
  );
  // Any other case, for experiments: --only MiB-WSS-RATE.
  if (only && !selected.length) {
    const [memoryMiB, wssMiB, rateMiBs] = only.split('-').map(Number);
    selected.push({ memoryMiB: memoryMiB!, wssMiB: wssMiB!, rateMiBs: rateMiBs! });
  }

  const nats = await startNats();
  const dir = mkdtempSync(join(tmpdir(), 'hn-bench-migration-'));
  // The host is shared (builds, other benchmarks): its load says how far to trust the figures.
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    hostLoadAverage: loadavg()[0],
    runs,
    guest: 'guest/baremetal/bench/dirtier.c (one word rewritten per page, heartbeat every 250 ms)',
    ours: 'defaults: downtime limit 300 ms, no bandwidth cap, deltas on, auto-converge on, stream encrypted (AES-256-GCM); NATS core on loopback',
    qemu: withQemu
      ? 'QEMU defaults: downtime-limit 300 ms, max-bandwidth 128 MiB/s, no capabilities; loopback TCP'
      : 'not installed',
    notes: [
      'stop→resume: source pause (QEMU: STOP event) to destination resume (QEMU: RESUME event), wall clock, one host',
      'guest ok: every heartbeat once across both consoles, at least one on the destination after the move, no MEMCHECK-FAIL; ' +
        'QEMU 7.2 fails it because the dirtier sleeps in WFI with the timer armed and QEMU 7.2 does not migrate the armed mtimer',
      `our VM processes run with ${VM_PROCESS_ENV.GLIBC_TUNABLES}, as the compute agent starts them (freed buffers stay in the heap): a page fault costs tens of µs on this host`,
      'the destination prefaults its RAM (and the memory its receive buffers will take) while it waits for the source (as QEMU -mem-prealloc); that time is outside the migration, as QEMU start-up is',
      `a case still iterating after ${CASE_LIMIT_MS / 1000} s is forced (ours) or cancelled (QEMU) and counts as not converged`,
      'stream throughput (MiB/s): ours is acknowledged bytes over the time frames were in flight; the short cases are mostly set-up and small late rounds, the ceiling case is one long first pass',
      'plaintext (cases with it): the same case with the stream authenticated only (HMAC-SHA256, no encryption), runs alternating with the encrypted ones; encryption: encrypted/plaintext throughput, and stop→resume of both',
    ],
    cases: [] as unknown[],
  };
  const fmt = (r: Record<string, unknown>): string =>
    `total ${Number(r.totalMs).toFixed(0)} ms, stop→resume ${Number(r.stopToResumeMs).toFixed(1)} ms, ${Number(r.mibSent).toFixed(1)} MiB, ` +
    `${r.rounds} rounds, ${Number(r.throughputMiBs).toFixed(0)} MiB/s, converged ${r.converged ? 'yes' : 'no'}, ` +
    `guest ${r.guestOk ? 'ok' : `NOT OK (${JSON.stringify((r.runs as RunFigures[]).map((x) => x.guest))})`}`;
  try {
    for (const c of selected) {
      const name = `${c.memoryMiB} MiB RAM, ${c.rateMiBs} MiB/s over ${c.wssMiB} MiB${c.ceiling ? ' (stream ceiling: QEMU max-bandwidth raised to 10 GiB/s)' : ''}`;
      const mine: RunFigures[] = [];
      const plain: RunFigures[] = [];
      const theirs: RunFigures[] = [];
      for (let i = 0; i < runs; i++) {
        mine.push(await ours(c, kernel, nats.url, i, true));
        if (c.compare) plain.push(await ours(c, kernel, nats.url, i, false));
        if (withQemu) theirs.push(await qemu(c, kernel, dir, i));
      }
      const row: Record<string, unknown> = { ...c, hypernova: summarise(mine) };
      console.log(`${name}\n  hypernova: ${fmt(row.hypernova as Record<string, unknown>)}`);
      if (c.compare) {
        const p = summarise(plain);
        const h = row.hypernova as Record<string, number>;
        row.plaintext = p;
        row.encryption = {
          throughputRatio: h.throughputMiBs / (p.throughputMiBs as number),
          stopToResumeMs: { encrypted: h.stopToResumeMs, plaintext: p.stopToResumeMs },
        };
        console.log(
          `  plaintext: ${fmt(p)}\n  encrypted/plaintext throughput ${(h.throughputMiBs / (p.throughputMiBs as number)).toFixed(2)}`,
        );
      }
      if (withQemu) {
        const q = summarise(theirs);
        row.qemu = q;
        const h = row.hypernova as Record<string, number>;
        const qn = q as Record<string, number>;
        row.ratios = {
          stopToResume: h.stopToResumeMs / qn.stopToResumeMs,
          total: h.totalMs / qn.totalMs,
          bytes: h.mibSent / qn.mibSent,
        };
        console.log(`  QEMU:      ${fmt(q)}`);
        const ra = row.ratios as Record<string, number>;
        console.log(
          `  ratios (ours/QEMU): stop→resume ${ra.stopToResume!.toFixed(2)}, total ${ra.total!.toFixed(2)}, bytes ${ra.bytes!.toFixed(2)}`,
        );
      }
      (results.cases as unknown[]).push(row);
    }
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // A comparison run alone does not replace the full table.
  const file = compareOnly ? 'migration-encryption.json' : 'migration.json';
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', file);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`results in ${out}`);
}

const args = process.argv.slice(2);
if (args[0] === '--role') {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < args.length; i += 2) m.set(args[i]!.slice(2), args[i + 1]!);
  await child(m);
} else {
  await main();
}
