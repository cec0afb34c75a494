// A service's process life, the same for every service main: --help lists its settings, the
// config comes from the environment, one READY line tells launchers it serves (they parse it),
// and SIGINT/SIGTERM stop it before the process exits.
import { describeConfig, loadConfig, type ConfigOf, type Setting, type SettingsSpec } from './config.js';
import { createLogger, type Logger } from './logger.js';

export interface ServiceSpec<S extends SettingsSpec, T> {
  /** The command, as --help names it: `hypernova-api`. */
  command: string;
  /** The service every log line names. */
  name: string;
  settings: S;
  start(config: ConfigOf<S>, logger: Logger): Promise<T>;
  /** The line printed on stdout once started, without its newline. */
  ready(service: T): string;
  stop(service: T): Promise<void>;
  /** What the log says on a stop signal. */
  stopping?: string;
}

/** Runs a service until a stop signal; resolves once it serves. */
export async function runService<S extends SettingsSpec & { logLevel: Setting<string> }, T>(
  spec: ServiceSpec<S, T>,
): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(`${spec.command}: environment variables\n\n${describeConfig(spec.settings)}`);
    process.exit(0);
  }
  const config = loadConfig(spec.settings);
  // A string by S's constraint, which TypeScript does not follow through ConfigOf's conditional type.
  const logger = createLogger(spec.name, { level: config.logLevel as string });
  const service = await spec.start(config, logger);
  process.stdout.write(`${spec.ready(service)}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, spec.stopping ?? 'stopping');
      spec.stop(service).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}
