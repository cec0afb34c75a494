// Keystone tokens: opaque random strings; Redis keeps each token's data under its SHA-256 with
// the token's lifetime as TTL, so a token expires by itself and a dump of Redis holds no usable
// token. Like Keystone's Fernet tokens, validation re-reads the user, project and roles, so a
// deleted user, disabled project or revoked role takes effect at once; and like Keystone's
// revocation events, a per-user epoch revokes every token of a user in one write (disabled,
// password changed, a role assignment removed).
import { createHash, randomBytes } from 'node:crypto';
import { redisKeys, type Redis } from '@hypernova/common';
import type { Domain, IdentityStore, Project, Role, User } from './store.js';

/** What Redis stores per token. */
interface StoredToken {
  userId: string;
  projectId?: string;
  methods: string[];
  issuedAt: string;
  expiresAt: string;
  auditId: string;
  /** The user's token epoch at issue; absent in tokens issued before epochs existed (epoch 0). */
  epoch?: number;
}

/** A valid token with everything it stands for, as routes and policy need it. */
export interface TokenContext {
  token: string;
  user: User;
  userDomain: Domain;
  project?: Project;
  projectDomain?: Domain;
  roles: Role[];
  methods: string[];
  issuedAt: string;
  expiresAt: string;
  auditId: string;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class TokenService {
  constructor(
    private readonly redis: Redis,
    private readonly identity: IdentityStore,
    private readonly ttlS: number,
  ) {}

  /**
   * Issues a token for the user, scoped to the project when given; returns the token and its
   * context. A token made from another token (rescoping) expires with it, as in Keystone.
   */
  async issue(user: User, project: Project | undefined, methods: string[], from?: TokenContext): Promise<TokenContext> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const expires = Math.min(now + this.ttlS * 1000, from ? Date.parse(from.expiresAt) : Infinity);
    const stored: StoredToken = {
      userId: user.id,
      projectId: project?.id,
      methods,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(expires).toISOString(),
      auditId: randomBytes(16).toString('base64url').slice(0, 22),
      epoch: await this.identity.tokenEpoch(user.id),
    };
    const ttlMs = Math.max(1, expires - now);
    await this.redis.set(redisKeys.token(digest(token)), JSON.stringify(stored), 'PX', ttlMs);
    const ctx = await this.context(token, stored);
    if (!ctx) throw new Error('token issued for an identity that vanished');
    return ctx;
  }

  /** The token's context; undefined when it is unknown, expired or no longer backed by its identity. */
  async validate(token: string | undefined): Promise<TokenContext | undefined> {
    if (!token || token.length > 512) return undefined;
    const raw = await this.redis.get(redisKeys.token(digest(token)));
    if (!raw) return undefined;
    const stored = JSON.parse(raw) as StoredToken;
    if (Date.parse(stored.expiresAt) <= Date.now()) return undefined;
    return this.context(token, stored);
  }

  /** Revokes the token; false when it was not valid. */
  async revoke(token: string): Promise<boolean> {
    return (await this.redis.del(redisKeys.token(digest(token)))) === 1;
  }

  private async context(token: string, s: StoredToken): Promise<TokenContext | undefined> {
    const [user, epoch] = await Promise.all([this.identity.users.get(s.userId), this.identity.tokenEpoch(s.userId)]);
    if (!user?.enabled || (s.epoch ?? 0) !== epoch) return undefined;
    const userDomain = await this.identity.domains.get(user.domainId);
    if (!userDomain?.enabled) return undefined;
    const base = {
      token,
      user,
      userDomain,
      methods: s.methods,
      issuedAt: s.issuedAt,
      expiresAt: s.expiresAt,
      auditId: s.auditId,
    };
    if (!s.projectId) return { ...base, roles: [] };
    const project = await this.identity.projects.get(s.projectId);
    if (!project?.enabled) return undefined;
    const projectDomain = await this.identity.domains.get(project.domainId);
    if (!projectDomain?.enabled) return undefined;
    const roles = await this.identity.effectiveRoles(project.id, user.id);
    if (roles.length === 0) return undefined;
    return { ...base, project, projectDomain, roles };
  }
}
