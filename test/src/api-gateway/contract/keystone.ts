// Response schemas of the Keystone v3 identity API, written from the Keystone API reference:
// discovery, tokens (with the catalog the clients need), and the admin resources.
import { arrayOf, bool, enumOf, isoMicrosZ, nullable, obj, str, uri, type Schema } from './schema.js';

/** Keystone's error body, which keystonemiddleware also gives every service for a bad token. */
export const error = (status: number): Schema =>
  obj({ error: obj({ code: enumOf(status), title: str, message: str }) });

const version = obj({
  id: { type: 'string', pattern: '^v3\\.\\d+$' },
  status: enumOf('stable', 'experimental', 'deprecated'),
  updated: { type: 'string', format: 'date-time' },
  links: arrayOf(obj({ rel: str, href: uri })),
  'media-types': arrayOf(obj({ base: enumOf('application/json'), type: str })),
});
export const versionDocument = obj({ version });
export const versions = obj({ versions: obj({ values: arrayOf(version) }) });

const ref = obj({ id: str, name: str });
const endpoint = obj({
  id: str,
  interface: enumOf('public', 'internal', 'admin'),
  region: str,
  region_id: str,
  url: uri,
});
export const catalog = arrayOf(obj({ id: str, type: str, name: str, endpoints: arrayOf(endpoint) }));

const tokenBase = {
  methods: arrayOf(enumOf('password', 'token')),
  user: obj({ id: str, name: str, domain: ref, password_expires_at: nullable(isoMicrosZ) }),
  audit_ids: arrayOf(str),
  expires_at: isoMicrosZ,
  issued_at: isoMicrosZ,
};
/** A project-scoped token (with its catalog unless nocatalog was asked). */
export const scopedToken = obj({
  token: obj(
    { ...tokenBase, project: obj({ id: str, name: str, domain: ref }), is_domain: bool, roles: arrayOf(ref), catalog },
    ['catalog'],
  ),
});
export const unscopedToken = obj({ token: obj(tokenBase) });

const selfLink = obj({ self: uri });
const collectionLinks = obj({ self: uri, previous: nullable(uri), next: nullable(uri) });
const collection = (name: string, item: Schema) => obj({ [name]: arrayOf(item), links: collectionLinks });

const domain = obj({
  id: str,
  name: str,
  description: str,
  enabled: bool,
  tags: arrayOf(str),
  options: { type: 'object' },
  links: selfLink,
});
const project = obj({
  id: str,
  name: str,
  domain_id: str,
  description: str,
  enabled: bool,
  parent_id: nullable(str),
  is_domain: bool,
  tags: arrayOf(str),
  options: { type: 'object' },
  links: selfLink,
});
const user = obj(
  {
    id: str,
    name: str,
    domain_id: str,
    enabled: bool,
    password_expires_at: nullable(isoMicrosZ),
    options: { type: 'object' },
    default_project_id: str,
    email: str,
    description: str,
    links: selfLink,
  },
  ['default_project_id', 'email', 'description'],
);
const role = obj({
  id: str,
  name: str,
  domain_id: nullable(str),
  description: str,
  options: { type: 'object' },
  links: selfLink,
});

export const domainShow = obj({ domain });
export const domainList = collection('domains', domain);
export const projectShow = obj({ project });
export const projectList = collection('projects', project);
export const userShow = obj({ user });
export const userList = collection('users', user);
export const roleShow = obj({ role });
export const roleList = collection('roles', role);

const named = obj({ id: str, name: str, domain: ref }, ['name', 'domain']);
export const roleAssignments = collection(
  'role_assignments',
  obj({
    role: obj({ id: str, name: str }, ['name']),
    user: named,
    scope: obj({ project: named }),
    links: obj({ assignment: uri }),
  }),
);
export const authCatalog = obj({ catalog, links: collectionLinks });
