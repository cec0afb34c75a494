// The dirty log through the control protocol, against a guest whose writes are known exactly:
// stores by the CPU in phase 1, a virtio-blk read (device DMA into guest RAM) in phase 2. The
// guest is driven through a `console` connection, which is tested on the way.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { fileIn, killAll, sleep, startVm, tempDir } from '../../testing/harness.js';
import { CPU_PAGES, DMA_PAGES, dirtierElf } from './programs.js';

describe('VM process dirty log', function () {
  this.timeout(120_000);
  const tmp = tempDir('dirty');
  after(() => {
    killAll();
    tmp.remove();
  });

  it('reports exactly the pages the CPU stores to and the pages virtio-blk reads land in', async () => {
    const kernel = fileIn(tmp.dir, 'dirtier.elf', dirtierElf());
    const disk = fileIn(tmp.dir, 'disk.raw', Buffer.alloc(64 << 10, 0xa5));
    const sock = join(tmp.dir, 'vm.sock');
    const vm = startVm(
      ['--bios', 'none', '--kernel', kernel, '--memory', '64', '--console', 'none', '--disk', `${disk},format=raw`],
      { control: sock },
    );
    const qmp = await vm.qmp();
    const con = await vm.qmp();
    const { socket, initial } = await con.console();
    let seen = initial.toString('latin1');
    socket.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    const until = async (text: string): Promise<void> => {
      for (let t = 0; !seen.includes(text); t++) {
        if (t > 500) throw new Error(`no '${text}' on the console: ${seen}`);
        await sleep(20);
      }
    };
    const fetch = async (): Promise<number[]> => (await qmp.execute<{ pages: number[] }>('dirty-log-fetch')).pages;

    await qmp.execute('dirty-log-start');
    await sleep(200); // the guest spins on the UART: it writes nothing
    assert.deepEqual(await fetch(), [], 'an idle guest polling the UART dirties nothing');

    socket.write('1');
    await until('phase1');
    assert.deepEqual(await fetch(), CPU_PAGES, 'CPU stores');
    assert.deepEqual(await fetch(), [], 'a fetch clears the log');

    socket.write('2');
    await until('phase2 status 00000000');
    assert.deepEqual(
      await fetch(),
      [...DMA_PAGES.data, DMA_PAGES.status, DMA_PAGES.used].sort((x, y) => x - y),
      'virtio-blk DMA',
    );

    const stats = await qmp.execute<{ dirty_pages_total: number; dirty_log_active: boolean }>('query-stats');
    assert.equal(stats.dirty_pages_total, CPU_PAGES.length + 5);
    assert.equal(stats.dirty_log_active, true);
    await qmp.execute('dirty-log-stop');
    await assert.rejects(fetch(), /not active/);
    socket.destroy();
    await qmp.execute('quit');
    assert.equal((await vm.exited).code, 0);
  });
});
