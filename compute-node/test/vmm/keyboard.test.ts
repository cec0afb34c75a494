// The Linux guest with a virtio-input keyboard (--keyboard), in real VM processes: send-key
// types on it (Alt+SysRq+H makes the kernel print its SysRq help), the keyboard survives
// savevm and a restore in a fresh process, and there system_powerdown presses Ctrl+Alt+Delete,
// which the kernel turns into SIGINT for init: init itself powers off, no SysRq involved.
// A guest that never drives the keyboard (a bare-metal program) gets the SysRq fallback.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { ensureLinuxGuest } from '@hypernova/guest';
import { EventLog, fileIn, killAll, sleep, startVm, tempDir, waitFile } from '../../testing/harness.js';
import { tickerElf } from './programs.js';

const qcodes = (...names: string[]): { keys: { type: string; data: string }[] } => ({
  keys: names.map((data) => ({ type: 'qcode', data })),
});

describe('VM process with a keyboard and the Linux guest', function () {
  this.timeout(600_000);
  const tmp = tempDir('keyboard');
  after(() => {
    killAll();
    tmp.remove();
  });

  it('send-key reaches the kernel, and after a restore system_powerdown makes init power off', async () => {
    const { image } = await ensureLinuxGuest();
    const flags = (log: string): string[] => [
      '--kernel',
      image,
      '--append',
      'console=ttyS0',
      '--memory',
      '64',
      '--keyboard',
      '--console',
      'none',
      '--serial-log',
      log,
    ];
    const [logA, logB, state] = ['a.log', 'b.log', 'kbd.state'].map((f) => join(tmp.dir, f)) as [
      string,
      string,
      string,
    ];

    const a = startVm(flags(logA), { control: join(tmp.dir, 'a.sock') });
    const qa = await a.qmp();
    const boot = await waitFile(logA, (t) => /^heartbeat 1\r?$/m.test(t) && t, 300_000, a);
    assert.match(
      boot,
      /input: Hypernova Virtio Keyboard as \/devices\/platform\/soc\/[0-9a-f]+\.virtio_mmio\/virtio0\/input\/input0/,
    );
    assert.deepEqual(await qa.execute('send-key', qcodes('alt', 'sysrq', 'h')), {});
    await waitFile(logA, (t) => /sysrq: HELP : /.test(t), 30_000, a);
    assert.equal(await qa.execute('human-monitor-command', { 'command-line': 'sendkey alt-sysrq-h' }), '');
    await waitFile(logA, (t) => t.match(/sysrq: HELP : /g)?.length === 2, 30_000, a);
    await qa.execute('stop');
    await qa.execute('savevm', { path: state });
    await qa.execute('quit');
    assert.deepEqual(await a.exited, { code: 0, signal: null });

    const b = startVm([...flags(logB), '--incoming', state], { control: join(tmp.dir, 'b.sock') });
    const qb = await b.qmp();
    const eb = new EventLog(qb);
    await waitFile(logB, (t) => /^heartbeat \d+\r?$/m.test(t), 30_000, b);
    await qb.execute('system_powerdown');
    await eb.next('POWERDOWN');
    assert.deepEqual((await eb.next('SHUTDOWN', 60_000)).data, { guest: true, reason: 'guest-shutdown' });
    assert.deepEqual(await b.exited, { code: 0, signal: null });
    const end = await waitFile(logB, (t) => t, 1000);
    assert.match(end, /^hn: signal 2\r?\n(.*\r?\n)*hn: powering off\r?$/m, 'init got SIGINT and powered off');
    assert.doesNotMatch(end, /sysrq|BOOT-OK|Oops|panic/, 'no SysRq, no reboot');
  });

  it('a guest without a keyboard driver: send-key says so; system_powerdown (the SysRq fallback) leaves it running', async () => {
    const kernel = fileIn(tmp.dir, 'ticker.elf', tickerElf(1_000_000));
    const vm = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', '--keyboard'], {
      control: join(tmp.dir, 'ticker.sock'),
    });
    const q = await vm.qmp();
    const events = new EventLog(q);
    const ticks = (o: string): number => o.match(/^tick /gm)?.length ?? 0;
    await vm.waitOut((o) => ticks(o) >= 2);
    await assert.rejects(q.execute('send-key', qcodes('ctrl', 'alt', 'delete')), /no keyboard driver running/);
    await q.execute('system_powerdown');
    await events.next('POWERDOWN');
    await sleep(500);
    const before = ticks(vm.out);
    await vm.waitOut((o) => ticks(o) > before + 2);
    assert.equal(
      (await q.execute<{ status: string }>('query-status')).status,
      'running',
      'the program ignored the break and runs on',
    );
    await q.execute('quit');
    assert.deepEqual(await vm.exited, { code: 0, signal: null });
  });
});
