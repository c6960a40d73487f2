import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import * as YAML from 'yaml';
import { StandaloneMetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { AlertmanagerOptions } from '../lib/alertmanager/alertmanager-config';
import { VendorCatalog } from '../core/vendor';
import { EVERY_RECEIVER } from './support/all-options-app';
import { AlertmanagerProcess } from './support/alertmanager-process';
import { run } from '../harness/binaries';
import { materializeConfig, promtool } from './support/prometheus-config';
import { PrometheusProcess } from '../harness/prometheus-process';
import { expectValidObjects } from './support/schemas';
import { findObject, synthMetricsStack } from './support/synth';
import { tempDir } from './support/temp-dir';

const vendors = () => new VendorCatalog([{ name: 'vendor-a' }, { name: 'vendor-b' }]);

const stack = (props: Partial<StandaloneMetricsStackProps> = {}) => synthMetricsStack({ vendors: vendors(), crawlerNamespaces: ['crawlers'], ...props });

function writeTemp(name: string, content: string): string {
  const file = path.join(tempDir('am-config'), name);
  fs.writeFileSync(file, content);
  return file;
}

/** `amtool config routes test`: the receivers an alert with these labels goes to. */
function routesTo(configFile: string, labels: string[]): string {
  const r = run('amtool', ['config', 'routes', 'test', `--config.file=${configFile}`, ...labels]);
  if (r.status !== 0) throw new Error(`amtool config routes test failed: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

describe('Alertmanager', () => {
  test('off by default: no Alertmanager objects and no alerting section in the Prometheus config', () => {
    const { objects, stack: metrics } = stack();
    expect(objects.filter(o => o.metadata.name.startsWith('alertmanager'))).toEqual([]);
    expect(YAML.parse(metrics.renderPrometheusConfig()).alerting).toBeUndefined();
    expect(metrics.alertmanagerUrl).toBeUndefined();
  });

  test('every receiver type: config in a ConfigMap, credentials only as files of a user-created Secret; real amtool accepts it', () => {
    // GIVEN / WHEN
    const { objects, stack: metrics } = stack({ alertmanager: EVERY_RECEIVER });

    // THEN
    expect(objects.filter(o => o.metadata.name.startsWith('alertmanager'))).toMatchSnapshot();
    expectValidObjects(objects);
    const yaml = findObject(objects, 'ConfigMap', 'alertmanager-config').data['alertmanager.yml'];
    expect(yaml).toBe(metrics.renderAlertmanagerConfig());
    const config = YAML.parse(yaml);
    expect(config.route).toEqual({
      receiver: 'team-webhook', group_by: ['proxy_vendor', 'alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h',
      routes: [
        { receiver: 'oncall', matchers: ['severity="critical"'], continue: true },
        { receiver: 'mail', matchers: ['alertname=~"ProxyVendor(Spend|Traffic)OverBudget"'] },
      ],
    });
    const [webhook, oncall, mail] = config.receivers;
    expect(webhook.webhook_configs[0]).toEqual({ url: 'https://alerts.example.com/hook', send_resolved: true, http_config: { authorization: { type: 'Bearer', credentials_file: '/etc/alertmanager/secrets/webhook-token' } } });
    expect(oncall.pagerduty_configs).toEqual([{ routing_key_file: '/etc/alertmanager/secrets/pagerduty-routing-key', send_resolved: true }]);
    expect(oncall.slack_configs).toEqual([{ api_url_file: '/etc/alertmanager/secrets/slack-url', channel: '#proxy-alerts', send_resolved: true }]);
    expect(mail.email_configs[0]).toMatchObject({ auth_username: 'alertmanager', auth_password_file: '/etc/alertmanager/secrets/smtp-password', require_tls: true });

    const file = writeTemp('alertmanager.yml', yaml);
    const check = run('amtool', ['check-config', file]);
    expect(check.stdout + check.stderr).toContain('SUCCESS');
    expect(check.status).toBe(0);
    // Routing as Alertmanager itself resolves it.
    expect(routesTo(file, ['severity=critical', 'alertname=ProxyVendorSpendOverBudget'])).toBe('oncall,mail');
    expect(routesTo(file, ['severity=warning', 'alertname=ProxyVendorTrafficOverBudget'])).toBe('mail');
    expect(routesTo(file, ['severity=warning', 'alertname=ProxyVendorRateLimited'])).toBe('team-webhook');

    // The Deployment: restricted, Secret mounted read-only, data on the PVC, no gossip port.
    const deployment = findObject(objects, 'Deployment', 'alertmanager', 'monitoring');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.image).toBe('quay.io/prometheus/alertmanager:v0.27.0');
    expect(container.args).toEqual(['--config.file=/etc/alertmanager/config/alertmanager.yml', '--storage.path=/alertmanager', '--web.listen-address=:9093', '--cluster.listen-address=']);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.volumes).toEqual(expect.arrayContaining([
      { name: 'credentials', secret: { secretName: 'alertmanager-credentials' } },
      { name: 'data', persistentVolumeClaim: { claimName: 'alertmanager-data', readOnly: false } },
    ]));
    expect(container.volumeMounts).toContainEqual({ name: 'credentials', mountPath: '/etc/alertmanager/secrets', readOnly: true });
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(findObject(objects, 'PersistentVolumeClaim', 'alertmanager-data').spec.resources.requests.storage).toBe('2Gi');
    expect(findObject(objects, 'Service', 'alertmanager').spec.ports).toEqual([{ name: 'http', port: 9093, targetPort: 9093 }]);
  });

  test('real amtool rejects a broken config, so the check above can fail', () => {
    const yaml = stack({ alertmanager: EVERY_RECEIVER }).stack.renderAlertmanagerConfig()!;
    const broken = writeTemp('alertmanager.yml', yaml.replace('receiver: mail', 'receiver: nobody'));
    const check = run('amtool', ['check-config', broken]);
    expect(check.status).not.toBe(0);
    expect(check.stdout + check.stderr).toContain('undefined receiver "nobody"');
  });

  test('Prometheus sends alerts to the Alertmanager Service; real promtool accepts the config', () => {
    // GIVEN / WHEN
    const { stack: metrics } = stack({ namespace: 'observability', alertmanager: { receivers: [{ name: 'null' }] } });

    // THEN
    const config = YAML.parse(metrics.renderPrometheusConfig());
    expect(config.alerting).toEqual({ alertmanagers: [{ static_configs: [{ targets: ['alertmanager.observability.svc:9093'] }] }] });
    expect(metrics.alertmanagerUrl).toBe('http://alertmanager.observability.svc:9093');
    const { configFile } = materializeConfig(metrics.renderPrometheusConfig(), metrics.renderRules(), []);
    const check = promtool(['check', 'config', configFile]);
    expect(check.stdout + check.stderr).toContain('SUCCESS');
    expect(check.status).toBe(0);
  });

  test('defaults: emptyDir storage, no Secret mount without credential keys, resources set', () => {
    const { objects } = stack({ alertmanager: { receivers: [{ name: 'hook', webhooks: [{ url: 'http://bridge.tools.svc:8080/' }] }] } });
    const pod = findObject(objects, 'Deployment', 'alertmanager').spec.template.spec;
    expect(pod.volumes.map((v: any) => v.name)).toEqual(['config', 'data']);
    expect(pod.volumes[1]).toEqual({ name: 'data', emptyDir: {} });
    expect(pod.containers[0].resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
    expect(objects.filter(o => o.kind === 'PersistentVolumeClaim').map(o => o.metadata.name)).toEqual(['prometheus-data']);
  });

  test.each([
    [{ receivers: [] }, '\'alertmanager.receivers\' ([]) must list at least one entry'],
    [{ receivers: [{ name: 'a' }, { name: 'a' }] }, '\'alertmanager.receivers[1]\' ("a") is a duplicate'],
    [{ receivers: [{ name: 'a' }], defaultReceiver: 'b' }, '\'alertmanager.defaultReceiver\' ("b") is not a receiver (receivers: a)'],
    [{ receivers: [{ name: 'a' }], routes: [{ receiver: 'x', matchers: ['a="b"'] }] }, '\'alertmanager.routes[0].receiver\' ("x") is not a receiver'],
    [{ receivers: [{ name: 'a' }], routes: [{ receiver: 'a', matchers: ['severity critical'] }] }, '\'alertmanager.routes[0].matchers[0]\' ("severity critical") must be a matcher'],
    [{ receivers: [{ name: 'a', webhooks: [{ url: `https://user:${'hunter2'}@hook.example/` }] }] }, '\'alertmanager.receivers[0].webhooks[0].url\' ("https://***@hook.example/") must not contain credentials: keep them in a Secret'],
    [{ receivers: [{ name: 'a', webhooks: [{ url: 'ftp://hook.example/' }] }] }, '\'alertmanager.receivers[0].webhooks[0].url\' ("ftp://hook.example/") must be an http(s) URL'],
    [{ receivers: [{ name: 'a', slack: [{ apiUrlKey: 'slack url' }] }] }, '\'alertmanager.receivers[0].slack[0].apiUrlKey\' ("slack url") must be a Secret key'],
    [{ receivers: [{ name: 'a', email: [{ to: 'ops', from: 'a@example.com', smarthost: 'smtp:25' }] }] }, '\'alertmanager.receivers[0].email[0].to\' ("ops") must be an e-mail address'],
    [{ receivers: [{ name: 'a', email: [{ to: 'o@example.com', from: 'a@example.com', smarthost: 'smtp' }] }] }, '\'alertmanager.receivers[0].email[0].smarthost\' ("smtp") must be \'host:port\''],
    [{ receivers: [{ name: 'a', email: [{ to: 'o@example.com', from: 'a@example.com', smarthost: 'smtp:25', authPasswordKey: 'pw' }] }] }, 'needs \'authUsername\''],
    [{ receivers: [{ name: 'a' }], groupWait: 'soon' }, '\'alertmanager.groupWait\' ("soon") must be a Prometheus duration'],
    [{ receivers: [{ name: 'a' }], groupBy: ['proxy-vendor'] }, '\'alertmanager.groupBy[0]\' ("proxy-vendor") must be a label name'],
    [{ receivers: [{ name: 'a' }], storageSize: 'lots' }, '\'alertmanager.storageSize\' ("lots") must be a positive Kubernetes quantity'],
    [{ receivers: [{ name: 'a' }], credentialsSecretName: 'My Secret' }, '\'alertmanager.credentialsSecretName\' ("My Secret") must be a DNS name'],
  ])('rejects %j', (alertmanager, message) => {
    expect(() => stack({ alertmanager: alertmanager as AlertmanagerOptions })).toThrow(message);
  });

  test('end to end: a real Prometheus fires a rule, a real Alertmanager routes it to the webhook with the bearer token from its file', async () => {
    // GIVEN a webhook receiver on loopback that records what it gets
    const received: Array<{ authorization?: string; body: any }> = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', c => (body += c));
      req.on('end', () => {
        received.push({ authorization: req.headers.authorization, body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>(resolve => hook.listen(0, '127.0.0.1', resolve));
    const hookPort = (hook.address() as any).port;

    // and the product's configs, with a rule that fires at once
    const { stack: metrics } = stack({
      prometheus: { evaluationInterval: '1s' },
      alertmanager: {
        receivers: [{ name: 'hook', webhooks: [{ url: `http://127.0.0.1:${hookPort}/alerts`, bearerTokenKey: 'hook-token' }] }],
        groupWait: '1s', groupInterval: '1s',
      },
    });
    metrics.addRuleGroup({ name: 'pipeline-check', rules: [{ alert: 'ProxyTelemetryPipelineCheck', expr: 'vector(1)', labels: { proxy_vendor: 'vendor-a', severity: 'warning' } }] });
    const secrets = tempDir('am-secrets');
    fs.writeFileSync(path.join(secrets, 'hook-token'), 's3cr3t-token\n');
    const amConfig = writeTemp('alertmanager.yml', metrics.renderAlertmanagerConfig()!.split('/etc/alertmanager/secrets').join(secrets));

    const am = await AlertmanagerProcess.start(amConfig);
    let prom: PrometheusProcess | undefined;
    try {
      const promConfig = metrics.renderPrometheusConfig().replace('alertmanager.monitoring.svc:9093', `127.0.0.1:${am.port}`);
      const { configFile } = materializeConfig(promConfig, metrics.renderRules(), []);

      // WHEN Prometheus runs (resending every second: an alert sent before the Alertmanager target is set up is dropped)
      prom = await PrometheusProcess.start({ configFile, args: ['--rules.alert.resend-delay=1s'] });

      // THEN the webhook gets the alert, grouped by vendor, with the token read from the Secret file
      const deadline = Date.now() + 30_000;
      while (!received.some(r => r.body.alerts?.some((a: any) => a.labels.alertname === 'ProxyTelemetryPipelineCheck')) && Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 200));
      }
      const delivery = received.find(r => r.body.alerts?.some((a: any) => a.labels.alertname === 'ProxyTelemetryPipelineCheck'));
      if (!delivery) throw new Error(`no notification within 30 s; Alertmanager holds ${JSON.stringify(await am.alerts())}\n${am.logs()}\n${prom.logs()}`);
      expect(delivery.authorization).toBe('Bearer s3cr3t-token');
      expect(delivery.body).toMatchObject({ receiver: 'hook', status: 'firing', groupLabels: { proxy_vendor: 'vendor-a', alertname: 'ProxyTelemetryPipelineCheck' } });
      expect(delivery.body.alerts[0].labels).toMatchObject({ alertname: 'ProxyTelemetryPipelineCheck', proxy_vendor: 'vendor-a', severity: 'warning' });
    } finally {
      await prom?.stop();
      am.stop();
      hook.close();
    }
  }, 60_000);
});
