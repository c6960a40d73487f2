import * as fs from 'node:fs';
import { ConfigError, Env, LogSettings, MetricsSettings, logSettings, metricsSettings, read } from '../../runtime/src/env';
import { CONFIG_FILE_VARIABLE, DEFAULT_METRICS_PORT } from './defaults';
import { UsageAuth, UsageConfigError, UsageSource, parseUsageConfig } from './usage-config';

export { ConfigError } from '../../runtime/src/env';

/** A secret as a user name and password (either may be empty), for the redactor. */
export interface Secret {
  readonly username: string;
  readonly password: string;
}

/** An http source's credentials: the headers that carry them, and the secrets to mask in every log line. */
export interface Credentials {
  readonly headers: Record<string, string>;
  readonly secrets: Secret[];
}

export interface CollectorConfig extends LogSettings, MetricsSettings {
  configFile: string;
  sources: UsageSource[];
  /** By vendor; only http sources with `auth`. */
  readonly credentials: Map<string, Credentials>;
}

const CONTROL = /[\x00-\x1f\x7f]/;

/** A credential from the variable the configuration names at `path`, used exactly as given. */
function secretVariable(env: Env, name: string, path: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(name, undefined, `is required: ${path} names it (set it from a Secret)`);
  // Never shown: the variable holds a secret whatever its name.
  if (CONTROL.test(value)) throw new ConfigError(name, '***', `must not contain control characters (a trailing newline from \`echo\` in the Secret?); ${path} names it`);
  return value;
}

function credentialsOf(env: Env, auth: UsageAuth, path: string): Credentials {
  if (auth.type === 'bearer') {
    const token = secretVariable(env, auth.tokenEnv, `${path}.tokenEnv`);
    return { headers: { authorization: `Bearer ${token}` }, secrets: [{ username: '', password: token }] };
  }
  if (auth.type === 'basic') {
    const username = secretVariable(env, auth.usernameEnv, `${path}.usernameEnv`);
    if (username.includes(':')) throw new ConfigError(auth.usernameEnv, '***', `must not contain ':' (Basic authentication); ${path}.usernameEnv names it`);
    const password = secretVariable(env, auth.passwordEnv, `${path}.passwordEnv`);
    return {
      headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
      secrets: [{ username, password }],
    };
  }
  const value = secretVariable(env, auth.valueEnv, `${path}.valueEnv`);
  return { headers: { [auth.name.toLowerCase()]: value }, secrets: [{ username: '', password: value }] };
}

function readUsageFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(CONFIG_FILE_VARIABLE, file, `cannot be read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(CONFIG_FILE_VARIABLE, file, `is not JSON: ${(err as Error).message}`);
  }
}

/** Reads and validates the whole configuration, the usage file and the credentials it names included; throws ConfigError. */
export function loadConfig(env: Env = process.env): CollectorConfig {
  const configFile = read(env, CONFIG_FILE_VARIABLE);
  if (configFile === undefined) throw new ConfigError(CONFIG_FILE_VARIABLE, env[CONFIG_FILE_VARIABLE], 'is required: the path of the JSON usage configuration');
  const metrics = metricsSettings(env, DEFAULT_METRICS_PORT);
  const log = logSettings(env);

  const json = readUsageFile(configFile);
  let sources: UsageSource[];
  try {
    sources = parseUsageConfig(json).sources;
  } catch (err) {
    if (!(err instanceof UsageConfigError)) throw err;
    throw new ConfigError(err.path, err.value, `${err.reason} (in ${configFile})`);
  }

  const credentials = new Map<string, Credentials>();
  sources.forEach((s, i) => {
    if (s.kind === 'http' && s.auth) credentials.set(s.vendor, credentialsOf(env, s.auth, `sources[${i}].auth`));
  });
  return { configFile, sources, credentials, ...metrics, ...log };
}
