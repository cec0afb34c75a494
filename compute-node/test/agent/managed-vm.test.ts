// ManagedVm against the stand-in VM process: life-cycle calls over the control socket,
// supervision (kill -9, guest power-off), and adoption of a running VM by a fresh object, as
// a restarted agent does.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@hypernova/common';
import { PowerState } from '@hypernova/cluster-state';
import { readConsoleTail, openConsole } from '../../src/agent/console.js';
import { InstanceDir, listInstanceDirs, type InstanceMeta } from '../../src/agent/instance-dir.js';
import { ManagedVm, type VmEnvironment } from '../../src/agent/managed-vm.js';
import { QmpClient } from '../../src/agent/qmp-client.js';
import type { ObservedChange } from '../../src/agent/reporter.js';
import { isVmAlive } from '../../src/agent/vm-process.js';
import { FAKE_VM_COMMAND } from './fake-vm-command.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('compute agent: ManagedVm (stand-in VM process)', function () {
  this.timeout(20_000);
  let root: string;
  let observed: { uuid: string; change: ObservedChange }[];
  const vms: ManagedVm[] = [];

  function env(extra: Partial<VmEnvironment> = {}): VmEnvironment {
    return {
      host: 'node-t',
      vmCommand: FAKE_VM_COMMAND,
      vmStartTimeoutMs: 5000,
      cleanShutdownTimeoutS: 1,
      logger: createLogger('test', { level: 'silent' }),
      onObserved: (vm, change) => observed.push({ uuid: vm.uuid, change }),
      onIncomingSettled: () => undefined,
      ...extra,
    };
  }

  function newVm(uuid = '11111111-2222-3333-4444-555555555555', e = env()): ManagedVm {
    const dir = new InstanceDir(join(root, uuid));
    dir.create();
    writeFileSync(join(root, 'kernel'), 'kernel');
    const meta: InstanceMeta = {
      uuid,
      name: 'vm-test',
      projectId: 'p',
      flavor: { id: '1', name: 'm1.tiny', vcpus: 1, ramMb: 64, diskGb: 1 },
      imageId: 'img',
      kernel: join(root, 'kernel'),
      append: 'console=ttyS0',
      state: 'shutoff',
      createdAtMs: Date.now(),
      launchedAtMs: 0,
    };
    dir.writeMeta(meta);
    const vm = new ManagedVm(dir, meta, e);
    vms.push(vm);
    return vm;
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hn-mvm-'));
    observed = [];
  });

  afterEach(async () => {
    for (const vm of vms.splice(0)) await vm.destroy().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it('launches a detached VM process and reports it running, with its console log', async () => {
    const vm = newVm();
    await vm.launch();
    const info = vm.info();
    assert.equal(info.powerState, PowerState.POWER_STATE_RUNNING);
    assert.ok(info.pid > 0 && isVmAlive(vm.meta.pid, vm.meta.pidStart));
    assert.ok(vm.meta.pidStart, 'the start time identifies the process');
    await until('BOOT-OK', () => readFileSync(vm.dir.serialLog, 'utf8').includes('heartbeat 1'));
    assert.match(await readConsoleTail(vm.dir.serialLog), /BOOT-OK/);
    assert.match(readFileSync(vm.dir.serialLog, 'utf8'), /memory=64 append=console=ttyS0/);
  });

  it('pauses and unpauses, suspends to a file and resumes from it (guest state carried over)', async () => {
    const vm = newVm();
    await vm.launch();
    await vm.pause();
    assert.equal(vm.info().powerState, PowerState.POWER_STATE_PAUSED);
    await vm.unpause();
    assert.equal(vm.info().powerState, PowerState.POWER_STATE_RUNNING);
    await until('a few heartbeats', () => readFileSync(vm.dir.serialLog, 'utf8').includes('heartbeat 3'));
    const pid = vm.meta.pid;
    await vm.suspend();
    assert.equal(vm.info().powerState, PowerState.POWER_STATE_SUSPENDED);
    assert.ok(!isVmAlive(pid, undefined), 'suspend frees the VM process');
    await vm.resume();
    assert.equal(vm.info().powerState, PowerState.POWER_STATE_RUNNING);
    assert.match(readFileSync(vm.dir.serialLog, 'utf8'), /restored at heartbeat [3-9]/);
    assert.equal(observed.length, 0, 'nothing the agent asked for is reported as observed');
  });

  it('sees a VM process killed with SIGKILL within 2 s and reports a crash', async () => {
    const vm = newVm();
    await vm.launch();
    const started = Date.now();
    process.kill(vm.meta.pid as number, 'SIGKILL');
    await until('the crash report', () => observed.length > 0, 2000);
    assert.ok(Date.now() - started < 2000);
    assert.equal(observed[0].change.kind, 'crashed');
    assert.match((observed[0].change as { fault: string }).fault, /SIGKILL/);
    assert.equal(vm.meta.state, 'crashed');
    assert.equal(vm.dir.readMeta().state, 'crashed', 'the state is persisted');
  });

  it('reports a guest power-off as a shutoff, and a stop it asked for as nothing', async () => {
    {
      // This guest powers off when asked (the flag precedes the VM options).
      const vm = newVm(undefined, env({ vmCommand: [...FAKE_VM_COMMAND, '--guest-poweroff'] }));
      await vm.launch();
      await vm.stop();
      assert.equal(vm.info().powerState, PowerState.POWER_STATE_SHUTDOWN);
      assert.equal(observed.length, 0);
      await vm.start();
      assert.equal(vm.info().powerState, PowerState.POWER_STATE_RUNNING);
      // Someone else asks the guest to power off: the agent did not, so it reports what it sees.
      const other = await QmpClient.connect(vm.dir.controlSocket);
      await other.execute('system_powerdown');
      other.close();
      await until('the shutoff report', () => observed.length > 0, 2000);
      assert.deepEqual(observed[0].change, { kind: 'shutoff' });
      assert.equal(vm.meta.state, 'shutoff');
    }
  });

  it('stops a guest that ignores the power-off request after the timeout', async () => {
    const vm = newVm();
    await vm.launch();
    const t = Date.now();
    await vm.stop(1);
    assert.ok(Date.now() - t >= 900, 'the guest had its chance');
    assert.equal(vm.meta.state, 'shutoff');
    assert.equal(observed.length, 0);
  });

  it('hard reboot replaces the VM process; soft reboot resets a guest that does not power off', async () => {
    const vm = newVm();
    await vm.launch();
    const pid = vm.meta.pid;
    await vm.reboot(true);
    assert.notEqual(vm.meta.pid, pid);
    assert.equal(vm.info().powerState, PowerState.POWER_STATE_RUNNING);
    const pid2 = vm.meta.pid;
    await vm.reboot(false);
    assert.equal(vm.meta.pid, pid2, 'reset in place');
    assert.equal(readFileSync(vm.dir.serialLog, 'utf8').match(/BOOT-OK/g)?.length, 3);
    assert.equal(observed.length, 0);
  });

  it('a fresh ManagedVm adopts the running process (agent restart) and supervises it', async () => {
    const vm = newVm();
    await vm.launch();
    await vm.pause();
    vm.detach();
    const [dir] = listInstanceDirs(root);
    const again = new ManagedVm(dir, dir.readMeta(), env());
    vms.push(again);
    assert.ok(await again.adopt());
    assert.equal(again.info().powerState, PowerState.POWER_STATE_PAUSED, 'paused state read back from the VM');
    assert.equal(again.info().pid, vm.meta.pid);
    process.kill(again.meta.pid as number, 'SIGKILL');
    await until('the crash report', () => observed.length > 0, 2000);
    assert.equal(observed[0].change.kind, 'crashed');
  });

  it('opens the live serial console as a raw byte stream', async () => {
    const vm = newVm();
    await vm.launch();
    const { socket, initial } = await openConsole(vm.dir.controlSocket);
    let got = initial.toString();
    socket.on('data', (b: Buffer) => (got += b.toString()));
    await until('console output', () => /heartbeat \d+/.test(got));
    socket.write('ls\n');
    await until('input reaching the guest', () => readFileSync(vm.dir.serialLog, 'utf8').includes('input: ls'));
    socket.destroy();
  });

  it('reads the console tail by lines', async () => {
    const path = join(root, 'log');
    writeFileSync(path, 'a\nb\nc\n');
    assert.equal(await readConsoleTail(path, 2), 'b\nc\n');
    assert.equal(await readConsoleTail(path, 0), '');
    assert.equal(await readConsoleTail(path), 'a\nb\nc\n');
    assert.equal(await readConsoleTail(join(root, 'missing')), '');
  });
});
