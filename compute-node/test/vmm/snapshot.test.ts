// savevm / loadvm / --incoming between real VM processes, with the bare-metal ticker (a guest
// that sleeps in WFI between timer interrupts): the restored guest carries on from the same
// count and wakes on its next tick however long the state sat on disk, and every kind of bad
// state file is refused by a process that then carries on.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventLog, fileIn, killAll, sleep, startVm, tempDir } from '../../testing/harness.js';
import { tickerElf } from './programs.js';

const lastTick = (out: string): number => {
  const all = [...out.matchAll(/^tick ([0-9a-f]{8})$/gm)];
  return all.length ? parseInt(all[all.length - 1]![1]!, 16) : 0;
};

describe('VM process save and restore', function () {
  this.timeout(120_000);
  const tmp = tempDir('snapshot');
  let kernel: string;
  const base = (): string[] => ['--bios', 'none', '--kernel', kernel, '--memory', '16'];
  const saved = (): string => join(tmp.dir, 'ticker.state');

  before(() => {
    kernel = fileIn(tmp.dir, 'ticker.elf', tickerElf(5_000_000)); // a tick every 0.5 s
  });
  after(() => {
    killAll();
    tmp.remove();
  });

  it('a guest idle in WFI, restored 2 s after the save, continues its count and wakes on its next tick', async () => {
    const a = startVm(base(), { control: join(tmp.dir, 'a.sock') });
    const qa = await a.qmp();
    await a.waitOut((o) => lastTick(o) >= 3);
    await qa.execute('stop');
    const n = lastTick(a.out);
    const { size } = await qa.execute<{ size: number }>('savevm', { path: saved() });
    assert.equal(size, statSync(saved()).size);
    assert.ok(size < 64 << 10, `a 16 MiB guest using a few pages saves small (${size} bytes): zero pages are left out`);
    await qa.execute('quit');
    assert.equal((await a.exited).code, 0);
    assert.deepEqual(
      readdirSync(tmp.dir).filter((f) => f.includes('.tmp')),
      [],
      'no temporary file left',
    );

    await sleep(2000);
    const b = startVm([...base(), '--incoming', saved()], { control: join(tmp.dir, 'b.sock') });
    // The control socket answers once the state is loaded and the guest runs.
    const qb = await b.qmp();
    const t0 = performance.now();
    await b.waitOut((o) => lastTick(o) >= n + 1, 10_000);
    const firstMs = performance.now() - t0;
    await b.waitOut((o) => lastTick(o) >= n + 3, 10_000);
    const thenMs = performance.now() - t0 - firstMs;
    assert.equal(
      lastTick(b.out.split('\n').find((l) => l.startsWith('tick')) ?? ''),
      n + 1,
      'the first tick after restore is n+1',
    );
    assert.doesNotMatch(b.out, /ticker: start/, 'restored, not rebooted');
    // The timer armed before the save fires within its period of guest time, and guest time
    // did not jump by the 2 s on disk (which would fire ticks in a burst). Upper bounds are
    // loose: a loaded host delays ticks, it never makes them early.
    assert.ok(firstMs < 2000, `first tick ${firstMs.toFixed(0)} ms after the restore`);
    assert.ok(thenMs > 700 && thenMs < 5000, `two more ticks took ${thenMs.toFixed(0)} ms (0.5 s period)`);
    assert.equal((await qb.execute<{ status: string }>('query-status')).status, 'running');
    await qb.execute('quit');
    assert.equal((await b.exited).code, 0);
  });

  it('rejects truncated, corrupted and foreign state files; the waiting process stays usable and then loads a good one', async () => {
    const good = readFileSync(saved());
    const bad: [string, Uint8Array | 'dir' | 'elf', RegExp][] = [
      ['truncated', good.subarray(0, good.length >> 1), /truncated|checksum/],
      [
        'one byte flipped',
        Buffer.from(good).fill(good[good.length >> 1]! ^ 0xff, good.length >> 1, (good.length >> 1) + 1),
        /corrupt|checksum/,
      ],
      ['empty', new Uint8Array(0), /not a Hypernova snapshot/],
      ['an ELF file', 'elf', /not a Hypernova snapshot/],
      ['a directory', 'dir', /not a regular file/],
    ];
    const c = startVm([...base(), '--incoming', 'defer'], { control: join(tmp.dir, 'c.sock') });
    const qc = await c.qmp();
    for (const [what, bytes, message] of bad) {
      const path =
        bytes === 'dir' ? tmp.dir : bytes === 'elf' ? kernel : fileIn(tmp.dir, `bad-${what.replace(/ /g, '-')}`, bytes);
      await assert.rejects(qc.execute('loadvm', { path }), (e: Error) => message.test(e.message), what);
      assert.equal((await qc.execute<{ status: string }>('query-status')).status, 'inmigrate', what);
    }
    // A snapshot of another machine (64 MiB instead of 16) is refused by config, not by accident.
    const big = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '64', '--console', 'none'], {
      control: join(tmp.dir, 'big.sock'),
    });
    const qbig = await big.qmp();
    const foreign = join(tmp.dir, 'foreign.state');
    await qbig.execute('savevm', { path: foreign });
    await qbig.execute('quit');
    await assert.rejects(qc.execute('loadvm', { path: foreign }), /machine config differs: memoryMiB 64 vs 16/);

    const events = new EventLog(qc);
    await qc.execute('loadvm', { path: saved() });
    await events.next('RESUME');
    assert.equal((await qc.execute<{ status: string }>('query-status')).status, 'running');
    await c.waitOut((o) => /^tick /m.test(o));
    assert.doesNotMatch(c.out, /ticker: start/, 'the guest runs only from the loaded state');
    await qc.execute('quit');
    assert.equal((await c.exited).code, 0);
  });

  it('refuses a bad --incoming file at start with status 1 and a clear message', async () => {
    const truncated = fileIn(tmp.dir, 'short.state', readFileSync(saved()).subarray(0, 100));
    const v = startVm([...base(), '--console', 'none', '--incoming', truncated]);
    assert.deepEqual(await v.exited, { code: 1, signal: null });
    assert.match(v.err, /cannot restore .*short\.state: snapshot is corrupt or truncated/);
  });

  it('savevm of a running guest keeps it running and replaces an older file whole; loadvm rewinds a running guest', async () => {
    const path = join(tmp.dir, 'running.state');
    writeFileSync(path, 'old contents');
    const d = startVm(base(), { control: join(tmp.dir, 'd.sock') });
    const qd = await d.qmp();
    await d.waitOut((o) => lastTick(o) >= 2);
    await qd.execute('savevm', { path });
    assert.equal((await qd.execute<{ status: string }>('query-status')).status, 'running');
    assert.equal(readFileSync(path).subarray(0, 8).toString(), 'HNVMSNAP');
    const atSave = lastTick(d.out);
    await d.waitOut((o) => lastTick(o) >= atSave + 2);
    await qd.execute('loadvm', { path });
    const mark = d.out.length;
    await d.waitOut((o) => /^tick /m.test(o.slice(mark)));
    assert.equal(lastTick(d.out.slice(mark)), atSave + 1, 'back to the count at the save');
    await qd.execute('quit');
    assert.equal((await d.exited).code, 0);
  });
});
