// The hypernova.compute.v1.Compute gRPC service over the ComputeManager.
import { status as grpcStatus, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import { HypernovaError, errorMessage, toGrpcStatus, unary, type Logger } from '@hypernova/common';
import { compute } from '@hypernova/proto';
import { openConsole, readConsoleTail } from './console.js';
import type { LiveMigrations } from './live-migration.js';
import type { ComputeManager } from './manager.js';
import type { ManagedVm } from './managed-vm.js';
import type { Socket } from 'node:net';

export function computeServer(m: ComputeManager, migrations: LiveMigrations, logger: Logger): compute.ComputeServer {
  const act = (operation: string, fn: (vm: ManagedVm, req: compute.InstanceRef) => Promise<void>) =>
    unary<compute.InstanceRef, compute.InstanceInfo>(
      (req) => m.act(req.instanceUuid, operation, (vm) => fn(vm, req)),
      logger,
    );
  return {
    spawn: unary((req: compute.SpawnRequest) => m.spawn(req), logger),
    destroy: unary(async (req: compute.DestroyRequest) => ({ existed: await m.destroy(req.instanceUuid) }), logger),
    reboot: unary(
      (req: compute.RebootRequest) =>
        m.act(req.instanceUuid, 'rebooting', (vm) => vm.reboot(req.type === compute.RebootType.REBOOT_TYPE_HARD)),
      logger,
    ),
    stop: unary(
      (req: compute.StopRequest) => m.act(req.instanceUuid, 'powering-off', (vm) => vm.stop(req.cleanShutdownTimeoutS)),
      logger,
    ),
    start: act('powering-on', (vm) => vm.start()),
    pause: act('pausing', (vm) => vm.pause()),
    unpause: act('unpausing', (vm) => vm.unpause()),
    suspend: act('suspending', (vm) => vm.suspend()),
    resume: act('resuming', (vm) => vm.resume()),
    getConsoleOutput: unary(
      async (req: compute.ConsoleOutputRequest) => ({
        output: await readConsoleTail(m.get(req.instanceUuid).dir.serialLog, req.lines),
      }),
      logger,
    ),
    getInstanceInfo: unary(async (req: compute.InstanceRef) => m.get(req.instanceUuid).info(), logger),
    listInstances: unary(async () => ({ instances: m.list().map((vm) => vm.info()) }), logger),
    streamConsole: (call) => streamConsole(m, call, logger),
    checkCanLiveMigrateDestination: unary(async () => migrations.checkDestination(), logger),
    checkCanLiveMigrateSource: unary(
      async (req: compute.SharedStorageCheckRequest) => migrations.checkSource(req),
      logger,
    ),
    cleanupLiveMigrationCheck: unary(async (req: compute.SharedStorageProbe) => migrations.cleanupCheck(req), logger),
    prepareLiveMigration: unary((req: compute.PrepareLiveMigrationRequest) => migrations.prepare(req), logger),
    liveMigrate: (call) => liveMigrate(migrations, call, logger),
    abortLiveMigration: unary((req: compute.MigrationRef) => migrations.control(req, 'migrate_cancel'), logger),
    forceCompleteLiveMigration: unary(
      (req: compute.MigrationRef) => migrations.control(req, 'migrate-force-complete'),
      logger,
    ),
    rollbackLiveMigration: unary((req: compute.MigrationRef) => migrations.rollback(req), logger),
  };
}

/** Progress reports as they come, the last one being the outcome; then the stream ends. */
function liveMigrate(
  migrations: LiveMigrations,
  call: ServerWritableStream<compute.LiveMigrateRequest, compute.MigrationProgress>,
  logger: Logger,
): void {
  migrations
    .migrate(call.request, (p) => {
      if (!call.cancelled) call.write(p);
    })
    .then(
      () => call.end(),
      (err: unknown) => {
        if (!(err instanceof HypernovaError)) logger.warn({ err: errorMessage(err) }, 'live migration failed');
        call.emit(
          'error',
          err instanceof HypernovaError
            ? toGrpcStatus(err)
            : { code: grpcStatus.FAILED_PRECONDITION, details: errorMessage(err) },
        );
      },
    );
}

/** The first message names the instance; bytes flow both ways until either side ends. */
function streamConsole(
  m: ComputeManager,
  call: ServerDuplexStream<compute.ConsoleInput, compute.ConsoleChunk>,
  logger: Logger,
): void {
  let socket: Socket | undefined;
  const pending: Buffer[] = [];
  const fail = (err: unknown) => {
    if (!(err instanceof HypernovaError)) logger.warn({ err: errorMessage(err) }, 'console stream failed');
    const s =
      err instanceof HypernovaError ? toGrpcStatus(err) : { code: grpcStatus.UNAVAILABLE, details: errorMessage(err) };
    call.emit('error', s);
  };
  let opened = false;
  call.on('data', (msg: compute.ConsoleInput) => {
    if (msg.data.length) {
      if (socket) socket.write(msg.data);
      else pending.push(Buffer.from(msg.data));
    }
    if (opened) return;
    opened = true;
    let vm;
    try {
      vm = m.get(msg.instanceUuid);
    } catch (err) {
      fail(err);
      return;
    }
    openConsole(vm.dir.controlSocket).then(
      (c) => {
        socket = c.socket;
        if (call.cancelled) return socket.destroy();
        if (c.initial.length) call.write({ data: c.initial });
        for (const b of pending.splice(0)) socket.write(b);
        socket.on('data', (data: Buffer) => call.write({ data }));
        socket.on('close', () => call.end());
      },
      (err: unknown) =>
        fail(new HypernovaError('CONFLICT', `console of instance ${msg.instanceUuid}: ${errorMessage(err)}`)),
    );
  });
  const close = () => socket?.destroy();
  call.on('end', close);
  call.on('cancelled', close);
  call.on('error', close);
}
