// A VM process for the kill -9 test: runs the Linux guest on a Machine with the given disks
// (virtio-blk, in order) and copies its console to stdout, until the guest powers off or the
// parent kills it.
//
// Usage: node vm-child.js APPEND DISK...
import { openDisk } from '../../src/block/index.js';
import { VirtioBlk } from '../../src/devices/virtio/index.js';
import { runGuest } from '../../testing/guest.js';

const [append, ...disks] = process.argv.slice(2);
if (!append || disks.length === 0) throw new Error('usage: vm-child APPEND DISK...');
const run = await runGuest({
  append,
  devices: disks.map((d) => new VirtioBlk(openDisk(d))),
  timeoutMs: 300_000,
  onOutput: (text) => process.stdout.write(text),
});
process.exitCode = run.timedOut ? 2 : 0;
