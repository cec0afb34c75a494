// Nova v2.1 server group bodies (policies as a list until 2.64).
import type { ServerGroup } from '../server-groups.js';

export const serverGroupView = (g: ServerGroup, members: string[]) => ({
  id: g.id,
  name: g.name,
  policies: [g.policy],
  members,
  metadata: {},
});
