// Configuration from environment variables: each service declares its settings once (name,
// default, one line of doc) and gets a typed object back; describeConfig() prints the same
// declarations, so the documented defaults are the ones in force.
import { ConfigError } from './errors.js';

export interface Setting<T> {
  readonly env: string;
  readonly default: T;
  readonly doc: string;
  readonly parse: (raw: string) => T;
}

function kind<T>(parse: (raw: string, env: string) => T) {
  return (env: string, def: T, doc: string): Setting<T> => ({
    env,
    default: def,
    doc,
    parse: (raw) => parse(raw, env),
  });
}

export const str = kind<string>((raw) => raw);

export const num = kind<number>((raw, env) => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${env}=${raw}: not a number`);
  return n;
});

export const int = kind<number>((raw, env) => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n)) throw new ConfigError(`${env}=${raw}: not an integer`);
  return n;
});

export const bool = kind<boolean>((raw, env) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${env}=${raw}: not a boolean (true/false)`);
});

export type SettingsSpec = Record<string, Setting<unknown>>;
export type ConfigOf<S extends SettingsSpec> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/** Reads every setting from `env`, falling back to its default when unset or empty. */
export function loadConfig<S extends SettingsSpec>(spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(spec)) {
    const raw = env[setting.env];
    out[key] = raw === undefined || raw === '' ? setting.default : setting.parse(raw);
  }
  return out as ConfigOf<S>;
}

/** One line per setting, `NAME (default: value) doc`, for --help output and READMEs. */
export function describeConfig(spec: SettingsSpec): string {
  return Object.values(spec)
    .map((s) => `${s.env} (default: ${JSON.stringify(s.default)})  ${s.doc}`)
    .join('\n');
}

/** Settings every service shares; services spread these into their own spec. */
export const infraSettings = {
  redisUrl: str('REDIS_URL', 'redis://127.0.0.1:6379', 'Redis holding hosts, allocations and instances'),
  natsUrl: str('NATS_URL', 'nats://127.0.0.1:4222', 'NATS server for events and migration streams'),
  logLevel: str('LOG_LEVEL', 'info', 'pino level: trace, debug, info, warn, error'),
  credentialsDir: str(
    'HYPERNOVA_CREDENTIALS_DIR',
    '',
    "directory (0700) with this service's CA, TLS key, Redis and NATS credentials; empty: none (an open cluster)",
  ),
  metricsPort: int('METRICS_PORT', 0, 'port serving Prometheus /metrics (0: a free port, -1: off)'),
};
