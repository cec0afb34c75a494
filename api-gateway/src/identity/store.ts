// Keystone's identity and assignment data in Redis: domains, projects, users, roles (one JSON
// hash per kind plus a name index unique per domain) and role assignments (user x project ->
// role ids). Several gateways may share it: name uniqueness is claimed with HSETNX.
import { randomUUID } from 'node:crypto';
import { redisKeys, type Redis } from '@hypernova/common';
import { ApiError, conflict } from '../http/errors.js';

export interface Domain {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
}

export interface Project {
  id: string;
  name: string;
  domainId: string;
  description: string;
  enabled: boolean;
}

export interface User {
  id: string;
  name: string;
  domainId: string;
  enabled: boolean;
  passwordHash: string;
  defaultProjectId?: string;
  email?: string;
  description?: string;
}

export interface Role {
  id: string;
  name: string;
  description: string;
}

export interface Assignment {
  projectId: string;
  userId: string;
  roleId: string;
}

export const DEFAULT_DOMAIN_ID = 'default';

/** Keystone's default implied roles (keystone-manage bootstrap): admin ⇒ member ⇒ reader. */
export const IMPLIED_ROLES: Readonly<Record<string, readonly string[]>> = { admin: ['member'], member: ['reader'] };

type Kind = 'domains' | 'projects' | 'users' | 'roles';
const SINGULAR: Record<Kind, string> = { domains: 'domain', projects: 'project', users: 'user', roles: 'role' };

/** One kind of entity: a JSON hash by id and a "<scope>/<name>" -> id index. */
export class Table<T extends { id: string; name: string }> {
  constructor(
    private readonly redis: Redis,
    private readonly kind: Kind,
    /** The scope names are unique in (the domain id; '' for domains and roles). */
    private readonly scopeOf: (e: T) => string,
  ) {}

  private nameKey(scope: string, name: string): string {
    return `${scope}/${name}`;
  }

  async create(entity: Omit<T, 'id'> & { id?: string }): Promise<T> {
    const e = { ...entity, id: entity.id ?? randomUUID().replace(/-/g, '') } as T;
    const claimed = await this.redis.hsetnx(
      redisKeys.identityNames(this.kind),
      this.nameKey(this.scopeOf(e), e.name),
      e.id,
    );
    if (!claimed) throw this.duplicate(e);
    const created = await this.redis.hsetnx(redisKeys.identity(this.kind), e.id, JSON.stringify(e));
    if (!created) {
      await this.redis.hdel(redisKeys.identityNames(this.kind), this.nameKey(this.scopeOf(e), e.name));
      throw conflict(`Conflict occurred attempting to store ${SINGULAR[this.kind]} - Duplicate ID, ${e.id}.`);
    }
    return e;
  }

  async get(id: string): Promise<T | undefined> {
    const raw = await this.redis.hget(redisKeys.identity(this.kind), id);
    return raw ? (JSON.parse(raw) as T) : undefined;
  }

  async list(): Promise<T[]> {
    const all = await this.redis.hvals(redisKeys.identity(this.kind));
    return all
      .map((raw) => JSON.parse(raw) as T)
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  async findByName(scope: string, name: string): Promise<T | undefined> {
    const id = await this.redis.hget(redisKeys.identityNames(this.kind), this.nameKey(scope, name));
    return id ? this.get(id) : undefined;
  }

  /** Replaces the stored entity; a new name is claimed first so it stays unique. */
  async update(before: T, after: T): Promise<T> {
    const names = redisKeys.identityNames(this.kind);
    const oldKey = this.nameKey(this.scopeOf(before), before.name);
    const newKey = this.nameKey(this.scopeOf(after), after.name);
    if (newKey !== oldKey) {
      if (!(await this.redis.hsetnx(names, newKey, after.id))) throw this.duplicate(after);
      await this.redis.hdel(names, oldKey);
    }
    await this.redis.hset(redisKeys.identity(this.kind), after.id, JSON.stringify(after));
    return after;
  }

  async delete(e: T): Promise<void> {
    await this.redis
      .multi()
      .hdel(redisKeys.identity(this.kind), e.id)
      .hdel(redisKeys.identityNames(this.kind), this.nameKey(this.scopeOf(e), e.name))
      .exec();
  }

  private duplicate(e: T): ApiError {
    const scope = this.scopeOf(e);
    return conflict(
      `Conflict occurred attempting to store ${SINGULAR[this.kind]} - Duplicate entry found with name ${e.name}` +
        (scope ? ` at domain ID ${scope}.` : '.'),
    );
  }
}

export class IdentityStore {
  readonly domains: Table<Domain>;
  readonly projects: Table<Project>;
  readonly users: Table<User>;
  readonly roles: Table<Role>;

  constructor(private readonly redis: Redis) {
    this.domains = new Table<Domain>(redis, 'domains', () => '');
    this.projects = new Table<Project>(redis, 'projects', (p) => p.domainId);
    this.users = new Table<User>(redis, 'users', (u) => u.domainId);
    this.roles = new Table<Role>(redis, 'roles', () => '');
  }

  async grant(projectId: string, userId: string, roleId: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(redisKeys.roleAssignment(projectId, userId), roleId)
      .sadd(redisKeys.roleAssignmentPairs(), `${projectId} ${userId}`)
      .exec();
  }

  /** False when the user did not hold the role there. The user's tokens are revoked, as Keystone does. */
  async revoke(projectId: string, userId: string, roleId: string): Promise<boolean> {
    const removed = await this.redis.srem(redisKeys.roleAssignment(projectId, userId), roleId);
    if ((await this.redis.scard(redisKeys.roleAssignment(projectId, userId))) === 0) {
      await this.redis.srem(redisKeys.roleAssignmentPairs(), `${projectId} ${userId}`);
    }
    if (removed === 1) await this.revokeTokens(userId);
    return removed === 1;
  }

  /** The user's token epoch: tokens issued under an older one are revoked. */
  async tokenEpoch(userId: string): Promise<number> {
    return Number((await this.redis.get(redisKeys.userTokenEpoch(userId))) ?? 0);
  }

  /** Revokes every token the user holds (Keystone's revocation event by user id). */
  async revokeTokens(userId: string): Promise<void> {
    await this.redis.incr(redisKeys.userTokenEpoch(userId));
  }

  /** Saves a user; disabling it or changing its password revokes its tokens. */
  async updateUser(before: User, after: User): Promise<User> {
    const saved = await this.users.update(before, after);
    if (!after.enabled || after.passwordHash !== before.passwordHash) await this.revokeTokens(after.id);
    return saved;
  }

  async hasRole(projectId: string, userId: string, roleId: string): Promise<boolean> {
    return (await this.redis.sismember(redisKeys.roleAssignment(projectId, userId), roleId)) === 1;
  }

  /** The roles granted directly to the user on the project (existing roles only). */
  async directRoles(projectId: string, userId: string): Promise<Role[]> {
    const ids = await this.redis.smembers(redisKeys.roleAssignment(projectId, userId));
    const roles = await Promise.all(ids.map((id) => this.roles.get(id)));
    return roles.filter((r): r is Role => r !== undefined);
  }

  /** Direct roles plus the ones they imply (what a token carries and policy checks). */
  async effectiveRoles(projectId: string, userId: string): Promise<Role[]> {
    const direct = await this.directRoles(projectId, userId);
    const names = new Set(direct.map((r) => r.name));
    const pending = [...names];
    while (pending.length > 0) {
      for (const implied of IMPLIED_ROLES[pending.pop() as string] ?? []) {
        if (!names.has(implied)) {
          names.add(implied);
          pending.push(implied);
        }
      }
    }
    const out = [...direct];
    for (const name of names) {
      if (direct.some((r) => r.name === name)) continue;
      const role = await this.roles.findByName('', name);
      if (role) out.push(role);
    }
    return out;
  }

  /** Every assignment, optionally narrowed to a project, a user or a role. */
  async assignments(filter: { projectId?: string; userId?: string; roleId?: string } = {}): Promise<Assignment[]> {
    const pairs = await this.redis.smembers(redisKeys.roleAssignmentPairs());
    const out: Assignment[] = [];
    for (const pair of pairs.sort()) {
      const [projectId, userId] = pair.split(' ');
      if ((filter.projectId && projectId !== filter.projectId) || (filter.userId && userId !== filter.userId)) continue;
      for (const roleId of (await this.redis.smembers(redisKeys.roleAssignment(projectId, userId))).sort()) {
        if (!filter.roleId || roleId === filter.roleId) out.push({ projectId, userId, roleId });
      }
    }
    return out;
  }

  /** Projects on which the user holds any role. */
  async projectsOf(userId: string): Promise<Project[]> {
    const ids = new Set((await this.assignments({ userId })).map((a) => a.projectId));
    const projects = await Promise.all([...ids].map((id) => this.projects.get(id)));
    return projects.filter((p): p is Project => p !== undefined);
  }

  /** Deletes a user or project with its assignments, or a role and every grant of it. */
  async deleteUser(user: User): Promise<void> {
    for (const a of await this.assignments({ userId: user.id })) await this.revoke(a.projectId, a.userId, a.roleId);
    await this.users.delete(user);
    // The id is gone, so its tokens fail validation anyway; the epoch need not outlive it.
    await this.redis.del(redisKeys.userTokenEpoch(user.id));
  }

  async deleteProject(project: Project): Promise<void> {
    for (const a of await this.assignments({ projectId: project.id }))
      await this.revoke(a.projectId, a.userId, a.roleId);
    await this.projects.delete(project);
  }

  async deleteRole(role: Role): Promise<void> {
    for (const a of await this.assignments({ roleId: role.id })) await this.revoke(a.projectId, a.userId, a.roleId);
    await this.roles.delete(role);
  }

  /** Resolves a {id} or {name, domain: {id | name}} reference as Keystone's auth body gives it. */
  async resolveDomain(ref: { id?: string; name?: string } | undefined): Promise<Domain | undefined> {
    if (!ref) return this.domains.get(DEFAULT_DOMAIN_ID);
    if (ref.id !== undefined) return this.domains.get(ref.id);
    if (ref.name !== undefined) return this.domains.findByName('', ref.name);
    return undefined;
  }
}
