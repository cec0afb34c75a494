// Integer ids for hosts, which os-hypervisors and os-services show below microversion 2.53: given
// on first sight and kept in Redis, so they are stable across gateways and restarts.
import { redisKeys, type Redis } from '@hypernova/common';

export class HostIds {
  constructor(private readonly redis: Redis) {}

  async idOf(host: string): Promise<number> {
    const known = await this.redis.hget(redisKeys.hostIds(), host);
    if (known) return Number(known);
    const fresh = await this.redis.incr(redisKeys.seq('host'));
    await this.redis.hsetnx(redisKeys.hostIds(), host, String(fresh));
    // Another gateway may have won the race with its own number: use whichever was stored.
    return Number(await this.redis.hget(redisKeys.hostIds(), host));
  }

  async ids(hosts: readonly string[]): Promise<Map<string, number>> {
    return new Map(await Promise.all(hosts.map(async (h) => [h, await this.idOf(h)] as const)));
  }
}
