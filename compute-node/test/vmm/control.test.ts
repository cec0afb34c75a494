// The control protocol of a real VM process (a bare-metal ticker guest, so no Linux boot):
// greeting and replies, bad input of every kind, two clients, run-state commands and events,
// quit and kill -9 as a supervisor sees them, and the socket file's life.
import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient, QmpError } from '../../src/agent/qmp-client.js';
import {
  EventLog,
  fileIn,
  killAll,
  RawClient,
  sleep,
  startVm,
  tempDir,
  type VmUnderTest,
} from '../../testing/harness.js';
import { tickerElf } from './programs.js';

const ticks = (out: string): number => out.match(/^tick /gm)?.length ?? 0;

describe('VM process control protocol', function () {
  this.timeout(120_000);
  const tmp = tempDir('control');
  const sock = join(tmp.dir, 'vm.sock');
  let kernel: string;
  let vm: VmUnderTest;
  let qmp: QmpClient;

  before(async () => {
    kernel = fileIn(tmp.dir, 'ticker.elf', tickerElf(1_000_000)); // 10 ticks a second
    vm = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', '--name', 'ctl-test'], { control: sock });
    qmp = await vm.qmp();
    await vm.waitOut((o) => ticks(o) >= 2);
  });

  after(() => {
    qmp?.close();
    killAll();
    tmp.remove();
  });

  it('greets as QMP and answers query commands with the request id', async () => {
    // The client keeps what is inside {"QMP": ...}.
    const hello = qmp.greeting as { capabilities: unknown; version: { package: string } };
    assert.deepEqual(hello.capabilities, []);
    assert.equal(hello.version.package, 'hypernova');
    assert.deepEqual(await qmp.execute('qmp_capabilities'), {});
    assert.deepEqual(await qmp.execute('query-status'), { running: true, status: 'running', singlestep: false });
    const names = (await qmp.execute<{ name: string }[]>('query-commands')).map((c) => c.name);
    for (const n of ['stop', 'cont', 'savevm', 'loadvm', 'dirty-log-fetch', 'console', 'query-stats'])
      assert.ok(names.includes(n), n);
  });

  it('shows the VM name in the process title', () => {
    // process.title rewrites argv in place: /proc/PID/cmdline shows it.
    assert.match(readFileSync(`/proc/${vm.child.pid}/cmdline`, 'latin1'), /^hypernova-vm ctl-test/);
  });

  it('answers bad input with errors and keeps the connection working', async () => {
    const raw = await RawClient.open(sock);
    const cases: [string, RegExp, string?][] = [
      ['{"execute": "query-status"', /JSON parse error/],
      ['[1, 2]', /must be a JSON object/],
      ['"hello"', /must be a JSON object/],
      ['{"arguments": {}}', /'execute' must be a string/],
      ['{"execute": 42, "id": 1}', /'execute' must be a string/],
      ['{"execute": "query-status", "bogus": 1, "id": 2}', /'bogus' is unexpected/],
      ['{"execute": "query-status", "arguments": [], "id": 3}', /'arguments' must be an object/],
      ['{"execute": "no-such-command", "id": "x"}', /has not been found/, 'CommandNotFound'],
      ['{"execute": "savevm", "id": 5}', /'path' is missing/],
      [
        '{"execute": "savevm", "arguments": {"path": 7}, "id": 6}',
        /Invalid parameter type for 'path', expected: string/,
      ],
      ['{"execute": "savevm", "arguments": {"path": "/tmp/x", "extra": true}, "id": 7}', /'extra' is unexpected/],
      ['{"execute": "savevm", "arguments": {"path": ""}, "id": 8}', /must not be empty/],
      [
        '{"execute": "loadvm", "arguments": {"path": "/nonexistent/state"}, "id": 9}',
        /cannot read \/nonexistent\/state: ENOENT/,
      ],
      ['{"execute": "dirty-log-fetch", "id": 10}', /dirty logging is not active/],
      [
        '{"execute": "send-key", "arguments": {"keys": "ctrl"}, "id": 11}',
        /Invalid parameter type for 'keys', expected: array/,
      ],
      ['{"execute": "send-key", "arguments": {"keys": []}, "id": 12}', /'keys' must list 1 to 16 keys/],
      [
        '{"execute": "send-key", "arguments": {"keys": [{"type": "number", "data": 29}]}, "id": 13}',
        /'keys\[0\]\.type' must be 'qcode'/,
      ],
      [
        '{"execute": "send-key", "arguments": {"keys": [{"type": "qcode", "data": "ctrl"}, {"type": "qcode", "data": "toString"}]}, "id": 14}',
        /'keys\[1\]\.data' does not accept value 'toString'/,
      ],
      [
        '{"execute": "send-key", "arguments": {"keys": [{"type": "qcode", "data": "ctrl"}]}, "id": 15}',
        /the VM has no keyboard: start it with --keyboard/,
      ],
      ['\u0000\u00ff garbage \u0001', /JSON parse error/],
    ];
    raw.send(cases.map(([line]) => `${line}\n`).join(''));
    const replies = await raw.replies(cases.length);
    replies.forEach((r, i) => {
      const [line, desc, cls] = cases[i]!;
      const err = r.error as { class: string; desc: string } | undefined;
      assert.ok(err, `${line} → ${JSON.stringify(r)}`);
      assert.match(err.desc, desc, line);
      assert.equal(err.class, cls ?? 'GenericError', line);
    });
    assert.equal(replies[7]!.id, 'x', 'the id comes back even on errors');
    // Still a working connection, and blank lines are ignored.
    raw.send('\n  \n{"execute": "query-status", "id": {"any": ["json"]}}\n');
    const [ok] = await raw.replies(1);
    assert.deepEqual(ok, { return: { running: true, status: 'running', singlestep: false }, id: { any: ['json'] } });
    raw.close();
  });

  it('survives a line longer than the limit: one error, then business as usual', async () => {
    const raw = await RawClient.open(sock);
    raw.send(Buffer.alloc(17 << 20, 0x61));
    raw.send('\n{"execute": "query-status", "id": 1}\n');
    const [tooLong, ok] = await raw.replies(2, 30_000);
    assert.match((tooLong!.error as { desc: string }).desc, /too long/);
    assert.equal(ok!.id, 1);
    raw.close();
  });

  it('serves two clients at once without mixing their replies, and sends events to both', async () => {
    const a = await QmpClient.connect(sock);
    const b = await QmpClient.connect(sock);
    const [ea, eb] = [new EventLog(a), new EventLog(b)];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).execute<{ status: string }>(i % 5 === 0 ? 'query-stats' : 'query-status'),
      ),
    );
    results.forEach((r, i) => assert.ok(i % 5 === 0 ? 'instructions' in r : r.status === 'running', JSON.stringify(r)));
    await a.execute('stop');
    await Promise.all([ea.next('STOP'), eb.next('STOP')]);
    await b.execute('cont');
    await Promise.all([ea.next('RESUME'), eb.next('RESUME')]);
    a.close();
    b.close();
  });

  it('stop freezes the guest and its time; cont resumes where it was', async () => {
    const events = new EventLog(qmp);
    await qmp.execute('stop');
    const ev = await events.next('STOP');
    assert.ok(ev.timestamp && ev.timestamp.seconds > 1.6e9 && ev.timestamp.microseconds < 1e6);
    assert.deepEqual(await qmp.execute('query-status'), { running: false, status: 'paused', singlestep: false });
    const before = ticks(vm.out);
    await sleep(1000);
    assert.equal(ticks(vm.out), before, 'no ticks while stopped');
    await qmp.execute('stop'); // stopping a stopped VM is fine
    await qmp.execute('cont');
    await events.next('RESUME');
    // Guest time did not jump by the second it was stopped: ticks come one by one, not as a burst.
    await vm.waitOut((o) => ticks(o) >= before + 1);
    await sleep(250);
    assert.ok(ticks(vm.out) <= before + 5, `${ticks(vm.out) - before} ticks within 250 ms of cont`);
  });

  it('reports stats: instructions, MIPS over the last second, RSS', async () => {
    await sleep(1100);
    const s = await qmp.execute<Record<string, number | boolean>>('query-stats');
    assert.ok((s.instructions as number) > 0);
    assert.ok((s.mips as number) >= 0 && (s.mips_interval_ms as number) > 900, JSON.stringify(s));
    assert.ok((s.rss_bytes as number) > 16 << 20);
    assert.equal(s.guest_memory_bytes, 16 << 20);
    assert.equal(s.dirty_log_active, false);
    const hmp = await qmp.execute<string>('human-monitor-command', { 'command-line': 'info status' });
    assert.match(hmp, /VM status: running/);
  });

  it('system_reset restarts the guest with a RESET event', async () => {
    const events = new EventLog(qmp);
    const starts = (vm.out.match(/ticker: start/g) ?? []).length;
    await qmp.execute('system_reset');
    assert.deepEqual((await events.next('RESET')).data, { guest: false, reason: 'host-qmp-system-reset' });
    await vm.waitOut((o) => (o.match(/ticker: start/g) ?? []).length > starts);
  });

  it('quit: a reply, a SHUTDOWN event, exit status 0 and no socket file left', async () => {
    const events = new EventLog(qmp);
    assert.deepEqual(await qmp.execute('quit'), {});
    assert.deepEqual((await events.next('SHUTDOWN')).data, { guest: false, reason: 'host-qmp-quit' });
    assert.deepEqual(await vm.exited, { code: 0, signal: null });
    assert.equal(existsSync(sock), false);
  });

  it('kill -9 is a signal exit for the parent; the stale socket is replaced by the next VM', async () => {
    const v = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', '--console', 'none'], { control: sock });
    (await v.qmp()).close();
    v.kill('SIGKILL');
    assert.deepEqual(await v.exited, { code: null, signal: 'SIGKILL' });
    assert.ok(lstatSync(sock).isSocket(), 'kill -9 leaves the socket file');
    const next = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', '--console', 'none'], {
      control: sock,
    });
    const c = await next.qmp();
    assert.equal((await c.execute<{ status: string }>('query-status')).status, 'running');
    // A live socket is never taken over.
    const thief = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', '--console', 'none'], {
      control: sock,
    });
    assert.deepEqual(await thief.exited, { code: 1, signal: null });
    assert.match(thief.err, /control socket .* is in use by another process/);
    // SIGTERM from a supervisor: a clean shutdown.
    const events = new EventLog(c);
    next.kill('SIGTERM');
    assert.deepEqual((await events.next('SHUTDOWN')).data, { guest: false, reason: 'host-signal' });
    assert.deepEqual(await next.exited, { code: 0, signal: null });
    assert.equal(existsSync(sock), false);
  });

  it('refuses to start on a path that is not a socket, and on bad flags, with status 1', async () => {
    const plain = fileIn(tmp.dir, 'plain-file', Buffer.from('keep me'));
    const v = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', '--console', 'none'], {
      control: plain,
    });
    assert.deepEqual(await v.exited, { code: 1, signal: null });
    assert.match(v.err, /exists and is not a socket/);
    assert.ok(existsSync(plain));
    for (const [flags, msg] of [
      [['--disk', 'x.img,format=vmdk'], /unknown option 'format=vmdk'/],
      [['--net', 'link=unix:/tmp/x'], /mac=.* is required/],
      [['--net', 'mac=01:00:00:00:00:01'], /multicast/],
      [['--console', 'tty'], /--console must be stdio or none/],
      [['--incoming', 'defer'], /--incoming defer needs --control/],
      [['--disk', join(tmp.dir, 'missing.qcow2')], /missing\.qcow2.*not found/],
    ] as [string[], RegExp][]) {
      const bad = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', '--console', 'none', ...flags]);
      assert.deepEqual(await bad.exited, { code: 1, signal: null }, flags.join(' '));
      assert.match(bad.err, msg, flags.join(' '));
    }
  });

  it('a process waiting for loadvm is inmigrate and refuses cont and savevm', async () => {
    const v = startVm(
      ['--bios', 'none', '--kernel', kernel, '--memory', '16', '--console', 'none', '--incoming', 'defer'],
      { control: sock },
    );
    const c = await v.qmp();
    assert.deepEqual(await c.execute('query-status'), { running: false, status: 'inmigrate', singlestep: false });
    await assert.rejects(c.execute('cont'), (e: QmpError) => /loadvm/.test(e.message));
    await assert.rejects(c.execute('savevm', { path: join(tmp.dir, 'nothing') }), /no state yet/);
    await c.execute('quit');
    assert.deepEqual(await v.exited, { code: 0, signal: null });
  });
});
