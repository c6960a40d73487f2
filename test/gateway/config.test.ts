import * as crawlerConfig from '../../crawler/src/config';
import { GATEWAY_ENV_VARIABLES, generateDemoCa } from '../../gateway';
import { CertificateAuthority } from '../../gateway/src/ca';
import { ConfigError, loadConfig } from '../../gateway/src/config';
import { PARTS } from '../../gateway/src/limiter';
import { cleanup, demoCaFiles, removeTemporaryFiles, spawnGateway, temporaryFile, thrownConfigError } from './helpers';

afterEach(cleanup);
afterAll(removeTemporaryFiles);

function configError(env: NodeJS.ProcessEnv): ConfigError {
  return thrownConfigError(() => loadConfig(env));
}

describe('gateway loadConfig', () => {
  const ca = (): Record<string, string> => ({ CA_CERT_FILE: demoCaFiles().certFile, CA_KEY_FILE: demoCaFiles().keyFile });

  test('defaults', () => {
    const config = loadConfig({ VENDOR: 'acme', ...ca() });
    expect(config).toMatchObject({
      vendor: 'acme',
      port: 8080,
      host: undefined,
      metricsPort: 9102,
      metricsHost: undefined,
      // No site port unless asked for.
      sitePort: undefined,
      siteHost: undefined,
      pageSizes: [
        { bytes: 4096, weight: 3 },
        { bytes: 16384, weight: 5 },
        { bytes: 131072, weight: 1 },
      ],
      rateLimitParts: 0,
      caSource: 'files',
      maxSites: 200,
      logLevel: 'info',
      logIntervalSeconds: 10,
      // No usage API unless asked for.
      usage: undefined,
    });
    expect(config.ca.subject).toContain('CN=gateway test CA');
    // No authentication unless both variables are set.
    expect(config.credentials).toBeUndefined();
  });

  test('every setting', () => {
    const config = loadConfig({
      VENDOR: 'acme',
      PORT: '3128',
      HOST: '0.0.0.0',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      SITE_PORT: '8443',
      SITE_HOST: '127.0.0.2',
      PAGE_SIZES: ' 100 , 2000=7,0=1',
      RATE_LIMIT_SHARE: '0.125',
      PROXY_USERNAME: 'user',
      PROXY_PASSWORD: ' spaces are kept ',
      MAX_SITES: '10',
      LOG_LEVEL: 'DEBUG',
      LOG_INTERVAL_SECONDS: '0.5',
      USAGE_PORT: '9092',
      USAGE_TOKEN: ' abc-DEF_1.2~3+4/5== \n',
      USAGE_BUCKET_SECONDS: '900',
      ...ca(),
    });
    expect(config).toMatchObject({
      port: 3128,
      host: '0.0.0.0',
      metricsPort: 0,
      metricsHost: '127.0.0.1',
      sitePort: 8443,
      siteHost: '127.0.0.2',
      pageSizes: [
        { bytes: 100, weight: 1 },
        { bytes: 2000, weight: 7 },
        { bytes: 0, weight: 1 },
      ],
      rateLimitParts: PARTS / 8,
      credentials: { username: 'user', password: ' spaces are kept ' },
      maxSites: 10,
      logLevel: 'debug',
      logIntervalSeconds: 0.5,
      // The token without the whitespace around it (a newline from `echo` into a Secret).
      usage: { port: 9092, token: 'abc-DEF_1.2~3+4/5==', bucketSeconds: 900 },
    });
    expect(loadConfig({ VENDOR: 'a', RATE_LIMIT_SHARE: '1', ...ca() }).rateLimitParts).toBe(PARTS);
    // 0 is a free port, beside PORT=0; a disabled metrics server's port is free too.
    expect(loadConfig({ VENDOR: 'a', PORT: '0', METRICS_PORT: '0', SITE_PORT: '0', ...ca() })).toMatchObject({ port: 0, sitePort: 0, siteHost: undefined });
    expect(loadConfig({ VENDOR: 'a', METRICS_PORT: '0', SITE_PORT: '9102', ...ca() }).sitePort).toBe(9102);
    expect(loadConfig({ VENDOR: 'a', RATE_LIMIT_SHARE: '.000001', ...ca() }).rateLimitParts).toBe(1);
    expect(loadConfig({ VENDOR: 'a', PORT: '0', USAGE_PORT: '0', USAGE_TOKEN: 't', ...ca() }).usage).toEqual({ port: 0, token: 't', bucketSeconds: 3600 });
    for (const seconds of [1, 60, 86_400]) {
      expect(loadConfig({ VENDOR: 'a', USAGE_PORT: '9092', USAGE_TOKEN: 't', USAGE_BUCKET_SECONDS: String(seconds), ...ca() }).usage?.bucketSeconds).toBe(seconds);
    }
  });

  test('without CA files, a CA is generated for the process', () => {
    const config = loadConfig({ VENDOR: 'acme' });
    expect(config.caSource).toBe('generated');
    expect(config.ca.subject).toContain('ephemeral');
  });

  test('bad values are the ConfigError of the crawler\'s shared environment parsing', () => {
    expect(ConfigError).toBe(crawlerConfig.ConfigError);
    expect(configError({ VENDOR: 'acme', PROXY_USERNAME: 'bob', PROXY_PASSWORD: 'hunter22\n', ...ca() })).toMatchObject({ variable: 'PROXY_PASSWORD', value: '***' });
  });

  test('reads exactly the variables GATEWAY_ENV_VARIABLES lists', () => {
    const read = new Set<string>();
    const env = new Proxy({ VENDOR: 'acme', PROXY_USERNAME: 'u', PROXY_PASSWORD: 'p', ...ca() } as NodeJS.ProcessEnv, {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return target[name as string];
      },
    });
    loadConfig(env);
    expect([...read].sort()).toEqual([...GATEWAY_ENV_VARIABLES].sort());
  });

  const expired = (): string[] => {
    const old = generateDemoCa({ validityDays: 1, now: new Date(Date.now() - 3 * 86_400_000) });
    return [temporaryFile('expired.crt', old.certPem), temporaryFile('expired.key', old.keyPem)];
  };
  const notCa = (): string => {
    // A certificate the demo CA issued for a server: not a CA itself.
    const { certPem, keyPem } = demoCaFiles();
    return temporaryFile('leaf.crt', CertificateAuthority.fromPem(certPem, keyPem).issue('leaf.example').certPem);
  };

  test.each<[string, string, () => NodeJS.ProcessEnv, string]>([
    ['missing VENDOR', 'VENDOR', () => ({ VENDOR: ' ' }), 'is required'],
    ['VENDOR with a space', 'VENDOR', () => ({ VENDOR: 'two words' }), 'printable ASCII'],
    // Which rule each variable gets; the rules themselves are tested with the crawler's
    // configuration (test/crawler/config.test.ts), since both programs share them.
    ['PORT out of range', 'PORT', () => ({ PORT: '70000' }), 'integer from 0 to 65535'],
    ['METRICS_PORT negative', 'METRICS_PORT', () => ({ METRICS_PORT: '-1' }), 'integer from 0 to 65535'],
    ['SITE_PORT not a number', 'SITE_PORT', () => ({ SITE_PORT: 'x' }), 'integer from 0 to 65535'],
    ['SITE_PORT equal to PORT', 'SITE_PORT', () => ({ PORT: '3128', SITE_PORT: '3128' }), 'must differ from PORT (3128)'],
    ['SITE_PORT equal to the default PORT', 'SITE_PORT', () => ({ SITE_PORT: '8080' }), 'must differ from PORT (8080)'],
    ['SITE_PORT equal to METRICS_PORT', 'SITE_PORT', () => ({ METRICS_PORT: '9200', SITE_PORT: '9200' }), 'must differ from METRICS_PORT (9200)'],
    ['BANNER_PORT equal to PORT', 'BANNER_PORT', () => ({ PORT: '3128', BANNER_PORT: '3128' }), 'must differ from PORT (3128)'],
    ['BANNER_PORT equal to SITE_PORT', 'BANNER_PORT', () => ({ SITE_PORT: '8443', BANNER_PORT: '8443' }), 'must differ from SITE_PORT (8443)'],
    ['SITE_HOST without SITE_PORT', 'SITE_HOST', () => ({ SITE_HOST: '0.0.0.0' }), 'has no effect without SITE_PORT'],
    ['PAGE_SIZES empty list', 'PAGE_SIZES', () => ({ PAGE_SIZES: ',' }), 'no sizes'],
    ['PAGE_SIZES with units', 'PAGE_SIZES', () => ({ PAGE_SIZES: '4k=1' }), 'bytes or bytes=weight'],
    ['PAGE_SIZES too large', 'PAGE_SIZES', () => ({ PAGE_SIZES: '99999999' }), 'at most 16777216 bytes'],
    ['PAGE_SIZES weight 0', 'PAGE_SIZES', () => ({ PAGE_SIZES: '1000=0' }), 'positive integer'],
    ['RATE_LIMIT_SHARE above 1', 'RATE_LIMIT_SHARE', () => ({ RATE_LIMIT_SHARE: '1.5' }), 'from 0 to 1'],
    ['RATE_LIMIT_SHARE percent', 'RATE_LIMIT_SHARE', () => ({ RATE_LIMIT_SHARE: '25%' }), 'from 0 to 1'],
    ['RATE_LIMIT_SHARE too precise', 'RATE_LIMIT_SHARE', () => ({ RATE_LIMIT_SHARE: '0.0000001' }), 'at most 6 decimals'],
    ['password without user', 'PROXY_USERNAME', () => ({ PROXY_PASSWORD: 'hunter22' }), 'required when PROXY_PASSWORD'],
    ['user without password', 'PROXY_PASSWORD', () => ({ PROXY_USERNAME: 'bob' }), 'required when PROXY_USERNAME'],
    ['user with a colon', 'PROXY_USERNAME', () => ({ PROXY_USERNAME: 'a:b', PROXY_PASSWORD: 'hunter22' }), "':'"],
    ['password with a newline', 'PROXY_PASSWORD', () => ({ PROXY_USERNAME: 'bob', PROXY_PASSWORD: 'hunter22\n' }), 'trailing newline'],
    ['USAGE_PORT equal to PORT', 'USAGE_PORT', () => ({ PORT: '3128', USAGE_PORT: '3128', USAGE_TOKEN: 't' }), 'must differ from PORT (3128)'],
    ['USAGE_PORT equal to METRICS_PORT', 'USAGE_PORT', () => ({ USAGE_PORT: '9102', USAGE_TOKEN: 't' }), 'must differ from METRICS_PORT (9102)'],
    ['USAGE_PORT equal to BANNER_PORT', 'USAGE_PORT', () => ({ BANNER_PORT: '2525', USAGE_PORT: '2525', USAGE_TOKEN: 't' }), 'must differ from BANNER_PORT (2525)'],
    ['USAGE_PORT without a token', 'USAGE_TOKEN', () => ({ USAGE_PORT: '9092' }), 'is required when USAGE_PORT is set'],
    ['USAGE_TOKEN without USAGE_PORT', 'USAGE_TOKEN', () => ({ USAGE_TOKEN: 'hunter22' }), 'has no effect without USAGE_PORT'],
    ['USAGE_TOKEN with a space', 'USAGE_TOKEN', () => ({ USAGE_PORT: '9092', USAGE_TOKEN: 'hunter22 x' }), 'must be a Bearer token'],
    ['USAGE_BUCKET_SECONDS without USAGE_PORT', 'USAGE_BUCKET_SECONDS', () => ({ USAGE_BUCKET_SECONDS: '60' }), 'has no effect without USAGE_PORT'],
    ['USAGE_BUCKET_SECONDS 0', 'USAGE_BUCKET_SECONDS', () => ({ USAGE_PORT: '9092', USAGE_TOKEN: 't', USAGE_BUCKET_SECONDS: '0' }), 'integer from 1 to 86400'],
    ['USAGE_BUCKET_SECONDS over a day', 'USAGE_BUCKET_SECONDS', () => ({ USAGE_PORT: '9092', USAGE_TOKEN: 't', USAGE_BUCKET_SECONDS: '172800' }), 'integer from 1 to 86400'],
    ['USAGE_BUCKET_SECONDS not dividing a day', 'USAGE_BUCKET_SECONDS', () => ({ USAGE_PORT: '9092', USAGE_TOKEN: 't', USAGE_BUCKET_SECONDS: '7' }), 'must divide 86400'],
    ['MAX_SITES 0', 'MAX_SITES', () => ({ MAX_SITES: '0' }), 'integer from 1 to 10000'],
    ['LOG_LEVEL unknown', 'LOG_LEVEL', () => ({ LOG_LEVEL: 'verbose' }), 'debug, info, warn, error'],
    ['only the certificate', 'CA_KEY_FILE', () => ({ CA_CERT_FILE: demoCaFiles().certFile, CA_KEY_FILE: '' }), 'required when CA_CERT_FILE'],
    ['only the key', 'CA_CERT_FILE', () => ({ CA_CERT_FILE: '', CA_KEY_FILE: demoCaFiles().keyFile }), 'required when CA_KEY_FILE'],
    ['certificate missing', 'CA_CERT_FILE', () => ({ CA_CERT_FILE: '/nonexistent/ca.crt', CA_KEY_FILE: demoCaFiles().keyFile }), 'cannot be read'],
    ['certificate not PEM', 'CA_CERT_FILE', () => ({ CA_CERT_FILE: temporaryFile('junk.crt', 'junk'), CA_KEY_FILE: demoCaFiles().keyFile }), 'not a PEM certificate'],
    ['certificate not a CA', 'CA_CERT_FILE', () => ({ CA_CERT_FILE: notCa(), CA_KEY_FILE: demoCaFiles().keyFile }), 'not a CA certificate'],
    ['certificate expired', 'CA_CERT_FILE', () => ({ CA_CERT_FILE: expired()[0], CA_KEY_FILE: expired()[1] }), 'expired on'],
    ['key not PEM', 'CA_KEY_FILE', () => ({ CA_CERT_FILE: demoCaFiles().certFile, CA_KEY_FILE: temporaryFile('junk.key', 'junk') }), 'not a PEM private key'],
    ['key of another CA', 'CA_KEY_FILE', () => ({ CA_CERT_FILE: demoCaFiles().certFile, CA_KEY_FILE: temporaryFile('other.key', generateDemoCa().keyPem) }), 'does not belong'],
  ])('%s: names %s', (_name, variable, env, reason) => {
    const err = configError({ VENDOR: 'acme', ...ca(), ...env() });
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}=`)).toBe(true);
    expect(err.message).toContain(reason);
    expect(err.message).not.toContain('hunter22');
  });
});

describe('bad configuration in the bundled gateway', () => {
  test('each case exits 2 with a message naming the variable and the value; a password is never shown', async () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ VENDOR: '' }, 'VENDOR', '""'],
      [{ PORT: 'eighty' }, 'PORT', '"eighty"'],
      [{ PORT: '18080', SITE_PORT: '18080' }, 'SITE_PORT', '"18080"'],
      [{ PAGE_SIZES: '4096=x' }, 'PAGE_SIZES', '"4096=x"'],
      [{ RATE_LIMIT_SHARE: '2' }, 'RATE_LIMIT_SHARE', '"2"'],
      [{ PROXY_USERNAME: 'bob', PROXY_PASSWORD: 'hunter22\n' }, 'PROXY_PASSWORD', '"***"'],
      [{ USAGE_PORT: '19092', USAGE_TOKEN: 'hunter22 x' }, 'USAGE_TOKEN', '"***"'],
      [{ USAGE_PORT: '19092' }, 'USAGE_TOKEN', '""'],
      [{ CA_CERT_FILE: '/nonexistent/ca.crt', CA_KEY_FILE: '/nonexistent/ca.key' }, 'CA_CERT_FILE', '"/nonexistent/ca.crt"'],
    ];
    const runs = cases.map(([env]) => spawnGateway(env));
    const exits = await Promise.all(runs.map((r) => r.waitForExit()));
    cases.forEach(([env, variable, shown], i) => {
      const run = runs[i];
      expect({ env, exit: exits[i] }).toEqual({ env, exit: { code: 2, signal: null } });
      expect(run.stderr).toContain(`gateway: invalid configuration: ${variable}=${shown}: `);
      expect(run.lines()).toEqual([expect.objectContaining({ level: 'error', msg: 'invalid configuration', variable })]);
      expect(run.stdout + run.stderr).not.toContain('hunter22');
    });
  });
});
