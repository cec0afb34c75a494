// What an agent hands its VM process for one live migration, which holds no cluster credentials
// of its own: a NATS user minted for that migration alone (its subjects, nothing else; it
// expires) and the CA to verify the servers with; its agent flips ownership in Redis for it.
import { jwtClaims, mintUserCreds, subjects, type Credentials, type SubjectPermissions } from '@hypernova/common';
import type { MigrationEndpoints } from './manager.js';

/** Long enough for a slow migration of a large guest; the server drops the user once it expires. */
const MIGRATION_CREDS_TTL_S = 6 * 3600;

/** Publish and subscribe on hn.migration.<id>.> only. */
export function migrationPermissions(migrationId: string): SubjectPermissions {
  const own = [`${subjects.migration(migrationId)}.>`];
  return { pub: { allow: own }, sub: { allow: own } };
}

/** A creds file (JWT and seed) for `migrationId`, signed with the agent's account signing key. */
export function migrationCredentials(credentials: Credentials, migrationId: string): string {
  if (!credentials.natsSigningKey || !credentials.natsCreds)
    throw new Error(`${credentials.dir}: no NATS account signing key to mint migration credentials with`);
  const jwt = new TextDecoder().decode(credentials.natsCreds).match(/^\s*(ey[\w-]+\.[\w-]+\.[\w-]+)\s*$/m)?.[1];
  if (!jwt) throw new Error(`${credentials.dir}: nats.creds holds no JWT`);
  const claims = jwtClaims(jwt);
  return mintUserCreds({
    signingSeed: credentials.natsSigningKey,
    account: (claims.nats.issuer_account as string | undefined) ?? claims.iss,
    name: `migration-${migrationId}`,
    permissions: migrationPermissions(migrationId),
    expiresInS: MIGRATION_CREDS_TTL_S,
  });
}

/** The migration command's connection arguments: uri, plus creds and ca on an authenticated cluster. */
export function migrationLinks(
  endpoints: MigrationEndpoints,
  migrationId: string,
): { uri: string; creds?: string; ca?: string } {
  const c = endpoints.credentials;
  if (!c) return { uri: endpoints.natsUrl };
  return { uri: endpoints.natsUrl, creds: migrationCredentials(c, migrationId), ca: c.ca.toString() };
}
