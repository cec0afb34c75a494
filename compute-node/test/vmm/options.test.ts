// The `vm run` flags: what the agent and people type, parsed exactly, with clear refusals.
import { strict as assert } from 'node:assert';
import { parseDiskSpec, parseNetSpec, parseVmArgs, UsageError } from '../../src/vmm/options.js';

describe('vm run flags', () => {
  it('takes disks with a format and read-only flag, in order', () => {
    assert.deepEqual(parseDiskSpec('a.qcow2'), { path: 'a.qcow2', readOnly: false });
    assert.deepEqual(parseDiskSpec('/x/b.img,format=raw,readonly'), {
      path: '/x/b.img',
      format: 'raw',
      readOnly: true,
    });
    assert.deepEqual(parseDiskSpec('file=c.qcow2,format=qcow2,readonly=off'), {
      path: 'c.qcow2',
      format: 'qcow2',
      readOnly: false,
    });
    const o = parseVmArgs(['--kernel', 'k', '--disk', 'one.raw', '--disk', 'two.qcow2,readonly']);
    assert.deepEqual(
      o.disks.map((d) => d.path),
      ['one.raw', 'two.qcow2'],
    );
  });

  it('takes NICs with a MAC and an optional socket link', () => {
    assert.deepEqual(parseNetSpec('mac=52:54:00:12:34:56'), { mac: '52:54:00:12:34:56', link: undefined });
    assert.deepEqual(parseNetSpec('mac=52:54:00:12:34:56,link=unix:/run/hub.sock'), {
      mac: '52:54:00:12:34:56',
      link: { path: '/run/hub.sock', listen: false },
    });
    assert.deepEqual(parseNetSpec('link=unix:p.sock,listen,mac=52:54:00:00:00:01'), {
      mac: '52:54:00:00:00:01',
      link: { path: 'p.sock', listen: true },
    });
  });

  it('has the defaults a plain `vm run --kernel K` needs', () => {
    const o = parseVmArgs(['--kernel', 'k']);
    assert.equal(o.memoryMiB, 128);
    assert.equal(o.bios, 'builtin');
    assert.equal(o.console, 'stdio');
    assert.equal(o.rng, false);
    assert.equal(o.keyboard, false);
    assert.equal(o.paused, false);
    assert.equal(o.control, undefined);
    assert.equal(o.incoming, undefined);
    const full = parseVmArgs([
      '--kernel',
      'k',
      '--rng',
      '--keyboard',
      '--control',
      'unix:/s',
      '--incoming',
      'defer',
      '--name',
      'vm1',
      '--console',
      'none',
      '--serial-log',
      'l',
    ]);
    assert.deepEqual(
      [full.rng, full.keyboard, full.control, full.incoming, full.name, full.console, full.serialLog],
      [true, true, '/s', { kind: 'defer' }, 'vm1', 'none', 'l'],
    );
    assert.deepEqual(parseVmArgs(['--kernel', 'k', '--incoming', '/state']).incoming, { kind: 'file', path: '/state' });
  });

  it('refuses what it cannot honour, saying why', () => {
    const bad: [string[], RegExp][] = [
      [[], /--kernel is required/],
      [['--kernel', 'k', '--memory', '1.5'], /whole number of MiB/],
      [['--kernel', 'k', '--disk', 'format=raw'], /first item must be the image path/],
      [['--kernel', 'k', '--disk', 'a,cache=none'], /unknown option 'cache=none'/],
      [['--kernel', 'k', '--net', 'mac=52:54:00:12:34:56,link=tcp:1.2.3.4:5'], /link must be unix:PATH/],
      [['--kernel', 'k', '--net', 'mac=52:54:00:12:34:56,listen'], /listen needs link/],
      [['--kernel', 'k', '--control', '/s'], /--control must be unix:PATH/],
      [['--kernel', 'k', '--control', 'unix:'], /needs a path/],
      [['--kernel', 'k', '--bogus'], /Unknown option '--bogus'/],
      [
        ['--kernel', 'k', ...Array.from({ length: 9 }, (_, i) => ['--disk', `d${i}`]).flat()],
        /9 virtio devices.*8 slots/,
      ],
      [
        ['--kernel', 'k', '--keyboard', '--rng', ...Array.from({ length: 7 }, (_, i) => ['--disk', `d${i}`]).flat()],
        /9 virtio devices.*8 slots/,
      ],
    ];
    for (const [argv, msg] of bad)
      assert.throws(
        () => parseVmArgs(argv),
        (e: Error) => e instanceof UsageError && msg.test(e.message),
        argv.join(' '),
      );
  });
});
