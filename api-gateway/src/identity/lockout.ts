// Failed-login throttling with Keystone's lockout_failure_attempts / lockout_duration semantics:
// after N failed password logins in a row, a user is locked for the duration (counted from the
// last failure), even with the right password; a successful login resets the count. Unknown
// user names are counted the same way, so a lockout never tells whether a user exists. A second,
// larger budget per source address slows down guessing across many names.
import { createHash } from 'node:crypto';
import { redisKeys, type Redis } from '@hypernova/common';

export interface LockoutOptions {
  /** Failures before a user (or name) is locked; 0 turns the lockout off. */
  attempts: number;
  /** Failures before an address is locked; 0 turns it off. */
  addressAttempts: number;
  durationS: number;
}

/** A Redis-safe key part for anything a client sends. */
const keyPart = (s: string) => createHash('sha256').update(s).digest('base64url');

export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly opts: LockoutOptions,
  ) {}

  /** Whether logins of `subject` (a user id, or the name an unknown user was asked by) from `address` are refused now. */
  async locked(subject: string, address: string): Promise<boolean> {
    const [user, from] = await this.redis.mget(
      redisKeys.loginFailures(keyPart(subject)),
      redisKeys.loginFailuresFrom(keyPart(address)),
    );
    return (
      (this.opts.attempts > 0 && Number(user ?? 0) >= this.opts.attempts) ||
      (this.opts.addressAttempts > 0 && Number(from ?? 0) >= this.opts.addressAttempts)
    );
  }

  /** Counts a failed login; `subject` is undefined for attempts refused by a lockout (not counted again). */
  async failed(subject: string | undefined, address: string): Promise<void> {
    const m = this.redis.multi();
    const keys = [redisKeys.loginFailuresFrom(keyPart(address))];
    if (subject !== undefined) keys.push(redisKeys.loginFailures(keyPart(subject)));
    for (const key of keys) m.incr(key).expire(key, this.opts.durationS);
    await m.exec();
  }

  async succeeded(subject: string): Promise<void> {
    await this.redis.del(redisKeys.loginFailures(keyPart(subject)));
  }
}
