// Role assignments on projects: grant (PUT, 204), check (HEAD/GET, 204 or 404), revoke (DELETE),
// a user's roles on a project, and GET /role_assignments with Keystone's filters; this is what
// `openstack role add --project P --user U R` and `role assignment list` use.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { notFound } from '../../http/errors.js';
import { flag, param, queryOf } from '../../http/query.js';
import { enforce } from '../../policy.js';
import { caller } from '../auth.js';
import type { Project, Role, User } from '../store.js';
import { collection, roleView } from '../views.js';

interface GrantParams {
  project: string;
  user: string;
  role: string;
}

export function registerAssignmentRoutes(app: FastifyInstance, gw: Gateway): void {
  const { identity } = gw;

  async function resolve(p: Partial<GrantParams>): Promise<{ project: Project; user: User; role?: Role }> {
    const project = await identity.projects.get(p.project ?? '');
    if (!project) throw notFound(`Could not find project: ${p.project}.`);
    const user = await identity.users.get(p.user ?? '');
    if (!user) throw notFound(`Could not find user: ${p.user}.`);
    if (p.role === undefined) return { project, user };
    const role = await identity.roles.get(p.role);
    if (!role) throw notFound(`Could not find role: ${p.role}.`);
    return { project, user, role };
  }

  const grantPath = '/projects/:project/users/:user/roles/:role';

  app.put<{ Params: GrantParams }>(grantPath, async (request, reply) => {
    enforce(caller(request), 'identity:create_grant');
    const { project, user, role } = await resolve(request.params);
    await identity.grant(project.id, user.id, (role as Role).id);
    return reply.code(204).send();
  });

  // GET also answers HEAD (fastify exposes HEAD routes), Keystone's way to check a grant.
  app.get<{ Params: GrantParams }>(grantPath, async (request, reply) => {
    enforce(caller(request), 'identity:check_grant');
    const { project, user, role } = await resolve(request.params);
    if (!(await identity.hasRole(project.id, user.id, (role as Role).id))) {
      throw notFound(
        `Could not find role assignment with role: ${role?.id}, user or group: ${user.id}, project, domain, or system: ${project.id}.`,
      );
    }
    return reply.code(204).send();
  });

  app.delete<{ Params: GrantParams }>(grantPath, async (request, reply) => {
    enforce(caller(request), 'identity:revoke_grant');
    const { project, user, role } = await resolve(request.params);
    if (!(await identity.revoke(project.id, user.id, (role as Role).id))) {
      throw notFound(
        `Could not find role assignment with role: ${role?.id}, user or group: ${user.id}, project, domain, or system: ${project.id}.`,
      );
    }
    return reply.code(204).send();
  });

  app.get<{ Params: Omit<GrantParams, 'role'> }>('/projects/:project/users/:user/roles', async (request) => {
    enforce(caller(request), 'identity:list_grants');
    const { project, user } = await resolve(request.params);
    const base = baseUrl(gw.config.publicUrl, request);
    const roles = await identity.directRoles(project.id, user.id);
    return collection(
      'roles',
      roles.map((r) => roleView(r, base)),
      `${base}/identity/v3/projects/${project.id}/users/${user.id}/roles`,
    );
  });

  app.get('/role_assignments', async (request) => {
    enforce(caller(request), 'identity:list_role_assignments');
    const q = queryOf(request);
    const base = baseUrl(gw.config.publicUrl, request);
    const names = flag(q, 'include_names');
    const list = await identity.assignments({
      projectId: param(q, 'scope.project.id'),
      userId: param(q, 'user.id'),
      roleId: param(q, 'role.id'),
    });
    // include_names: OSC prints "<name>@<domain name>" for users and projects.
    const domain = async (id: string) => ({ id, name: (await identity.domains.get(id))?.name ?? id });
    const items = await Promise.all(
      list.map(async (a) => {
        const [role, user, project] = names
          ? await Promise.all([
              identity.roles.get(a.roleId),
              identity.users.get(a.userId),
              identity.projects.get(a.projectId),
            ])
          : [];
        return {
          role: { id: a.roleId, ...(role ? { name: role.name } : {}) },
          user: { id: a.userId, ...(user ? { name: user.name, domain: await domain(user.domainId) } : {}) },
          scope: {
            project: {
              id: a.projectId,
              ...(project ? { name: project.name, domain: await domain(project.domainId) } : {}),
            },
          },
          links: { assignment: `${base}/identity/v3/projects/${a.projectId}/users/${a.userId}/roles/${a.roleId}` },
        };
      }),
    );
    return collection('role_assignments', items, `${base}/identity/v3/role_assignments`);
  });
}
