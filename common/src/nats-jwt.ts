// NATS decentralized auth (operator mode), the small part Hypernova needs: operator, account and
// user JWTs (v2 claims, signed with ed25519 nkeys as the NATS JWT spec says) and creds files.
// nats-server 2.9 verifies the chain operator -> account -> user; a user JWT carries its subject
// permissions, which is what lets an agent mint a user for one migration's subjects only.
import { createHash } from 'node:crypto';
import { nkeys } from 'nats';

export type KeyPair = ReturnType<typeof nkeys.createUser>;

export interface SubjectPermissions {
  pub: { allow?: string[]; deny?: string[] };
  sub: { allow?: string[]; deny?: string[] };
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function encodeJwt(
  type: 'operator' | 'account' | 'user',
  name: string,
  subject: string,
  signer: KeyPair,
  nats: object,
  expiresInS?: number,
): string {
  const iat = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iat,
    iss: signer.getPublicKey(),
    name,
    sub: subject,
    ...(expiresInS ? { exp: iat + expiresInS } : {}),
    nats: { ...nats, type, version: 2 },
  };
  // The spec's jti: a hash of the claims without it, unique per token.
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('hex');
  const signed = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${b64url(signer.sign(new TextEncoder().encode(signed)))}`;
}

/** The claims of a JWT, unverified (the server verifies; callers only read their own tokens). */
export function jwtClaims(jwt: string): { iss: string; sub: string; name: string; nats: Record<string, unknown> } {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as ReturnType<typeof jwtClaims>;
}

export function operatorJwt(operator: KeyPair, name: string, systemAccount: string): string {
  return encodeJwt('operator', name, operator.getPublicKey(), operator, { system_account: systemAccount });
}

/** An account with no limits; JetStream on when `jetstream` (the image object store needs it). */
export function accountJwt(
  operator: KeyPair,
  account: KeyPair,
  name: string,
  opts: { jetstream: boolean; signingKeys?: string[] },
): string {
  const js = opts.jetstream ? -1 : 0;
  const limits = {
    subs: -1,
    data: -1,
    payload: -1,
    imports: -1,
    exports: -1,
    wildcards: true,
    conn: -1,
    leaf: -1,
    mem_storage: js,
    disk_storage: js,
    streams: js,
    consumer: js,
  };
  return encodeJwt('account', name, account.getPublicKey(), operator, {
    limits,
    signing_keys: opts.signingKeys ?? [],
    default_permissions: { pub: {}, sub: {} },
  });
}

/**
 * A user of `account`, signed by the account key itself or one of its signing keys, with
 * `permissions`; it expires after expiresInS when given.
 */
export function userJwt(opts: {
  user: KeyPair;
  account: string;
  signer: KeyPair;
  name: string;
  permissions: SubjectPermissions;
  expiresInS?: number;
}): string {
  const issuedBySigningKey = opts.signer.getPublicKey() !== opts.account;
  return encodeJwt(
    'user',
    opts.name,
    opts.user.getPublicKey(),
    opts.signer,
    {
      ...opts.permissions,
      subs: -1,
      data: -1,
      payload: -1,
      ...(issuedBySigningKey ? { issuer_account: opts.account } : {}),
    },
    opts.expiresInS,
  );
}

/** The creds-file text nats.js's credsAuthenticator and the nats CLI read. */
export function credsFile(jwt: string, user: KeyPair): string {
  return `-----BEGIN NATS USER JWT-----
${jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${text(user.getSeed())}
------END USER NKEY SEED------

*************************************************************
`;
}

/**
 * A creds file for a new user of the account whose signing key is `signingSeed`, with
 * `permissions`, valid for expiresInS: how a holder of a signing key hands out narrow access.
 */
export function mintUserCreds(opts: {
  signingSeed: string;
  account: string;
  name: string;
  permissions: SubjectPermissions;
  expiresInS?: number;
}): string {
  const user = nkeys.createUser();
  const signer = nkeys.fromSeed(new TextEncoder().encode(opts.signingSeed));
  return credsFile(userJwt({ ...opts, user, signer }), user);
}
