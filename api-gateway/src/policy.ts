// Who may do what: the default rules of Keystone and Nova (the 2023 defaults: readers read,
// members act on their project's resources, admins do everything and see every project). One
// table, so what is admin-only is visible at a glance; messages are the services' own.
//
// A rule has two halves, as Nova's PROJECT_READER_OR_ADMIN / PROJECT_MEMBER_OR_ADMIN do: the
// caller's role (`enforce`), and the target's project (`inScope`, or both at once with
// `enforceOn`). Every API (compute, image, network, console) checks both through these helpers.
import type { ImageRecord } from '@hypernova/cluster-state';
import { forbidden, type ApiError } from './http/errors.js';
import type { TokenContext } from './identity/tokens.js';

export interface Caller {
  token: TokenContext;
  userId: string;
  /** '' for an unscoped token. */
  projectId: string;
  roles: ReadonlySet<string>;
  /** Holds admin (on any project): a cloud admin, as in Nova's legacy and Keystone's default policy. */
  isAdmin: boolean;
}

export function callerOf(token: TokenContext): Caller {
  const roles = new Set(token.roles.map((r) => r.name));
  return { token, userId: token.user.id, projectId: token.project?.id ?? '', roles, isAdmin: roles.has('admin') };
}

/** Nova's ADMIN, PROJECT_MEMBER_OR_ADMIN and PROJECT_READER_OR_ADMIN (the project half is the caller's). */
type Rule = 'admin' | 'member' | 'reader';

const RULES: Record<string, Rule> = {
  'identity:list_domains': 'admin',
  'identity:get_domain': 'admin',
  'identity:create_domain': 'admin',
  'identity:update_domain': 'admin',
  'identity:delete_domain': 'admin',
  'identity:list_projects': 'admin',
  'identity:get_project': 'admin',
  'identity:create_project': 'admin',
  'identity:update_project': 'admin',
  'identity:delete_project': 'admin',
  'identity:list_users': 'admin',
  'identity:get_user': 'admin',
  'identity:create_user': 'admin',
  'identity:update_user': 'admin',
  'identity:delete_user': 'admin',
  'identity:list_roles': 'admin',
  'identity:get_role': 'admin',
  'identity:create_role': 'admin',
  'identity:update_role': 'admin',
  'identity:delete_role': 'admin',
  'identity:list_grants': 'admin',
  'identity:check_grant': 'admin',
  'identity:create_grant': 'admin',
  'identity:revoke_grant': 'admin',
  'identity:list_role_assignments': 'admin',
  'identity:validate_token': 'reader',
  'os_compute_api:servers:index': 'reader',
  'os_compute_api:servers:detail': 'reader',
  'os_compute_api:servers:index:get_all_tenants': 'admin',
  'os_compute_api:servers:detail:get_all_tenants': 'admin',
  'os_compute_api:servers:show': 'reader',
  'os_compute_api:servers:show:host_status': 'admin',
  'os_compute_api:os-extended-server-attributes': 'admin',
  'os_compute_api:servers:create': 'member',
  'os_compute_api:servers:delete': 'member',
  'os_compute_api:servers:start': 'member',
  'os_compute_api:servers:stop': 'member',
  'os_compute_api:servers:reboot': 'member',
  'os_compute_api:os-pause-server:pause': 'member',
  'os_compute_api:os-pause-server:unpause': 'member',
  'os_compute_api:os-suspend-server:suspend': 'member',
  'os_compute_api:os-suspend-server:resume': 'member',
  'os_compute_api:os-console-output': 'member',
  'os_compute_api:servers:trigger_crash_dump': 'member',
  'os_compute_api:os-flavor-manage:create': 'admin',
  'os_compute_api:os-flavor-manage:delete': 'admin',
  'os_compute_api:os-hypervisors:list': 'admin',
  'os_compute_api:os-hypervisors:list-detail': 'admin',
  'os_compute_api:os-hypervisors:show': 'admin',
  'os_compute_api:os-hypervisors:statistics': 'admin',
  'os_compute_api:os-services:list': 'admin',
  'os_compute_api:os-services:update': 'admin',
  'os_compute_api:os-server-groups:index': 'reader',
  'os_compute_api:os-server-groups:show': 'reader',
  'os_compute_api:os-server-groups:create': 'member',
  'os_compute_api:os-server-groups:delete': 'member',
  'os_compute_api:servers:update': 'member',
  'os_compute_api:limits': 'reader',
  'os_compute_api:os-instance-actions:list': 'reader',
  'os_compute_api:os-instance-actions:show': 'reader',
  'os_compute_api:os-instance-actions:events': 'admin',
  // A user's own keypairs; other users' only for admins (2.10). Nova lets any role write its own
  // keypairs; here readers only read, so a reader token can never change anything.
  'os_compute_api:os-keypairs:index': 'reader',
  'os_compute_api:os-keypairs:show': 'reader',
  'os_compute_api:os-keypairs:create': 'member',
  'os_compute_api:os-keypairs:delete': 'member',
  'os_compute_api:os-keypairs:index:other_user': 'admin',
  'os_compute_api:os-keypairs:show:other_user': 'admin',
  'os_compute_api:os-keypairs:create:other_user': 'admin',
  'os_compute_api:os-keypairs:delete:other_user': 'admin',
  'os_compute_api:os-quota-sets:show': 'reader',
  'os_compute_api:os-quota-sets:detail': 'reader',
  'os_compute_api:os-quota-sets:defaults': 'reader',
  'os_compute_api:os-quota-sets:update': 'admin',
  'os_compute_api:os-quota-sets:delete': 'admin',
  'os_compute_api:os-availability-zone:list': 'reader',
  'os_compute_api:os-availability-zone:detail': 'admin',
  'os_compute_api:os-migrations:index': 'admin',
  'os_compute_api:servers:migrations:index': 'admin',
  'os_compute_api:servers:migrations:show': 'admin',
  'os_compute_api:servers:migrations:force_complete': 'admin',
  'os_compute_api:servers:migrations:delete': 'admin',
  'os_compute_api:os-migrate-server:migrate_live': 'admin',
  'os_compute_api:os-flavor-extra-specs:index': 'reader',
  'os_compute_api:os-flavor-extra-specs:show': 'reader',
  'os_compute_api:os-flavor-extra-specs:create': 'admin',
  'os_compute_api:os-flavor-extra-specs:update': 'admin',
  'os_compute_api:os-flavor-extra-specs:delete': 'admin',
  'image:get_images': 'reader',
  'image:get_image': 'reader',
  'image:download_image': 'reader',
  'image:add_image': 'member',
  'image:modify_image': 'member',
  'image:upload_image': 'member',
  'image:delete_image': 'member',
  'image:communitize_image': 'member',
  'image:publicize_image': 'admin',
  // Neutron (its rule names have no prefix).
  get_network: 'reader',
  create_network: 'member',
  update_network: 'member',
  delete_network: 'member',
  get_subnet: 'reader',
  create_subnet: 'member',
  update_subnet: 'member',
  delete_subnet: 'member',
  get_port: 'reader',
  create_port: 'member',
  update_port: 'member',
  delete_port: 'member',
  get_router: 'reader',
  create_router: 'member',
  update_router: 'member',
  delete_router: 'member',
  get_floatingip: 'reader',
  create_floatingip: 'member',
  update_floatingip: 'member',
  delete_floatingip: 'member',
  get_security_group: 'reader',
  create_security_group: 'member',
  update_security_group: 'member',
  delete_security_group: 'member',
  get_security_group_rule: 'reader',
  create_security_group_rule: 'member',
  delete_security_group_rule: 'member',
  add_router_interface: 'member',
  remove_router_interface: 'member',
  // Neutron's admin-only attributes: sharing, external networks, provider segments, port
  // bindings, a router's or floating IP's chosen external address.
  'create_network:shared': 'admin',
  'create_network:router:external': 'admin',
  'create_network:provider:network_type': 'admin',
  'create_network:provider:physical_network': 'admin',
  'create_network:provider:segmentation_id': 'admin',
  'update_network:shared': 'admin',
  'update_network:router:external': 'admin',
  'get_network:provider:network_type': 'admin',
  'create_port:binding:host_id': 'admin',
  'update_port:binding:host_id': 'admin',
  'get_port:binding:host_id': 'admin',
  'create_router:external_gateway_info:external_fixed_ips': 'admin',
  'update_router:external_gateway_info:external_fixed_ips': 'admin',
  'create_floatingip:floating_ip_address': 'admin',
  get_quota: 'reader',
  update_quota: 'admin',
  delete_quota: 'admin',
};

/** Whether the caller's roles allow `action`; the target's project is checked with `inScope`. */
export function allowed(caller: Pick<Caller, 'isAdmin' | 'roles'>, action: string): boolean {
  const rule = RULES[action];
  if (rule === undefined) throw new Error(`no policy rule for ${action}`);
  return caller.isAdmin || caller.roles.has(rule);
}

/** Nova's project_id:%(project_id)s: the resource is the caller's project's, or the caller is an admin. */
export function inScope(caller: Caller, projectId: string): boolean {
  return caller.isAdmin || (projectId !== '' && projectId === caller.projectId);
}

/** Images a caller may see and boot: public and community ones, its project's own, all for admins. */
export function visibleImage(i: ImageRecord, caller: Caller): boolean {
  return i.visibility === 'public' || i.visibility === 'community' || inScope(caller, i.owner);
}

/** The service's own 403 for `action`. */
function refusal(action: string): ApiError {
  return forbidden(
    action.startsWith('identity:')
      ? `You are not authorized to perform the requested action: ${action}.`
      : action.startsWith('image:')
        ? `You are not authorized to complete ${action.slice('image:'.length)} action.`
        : `Policy doesn't allow ${action} to be performed.`,
  );
}

/** Throws 403 with the service's message when the caller's roles do not allow `action`. */
export function enforce(caller: Caller, action: string): void {
  if (!allowed(caller, action)) throw refusal(action);
}

/**
 * The whole rule against a target of `projectId`: 403 when the role does not allow `action`;
 * when the target is another project's, `hidden()` (the API's 404, as Nova and Neutron answer
 * for resources a caller may not know of) or, without it, the 403 of a failed policy target.
 */
export function enforceOn(caller: Caller, action: string, projectId: string, hidden?: () => ApiError): void {
  enforce(caller, action);
  if (!inScope(caller, projectId)) throw hidden ? hidden() : refusal(action);
}
