// keystone-manage bootstrap: the default domain, the roles admin, member and reader, and an admin
// user holding admin on an admin project. Idempotent, so every gateway (re)start may run it; the
// admin password is reset to the configured one, as keystone-manage bootstrap does.
import type { Logger } from '@hypernova/common';
import { ApiError } from '../http/errors.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { DEFAULT_DOMAIN_ID, type IdentityStore, type Project, type Role, type User } from './store.js';

export interface BootstrapOptions {
  adminUser: string;
  adminPassword: string;
  adminProject: string;
}

export const BOOTSTRAP_ROLES = ['admin', 'member', 'reader'] as const;

/** Returns the found entity, or creates it; a concurrent creator winning the name is fine. */
async function ensure<T>(find: () => Promise<T | undefined>, create: () => Promise<T>): Promise<T> {
  const found = await find();
  if (found) return found;
  try {
    return await create();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
    const raced = await find();
    if (!raced) throw err;
    return raced;
  }
}

export async function bootstrapIdentity(store: IdentityStore, opts: BootstrapOptions, log?: Logger): Promise<void> {
  await ensure(
    () => store.domains.get(DEFAULT_DOMAIN_ID),
    () =>
      store.domains.create({
        id: DEFAULT_DOMAIN_ID,
        name: 'Default',
        description: 'The default domain',
        enabled: true,
      }),
  );
  const roles: Role[] = [];
  for (const name of BOOTSTRAP_ROLES) {
    roles.push(
      await ensure(
        () => store.roles.findByName('', name),
        () => store.roles.create({ name, description: '' }),
      ),
    );
  }
  const project: Project = await ensure(
    () => store.projects.findByName(DEFAULT_DOMAIN_ID, opts.adminProject),
    () =>
      store.projects.create({
        name: opts.adminProject,
        domainId: DEFAULT_DOMAIN_ID,
        description: 'Bootstrap project',
        enabled: true,
      }),
  );
  let user: User = await ensure(
    () => store.users.findByName(DEFAULT_DOMAIN_ID, opts.adminUser),
    async () =>
      store.users.create({
        name: opts.adminUser,
        domainId: DEFAULT_DOMAIN_ID,
        enabled: true,
        passwordHash: await hashPassword(opts.adminPassword),
        defaultProjectId: project.id,
      }),
  );
  if (!(await verifyPassword(opts.adminPassword, user.passwordHash)) || !user.enabled) {
    user = await store.updateUser(user, {
      ...user,
      enabled: true,
      passwordHash: await hashPassword(opts.adminPassword),
    });
  }
  await store.grant(project.id, user.id, roles[0].id);
  log?.info({ user: user.name, project: project.name }, 'identity bootstrapped');
}
