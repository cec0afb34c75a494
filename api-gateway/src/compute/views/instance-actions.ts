// Nova v2.1 instance action bodies (events only for whom the events policy allows; times as
// Nova's "2018-04-25T01:26:29.000000").
import type { ActionEvent, InstanceAction } from '../instance-actions.js';
import { isoMicros } from './links.js';

export const instanceActionView = (a: InstanceAction) => ({
  action: a.action,
  instance_uuid: a.instanceUuid,
  message: a.message,
  project_id: a.projectId,
  request_id: a.requestId,
  start_time: isoMicros(a.startTime),
  user_id: a.userId,
});

const eventView = (e: ActionEvent) => ({
  event: e.event,
  start_time: isoMicros(e.startTime),
  finish_time: e.finishTime ? isoMicros(e.finishTime) : null,
  result: e.result,
  traceback: e.traceback,
});

export const instanceActionDetail = (a: InstanceAction, withEvents: boolean) => ({
  ...instanceActionView(a),
  ...(withEvents ? { events: a.events.map(eventView) } : {}),
});
