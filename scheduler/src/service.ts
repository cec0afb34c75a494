// The gRPC Scheduler service: decodes requests, calls the Scheduler, times and counts calls.
import { NoValidHostError, unary, type Logger } from '@hypernova/common';
import type { scheduler as pb } from '@hypernova/proto';
import type { SchedulerMetrics } from './metrics.js';
import { toPlacementRequest } from './request.js';
import type { Scheduler } from './scheduler.js';

export function schedulerServer(
  core: Scheduler,
  opts: { defaultAlternates: number; logger?: Logger; metrics?: SchedulerMetrics },
): pb.SchedulerServer {
  const { logger, metrics } = opts;
  const timed = <Req, Res>(rpc: string, fn: (req: Req) => Promise<Res>) =>
    unary<Req, Res>(async (req) => {
      const end = metrics?.decisionSeconds.startTimer({ rpc });
      try {
        return await fn(req);
      } finally {
        end?.();
      }
    }, logger);

  return {
    selectDestinations: timed('SelectDestinations', async (req: pb.SelectDestinationsRequest) => {
      try {
        const selections = await core.selectDestinations(
          toPlacementRequest(req.spec, opts.defaultAlternates),
          req.consumerUuid || undefined,
        );
        metrics?.decisions.inc({ result: 'selected' });
        return { selections };
      } catch (err) {
        metrics?.decisions.inc({ result: err instanceof NoValidHostError ? 'no_valid_host' : 'error' });
        throw err;
      }
    }),
    claimOnHost: timed('ClaimOnHost', (req: pb.ClaimOnHostRequest) =>
      core.claimOnHost(toPlacementRequest(req.spec, 0), req.host, req.consumerUuid || undefined),
    ),
    releaseAllocation: timed('ReleaseAllocation', async (req: pb.ReleaseAllocationRequest) => {
      const r = await core.release(req.consumerUuid);
      return { released: r.released, host: r.host ?? '' };
    }),
    moveAllocation: timed('MoveAllocation', async (req: pb.MoveAllocationRequest) => {
      const r = await core.move(req.fromConsumer, req.toConsumer);
      return { moved: r.moved, host: r.host ?? '' };
    }),
  };
}
