// A service's credentials for the control plane: one directory (0700, files 0600) per identity,
// named by HYPERNOVA_CREDENTIALS_DIR, which holds only its path, so no secret ever sits in argv,
// in an environment value or in a log line. Files:
//   ca.crt                     the cluster CA (verifies Redis, NATS and gRPC peers)
//   tls.crt, tls.key           this identity's certificate (gRPC mutual TLS, client and server)
//   redis.user, redis.password its Redis ACL user
//   nats.creds                 its NATS user (JWT and nkey seed, the creds-file format)
//   nats-account.nk            compute only: the account signing key that mints migration users
// The directory is made by ensureClusterCredentials (credentials-setup.ts).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './errors.js';

export const CREDENTIALS_DIR_ENV = 'HYPERNOVA_CREDENTIALS_DIR';

export const CREDENTIAL_FILES = {
  ca: 'ca.crt',
  cert: 'tls.crt',
  key: 'tls.key',
  redisUser: 'redis.user',
  redisPassword: 'redis.password',
  natsCreds: 'nats.creds',
  natsSigningKey: 'nats-account.nk',
} as const;

export interface Credentials {
  readonly dir: string;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly redis?: { readonly username: string; readonly password: string };
  readonly natsCreds?: Uint8Array;
  /** The seed of the NATS account signing key (compute agents: migration users). */
  readonly natsSigningKey?: string;
}

/** What a client connection needs: a VM process gets only these, from its agent. */
export interface ClientCredentials {
  readonly ca: string | Buffer;
  readonly redis?: Credentials['redis'];
  readonly natsCreds?: string | Uint8Array;
}

/**
 * The credentials in `dir`; null for '' (a cluster without authentication). A directory others
 * can read is refused: it would hand them the identity.
 */
export function loadCredentials(dir: string): Credentials | null {
  if (!dir) return null;
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) throw new ConfigError(`${dir}: a credentials directory must be 0700, not ${mode.toString(8)}`);
  const read = (name: string) => readFileSync(join(dir, name));
  const optional = (name: string): Buffer | undefined => {
    try {
      return read(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const user = optional(CREDENTIAL_FILES.redisUser)?.toString().trim();
  const password = optional(CREDENTIAL_FILES.redisPassword)?.toString().trim();
  return {
    dir,
    ca: read(CREDENTIAL_FILES.ca),
    cert: read(CREDENTIAL_FILES.cert),
    key: read(CREDENTIAL_FILES.key),
    redis: user && password ? { username: user, password } : undefined,
    natsCreds: optional(CREDENTIAL_FILES.natsCreds),
    natsSigningKey: optional(CREDENTIAL_FILES.natsSigningKey)?.toString().trim(),
  };
}

const loaded = new Map<string, Credentials | null>();

/**
 * The credentials HYPERNOVA_CREDENTIALS_DIR names in `env` (read once per directory), or null.
 * What the connection helpers use when a caller passes none: tools and tests follow the same
 * convention as the services without wiring it through.
 */
export function envCredentials(env: NodeJS.ProcessEnv = process.env): Credentials | null {
  const dir = env[CREDENTIALS_DIR_ENV] ?? '';
  if (!loaded.has(dir)) loaded.set(dir, loadCredentials(dir));
  return loaded.get(dir) ?? null;
}
