// Nova v2.1 server group bodies (policies as a list until 2.64; project_id and user_id from 2.13).
import type { Microversion } from '../microversion.js';
import type { ServerGroup } from '../server-groups.js';

export const serverGroupView = (g: ServerGroup, members: string[], mv: Microversion) => ({
  id: g.id,
  name: g.name,
  policies: [g.policy],
  members,
  metadata: {},
  ...(mv.atLeast(13) ? { project_id: g.projectId, user_id: g.userId } : {}),
});
