// Server groups (Nova's instance groups): a policy that the scheduler enforces for the group's
// members (the os:scheduler_hints "group" of a create).
import { randomUUID } from 'node:crypto';
import { redisKeys, type Redis } from '@hypernova/common';
import { scheduler } from '@hypernova/proto';

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

export class ServerGroupStore {
  constructor(private readonly redis: Redis) {}

  async create(g: Omit<ServerGroup, 'id' | 'createdAt'>): Promise<ServerGroup> {
    const group: ServerGroup = { ...g, id: randomUUID(), createdAt: new Date().toISOString() };
    await this.redis.hset(redisKeys.serverGroups(), group.id, JSON.stringify(group));
    return group;
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
