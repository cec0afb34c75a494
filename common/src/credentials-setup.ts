// Makes a cluster's credentials (what `hypernova cluster up`, the compose init service and the
// test harness run): a CA (openssl), a certificate per identity and per server, Redis ACL users
// with random passwords, and NATS in operator mode (operator, one account with JetStream, a user
// per identity). Layout under root (0700, files 0600):
//   ca/        the CA key and the NATS operator/account seeds: only this code reads them
//   redis/     redis-server's certificate and users.acl (--aclfile)
//   nats/      nats-server's certificate and auth.conf (operator, resolver, TLS; -c or include)
//   <name>/    one identity's directory, as credentials.ts reads it
// Existing material is kept (a restarted cluster keeps its JetStream account and its clients'
// credentials); identities not there yet are added, and the server files are rewritten.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { CREDENTIAL_FILES } from './credentials.js';
import { accountJwt, credsFile, operatorJwt, userJwt, type KeyPair, type SubjectPermissions } from './nats-jwt.js';
import { IMAGE_OBJECT_STORE } from './subjects.js';

/** What an identity may do; its gRPC certificate names the role (DNS:<role>) for clients to check. */
export type Role = 'gateway' | 'scheduler' | 'compute' | 'admin';

export interface IdentitySpec {
  /** Directory, certificate CN, Redis user and NATS user name. */
  name: string;
  role: Role;
  /** Host names it serves at besides 127.0.0.1/localhost (compose service names). */
  hosts?: string[];
}

export interface ClusterCredentials {
  readonly root: string;
  /** The directory to name in HYPERNOVA_CREDENTIALS_DIR for an identity. */
  dir(name: string): string;
  readonly redis: { readonly aclFile: string; readonly cert: string; readonly key: string; readonly ca: string };
  /** auth.conf: a complete nats-server config of its own (-c), or one to include. */
  readonly nats: { readonly config: string };
  /** Every secret handed out, for tests that check none leaks. */
  secrets(): string[];
}

const OWN_KEYS = '~hn:*';
// Data commands only: no FLUSHALL/KEYS/CONFIG/ACL/DEBUG/MONITOR (-@dangerous), scripts but no
// SCRIPT FLUSH or FUNCTION; INFO back for ioredis's ready check.
const SERVICE_COMMANDS =
  '-@all +@read +@write +@connection +@transaction +eval +evalsha +eval_ro +evalsha_ro +script|load +script|exists -@dangerous +info';
const REDIS_RULES: Record<Role, string> = {
  gateway: `resetkeys ${OWN_KEYS} resetchannels ${SERVICE_COMMANDS}`,
  scheduler: `resetkeys ${OWN_KEYS} resetchannels ${SERVICE_COMMANDS}`,
  compute: `resetkeys ${OWN_KEYS} resetchannels ${SERVICE_COMMANDS}`,
  admin: 'allkeys allchannels +@all',
};

const OBJECTS = [`$O.${IMAGE_OBJECT_STORE}.>`, '$JS.API.>', '$JS.FC.>', '$JS.ACK.>'];
const NATS_PERMISSIONS: Record<Exclude<Role, 'scheduler'>, SubjectPermissions> = {
  gateway: {
    pub: { allow: ['hn.instance.*.events', 'hn.host.*.events', ...OBJECTS] },
    sub: {
      allow: ['_INBOX.>', 'hn.instance.*.events', 'hn.host.*.events', 'hn.console.*', `$O.${IMAGE_OBJECT_STORE}.>`],
    },
  },
  compute: {
    pub: { allow: ['hn.instance.*.events', 'hn.host.*.events', 'hn.console.*', 'hn.migration.>', ...OBJECTS] },
    sub: { allow: ['_INBOX.>', 'hn.migration.>', `$O.${IMAGE_OBJECT_STORE}.>`] },
  },
  admin: { pub: { allow: ['>'] }, sub: { allow: ['>'] } },
};

const SERVER_NAMES = ['redis', 'nats'] as const;

export function ensureClusterCredentials(
  root: string,
  identities: IdentitySpec[],
  opts: {
    /** Host names the Redis and NATS servers are reached at besides 127.0.0.1/localhost. */
    serverHosts?: string[];
    /** Where nats-server sees its directory when not at root/nats (a container mount). */
    natsDir?: string;
  } = {},
): ClusterCredentials {
  privateDir(root);
  const ca = ensureAuthority(join(root, 'ca'));
  for (const server of SERVER_NAMES) {
    const dir = join(root, server);
    if (!existsSync(join(dir, CREDENTIAL_FILES.cert)))
      issue(ca, dir, server, [server, ...(opts.serverHosts ?? [])], 'serverAuth');
  }
  for (const id of identities) {
    const dir = join(root, id.name);
    if (existsSync(join(dir, CREDENTIAL_FILES.cert))) continue;
    issue(ca, dir, id.name, [id.role, id.name, ...(id.hosts ?? [])], 'serverAuth,clientAuth');
    secret(dir, CREDENTIAL_FILES.redisUser, id.name);
    secret(dir, CREDENTIAL_FILES.redisPassword, password());
    if (id.role === 'scheduler') continue;
    const user = nkeys.createUser();
    const jwt = userJwt({
      user,
      account: ca.account.getPublicKey(),
      signer: ca.signing,
      name: id.name,
      permissions: NATS_PERMISSIONS[id.role],
    });
    secret(dir, CREDENTIAL_FILES.natsCreds, credsFile(jwt, user));
    if (id.role === 'compute') secret(dir, CREDENTIAL_FILES.natsSigningKey, seed(ca.signing));
  }
  const redisAcl = join(root, 'redis', 'users.acl');
  secret(join(root, 'redis'), 'users.acl', aclText(root, identities));
  const natsConfig = join(root, 'nats', 'auth.conf');
  secret(join(root, 'nats'), 'auth.conf', natsAuthConf(ca, opts.natsDir ?? join(root, 'nats')));
  return {
    root,
    dir: (name) => join(root, name),
    redis: {
      aclFile: redisAcl,
      cert: join(root, 'redis', CREDENTIAL_FILES.cert),
      key: join(root, 'redis', CREDENTIAL_FILES.key),
      ca: join(root, 'redis', CREDENTIAL_FILES.ca),
    },
    nats: { config: natsConfig },
    secrets: () => [
      ...identities.flatMap((id) =>
        [CREDENTIAL_FILES.redisPassword, CREDENTIAL_FILES.key, CREDENTIAL_FILES.natsSigningKey].flatMap((f) => {
          const p = join(root, id.name, f);
          return existsSync(p) ? [readFileSync(p, 'utf8').trim()] : [];
        }),
      ),
    ],
  };
}

interface Authority {
  dir: string;
  operator: KeyPair;
  system: KeyPair;
  account: KeyPair;
  /** Signs the users; compute agents hold it to mint migration users. */
  signing: KeyPair;
}

function ensureAuthority(dir: string): Authority {
  privateDir(dir);
  if (!existsSync(join(dir, 'ca.crt'))) {
    // The key is written first to a directory only we can enter: openssl's own file mode does not matter.
    openssl(
      ['req', '-x509', '-new', ...EC_KEY, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt')].concat([
        '-days',
        '3650',
        '-subj',
        '/CN=hypernova cluster CA',
      ]),
    );
    chmodSync(join(dir, 'ca.key'), 0o600);
  }
  const key = (name: string, create: () => KeyPair): KeyPair => {
    const file = join(dir, `${name}.nk`);
    if (existsSync(file)) return nkeys.fromSeed(readFileSync(file));
    const kp = create();
    secret(dir, `${name}.nk`, seed(kp));
    return kp;
  };
  return {
    dir,
    operator: key('operator', nkeys.createOperator),
    system: key('system', nkeys.createAccount),
    account: key('account', nkeys.createAccount),
    signing: key('account-signing', nkeys.createAccount),
  };
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A key and a certificate signed by the CA into dir (with the CA certificate beside them). */
function issue(ca: Authority, dir: string, cn: string, dnsNames: string[], usage: string): void {
  privateDir(dir);
  const san = [...new Set([...dnsNames, 'localhost'])].map((n) => `DNS:${n}`).concat('IP:127.0.0.1');
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    join(dir, CREDENTIAL_FILES.key),
    '-out',
    join(dir, CREDENTIAL_FILES.cert),
    '-days',
    '825',
    '-subj',
    `/CN=${cn}`,
    '-CA',
    join(ca.dir, 'ca.crt'),
    '-CAkey',
    join(ca.dir, 'ca.key'),
    '-addext',
    `subjectAltName=${san.join(',')}`,
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    `extendedKeyUsage=${usage}`,
  ]);
  chmodSync(join(dir, CREDENTIAL_FILES.key), 0o600);
  chmodSync(join(dir, CREDENTIAL_FILES.cert), 0o600);
  secret(dir, CREDENTIAL_FILES.ca, readFileSync(join(ca.dir, 'ca.crt')));
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed (scripts/install-deps.sh installs openssl): ${stderr.trim()}`);
  }
}

/** Made 0700 also when it exists already (a container volume's mount point is 0755). */
function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function secret(dir: string, name: string, content: string | Buffer): void {
  privateDir(dir);
  const file = join(dir, name);
  rmSync(file, { force: true });
  writeFileSync(file, content, { mode: 0o600 });
}

const password = () => randomBytes(24).toString('base64url');
const seed = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());

/** users.acl: default off, one user per identity directory present. */
function aclText(root: string, identities: IdentitySpec[]): string {
  const hash = (pw: string) => createHash('sha256').update(pw).digest('hex');
  const known = new Set(readdirSync(root));
  // Off and without a password: nobody logs in as it. Its permissions stay, since Redis 7.0 runs
  // MULTI/EXEC from the AOF as the default user and drops them (data loss) if it may not.
  const lines = ['user default off resetpass allkeys allchannels +@all'];
  for (const id of identities) {
    if (!known.has(id.name)) continue;
    const pw = readFileSync(join(root, id.name, CREDENTIAL_FILES.redisPassword), 'utf8').trim();
    lines.push(`user ${id.name} on #${hash(pw)} ${REDIS_RULES[id.role]}`);
  }
  return lines.join('\n') + '\n';
}

function natsAuthConf(ca: Authority, natsDir: string): string {
  const account = ca.account.getPublicKey();
  const system = ca.system.getPublicKey();
  const accountToken = accountJwt(ca.operator, ca.account, 'HYPERNOVA', {
    jetstream: true,
    signingKeys: [ca.signing.getPublicKey()],
  });
  return `# Generated by ensureClusterCredentials: operator mode, the accounts preloaded, TLS required.
operator: "${operatorJwt(ca.operator, 'hypernova', system)}"
system_account: "${system}"
resolver: MEMORY
resolver_preload: {
  ${account}: "${accountToken}"
  ${system}: "${accountJwt(ca.operator, ca.system, 'SYS', { jetstream: false })}"
}
tls {
  cert_file: "${join(natsDir, CREDENTIAL_FILES.cert)}"
  key_file: "${join(natsDir, CREDENTIAL_FILES.key)}"
  ca_file: "${join(natsDir, CREDENTIAL_FILES.ca)}"
  timeout: 5
}
`;
}
