// Keystone v3 JSON shapes of identity entities and tokens.
import type { CatalogService } from './catalog.js';
import type { Domain, Project, Role, User } from './store.js';
import type { TokenContext } from './tokens.js';

/** Keystone's microsecond timestamps: 2026-11-24T06:44:40.000000Z */
export function keystoneTime(iso: string): string {
  return iso.replace(/(\.\d{3})?Z$/, (_m, ms: string | undefined) => `${ms ?? '.000'}000Z`);
}

export const domainView = (d: Domain, base: string) => ({
  id: d.id,
  name: d.name,
  description: d.description,
  enabled: d.enabled,
  tags: [],
  options: {},
  links: { self: `${base}/identity/v3/domains/${d.id}` },
});

export const projectView = (p: Project, base: string) => ({
  id: p.id,
  name: p.name,
  domain_id: p.domainId,
  description: p.description,
  enabled: p.enabled,
  parent_id: p.domainId,
  is_domain: false,
  tags: [],
  options: {},
  links: { self: `${base}/identity/v3/projects/${p.id}` },
});

export const userView = (u: User, base: string) => ({
  id: u.id,
  name: u.name,
  domain_id: u.domainId,
  enabled: u.enabled,
  password_expires_at: null,
  options: {},
  ...(u.defaultProjectId ? { default_project_id: u.defaultProjectId } : {}),
  ...(u.email ? { email: u.email } : {}),
  ...(u.description ? { description: u.description } : {}),
  links: { self: `${base}/identity/v3/users/${u.id}` },
});

export const roleView = (r: Role, base: string) => ({
  id: r.id,
  name: r.name,
  domain_id: null,
  description: r.description,
  options: {},
  links: { self: `${base}/identity/v3/roles/${r.id}` },
});

/** A collection body: {"<name>": [...], "links": {...}} */
export const collection = (name: string, items: unknown[], selfUrl: string) => ({
  [name]: items,
  links: { self: selfUrl, previous: null, next: null },
});

export function tokenView(ctx: TokenContext, catalog: CatalogService[] | undefined) {
  const ref = (d: Domain) => ({ id: d.id, name: d.name });
  return {
    token: {
      methods: ctx.methods,
      user: { id: ctx.user.id, name: ctx.user.name, domain: ref(ctx.userDomain), password_expires_at: null },
      audit_ids: [ctx.auditId],
      expires_at: keystoneTime(ctx.expiresAt),
      issued_at: keystoneTime(ctx.issuedAt),
      ...(ctx.project && ctx.projectDomain
        ? {
            project: { id: ctx.project.id, name: ctx.project.name, domain: ref(ctx.projectDomain) },
            is_domain: false,
            roles: ctx.roles.map((r) => ({ id: r.id, name: r.name })),
            ...(catalog ? { catalog } : {}),
          }
        : {}),
    },
  };
}
