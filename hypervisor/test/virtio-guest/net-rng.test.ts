// Two Linux guests in one process, each with virtio-net on one in-process L2 switch and a
// virtio-rng: they exchange raw Ethernet frames (guest/init/nettest.c) and read entropy
// from /dev/hwrng (rngtest.c). One boot of each serves both checks.
import assert from 'node:assert/strict';
import { L2Switch, VirtioNet, VirtioRng } from '../../src/devices/virtio/index.js';
import { initramfsAppend, lineOf, runGuest, type GuestRun } from '../../testing/guest.js';

const MACS = ['52:54:00:4e:00:01', '52:54:00:4e:00:02'];
const FRAMES = 64;
const RNG_BYTES = 8192;

describe('virtio-net and virtio-rng with two Linux guests', function () {
  this.timeout(600_000);
  const sw = new L2Switch();
  const nics = MACS.map((mac) => new VirtioNet({ mac, backend: sw.connect() }));
  // A third port sees floods (broadcasts, unknown destinations) but no unicast between known MACs.
  const tap = sw.connect();
  let runs: GuestRun[] = [];

  before(async () => {
    const append = initramfsAppend(`/bin/rngtest,${RNG_BYTES}`, `/bin/nettest,eth0,${FRAMES},120`);
    runs = await Promise.all(
      nics.map((nic) => runGuest({ append, devices: [nic, new VirtioRng()], timeoutMs: 300_000 })),
    );
    for (const r of runs) assert.ok(!r.timedOut, r.log);
  });

  it('the two guests exchange every frame over virtio-net, broadcast first and then unicast', () => {
    runs.forEach((r, i) => {
      const [, sent, received, bad] = lineOf(
        r.log,
        new RegExp(`NET-OK mac=${MACS[i]} peer=${MACS[1 - i]} count=${FRAMES} sent=(\\d+) received=(\\d+) bad=(\\d+)`),
      );
      assert.equal(Number(bad), 0, r.log);
      assert.ok(Number(received) >= FRAMES, r.log);
      assert.ok(Number(sent) >= FRAMES, r.log);
      lineOf(r.log, /hn: run \/bin\/nettest exit 0/);
    });
    // Every frame went through the switch: what one side sent, the other's port was given.
    const [a, b] = nics.map((n) => n.backend as ReturnType<L2Switch['connect']>);
    assert.ok(a!.sent > 0 && b!.sent > 0);
    assert.equal(a!.received, b!.sent);
    assert.equal(b!.received, a!.sent);
    assert.ok(tap.received > 0, 'no broadcast frames');
    assert.ok(tap.received < a!.sent + b!.sent, 'no unicast frames');
  });

  it('each guest reads entropy from /dev/hwrng, served by virtio-rng', () => {
    const firsts = runs.map((r) => {
      lineOf(r.log, /rngtest: current rng virtio_rng\.0/);
      const [, distinct, ones, first] = lineOf(
        r.log,
        new RegExp(`RNG-OK bytes=${RNG_BYTES} distinct=(\\d+) ones=(\\d+) fnv=[0-9a-f]{8} first=([0-9a-f]{32})`),
      );
      // 8 KiB of random bytes: all 256 values but with probability ~1e-10; half the bits set, within ~10 sigma.
      assert.ok(Number(distinct) >= 250, `distinct byte values: ${distinct}`);
      const bits = RNG_BYTES * 8;
      assert.ok(Math.abs(Number(ones) - bits / 2) < bits * 0.02, `${ones} of ${bits} bits set`);
      return first;
    });
    assert.notEqual(firsts[0], firsts[1], 'both guests read the same bytes');
  });
});
