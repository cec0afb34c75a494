// Server groups (Nova's instance groups): a policy that the scheduler enforces for the group's
// members (the os:scheduler_hints "group" of a create). A create counts the project's groups
// against its server_groups quota and writes in one Lua script.
import { randomUUID } from 'node:crypto';
import { RedisScript, redisKeys, type Redis } from '@hypernova/common';
import { scheduler } from '@hypernova/proto';
import { overQuota } from './quota.js';

export type GroupPolicyName = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface ServerGroup {
  id: string;
  name: string;
  policy: GroupPolicyName;
  projectId: string;
  userId: string;
  createdAt: string;
}

export const POLICY_TO_PROTO: Record<GroupPolicyName, scheduler.GroupPolicy> = {
  affinity: scheduler.GroupPolicy.GROUP_POLICY_AFFINITY,
  'anti-affinity': scheduler.GroupPolicy.GROUP_POLICY_ANTI_AFFINITY,
  'soft-affinity': scheduler.GroupPolicy.GROUP_POLICY_SOFT_AFFINITY,
  'soft-anti-affinity': scheduler.GroupPolicy.GROUP_POLICY_SOFT_ANTI_AFFINITY,
};

// KEYS: 1 the server group hash. ARGV: 1 id, 2 JSON group, 3 project, 4 quota limit (-1: none).
const CREATE = new RedisScript(`
local limit = tonumber(ARGV[4])
if limit >= 0 then
  local n = 0
  for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
    if cjson.decode(raw).projectId == ARGV[3] then n = n + 1 end
  end
  if n >= limit then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

export class ServerGroupStore {
  constructor(private readonly redis: Redis) {}

  /** Stores a new group unless its project already has `limit` groups (Nova's 403). */
  async create(g: Omit<ServerGroup, 'id' | 'createdAt'>, limit: number): Promise<ServerGroup> {
    const group: ServerGroup = { ...g, id: randomUUID(), createdAt: new Date().toISOString() };
    const ok = await CREATE.run(
      this.redis,
      [redisKeys.serverGroups()],
      [group.id, JSON.stringify(group), g.projectId, limit],
    );
    if (ok !== 1) throw overQuota('server groups');
    return group;
  }

  /** How many groups the project has. */
  async countOf(projectId: string): Promise<number> {
    return (await this.list()).filter((g) => g.projectId === projectId).length;
  }

  async get(id: string): Promise<ServerGroup | undefined> {
    const raw = await this.redis.hget(redisKeys.serverGroups(), id);
    return raw ? (JSON.parse(raw) as ServerGroup) : undefined;
  }

  async list(): Promise<ServerGroup[]> {
    const all = (await this.redis.hvals(redisKeys.serverGroups())).map((raw) => JSON.parse(raw) as ServerGroup);
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async delete(id: string): Promise<boolean> {
    return (await this.redis.hdel(redisKeys.serverGroups(), id)) === 1;
  }
}
