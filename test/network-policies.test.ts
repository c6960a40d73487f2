import * as YAML from 'yaml';
import { MeshTelemetry, MeshTelemetryProps } from '../lib/mesh-telemetry';
import { StandaloneMetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { VendorCatalog } from '../core/vendor';
import { connectionAllowed, ip, pod } from './support/netpol-eval';
import { injectedPodTargets } from './support/pod-discovery';
import { discoveredTargets, materializeConfig, promtool } from './support/prometheus-config';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart, synthMetricsStack } from './support/synth';

const vendors = () => new VendorCatalog([
  { name: 'vendor-a', endpoints: ['gw.vendor-a.example:22225', 'gw2.vendor-a.example:22226'] },
  { name: 'vendor-b', endpoints: ['proxy.vendor-b.example:7777'] },
]);

const stack = (props: Partial<StandaloneMetricsStackProps> = {}) => synthMetricsStack({ vendors: vendors(), crawlerNamespaces: ['crawlers'], ...props });

function mesh(props: Partial<MeshTelemetryProps> = {}): KubeObject[] {
  return synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), ...props }));
}

const part = { 'app.kubernetes.io/part-of': 'proxy-telemetry' };
const grafana = pod('monitoring', { ...part, 'app.kubernetes.io/name': 'grafana' });
const prometheus = pod('monitoring', { ...part, 'app.kubernetes.io/name': 'prometheus' });
const alertmanager = pod('monitoring', { ...part, 'app.kubernetes.io/name': 'alertmanager' });
const kubeDns = pod('kube-system', { 'k8s-app': 'kube-dns' });
const crawlerA = pod('crawlers', { ...part, 'app.kubernetes.io/name': 'crawler', 'proxy-vendor': 'vendor-a' });
const crawlerB = pod('crawlers', { ...part, 'app.kubernetes.io/name': 'crawler', 'proxy-vendor': 'vendor-b' });
const unlabelled = pod('crawlers', { app: 'batch' });
const ingressNginx = pod('ingress-nginx', { 'app.kubernetes.io/name': 'ingress-nginx' });
const otherPod = pod('default', { app: 'curious' });
const apiServer = ip('172.20.0.1');
const internet = ip('93.184.215.14');

describe('NetworkPolicies of MetricsStack', () => {
  test('sharded, with remote write: shards and the global Prometheus reach each other on 9090, and the store on its port', () => {
    // GIVEN
    const sharded = stack({ prometheus: { shards: 2, remoteWrite: [{ url: 'https://mimir.example/api/v1/push' }, { url: 'http://vm.example:8428/api/v1/write' }] } }).objects;
    const single = stack().objects;
    const shard = pod('monitoring', { ...part, 'app.kubernetes.io/name': 'prometheus', 'app.kubernetes.io/component': 'shard' });
    const globalProm = pod('monitoring', { ...part, 'app.kubernetes.io/name': 'prometheus', 'app.kubernetes.io/component': 'global' });

    // THEN remote write from a shard to the global one, and the global one's scrape of a shard
    expectValidObjects(sharded);
    expect(connectionAllowed(sharded, shard, globalProm, 9090)).toBe(true);
    expect(connectionAllowed(sharded, globalProm, shard, 9090)).toBe(true);
    expect(connectionAllowed(sharded, shard, internet, 443)).toBe(true);
    expect(connectionAllowed(sharded, shard, internet, 8428)).toBe(true);
    expect(connectionAllowed(sharded, shard, internet, 8080)).toBe(false);
    expect(connectionAllowed(sharded, otherPod, globalProm, 9090)).toBe(false);
    // AND a single Prometheus has no peer or store rule
    expect(connectionAllowed(single, prometheus, prometheus, 9090)).toBe(false);
    expect(connectionAllowed(single, prometheus, internet, 8428)).toBe(false);
  });

  test('shards send no alerts; the global Prometheus, which runs every alert, sends them to Alertmanager', () => {
    const { stack: metrics } = stack({ prometheus: { shards: 2 }, alertmanager: { receivers: [{ name: 'ops', webhooks: [{ url: 'https://hooks.example/alert' }] }] } });
    expect(YAML.parse(metrics.renderPrometheusConfig('prometheus')).alerting).toEqual({ alertmanagers: [{ static_configs: [{ targets: ['alertmanager.monitoring.svc:9093'] }] }] });
    for (const shard of ['prometheus-shard-0', 'prometheus-shard-1']) {
      expect(YAML.parse(metrics.renderPrometheusConfig(shard))).not.toHaveProperty('alerting');
      expect(YAML.parse(metrics.renderRules(shard)).groups.flatMap((g: any) => g.rules).filter((r: any) => r.alert)).toEqual([]);
    }
  });

  test('defaults: the policies, valid against the schema', () => {
    const { objects } = stack();
    const policies = objects.filter(o => o.kind === 'NetworkPolicy');
    expect(policies.map(p => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual([
      'monitoring/proxy-telemetry-default-deny', 'monitoring/grafana', 'monitoring/prometheus', 'crawlers/proxy-telemetry-crawler-ingress',
    ]);
    expectValidObjects(objects);
    expect(findObject(objects, 'NetworkPolicy', 'proxy-telemetry-default-deny').spec).toEqual({
      podSelector: { matchLabels: part }, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [],
    });
  });

  test('defaults, as connections: only what each component needs', () => {
    const policies = stack().objects;
    const allowed = (from: any, to: any, port: number, protocol: 'TCP' | 'UDP' = 'TCP') => connectionAllowed(policies, from, to, port, protocol);

    // Grafana: reached through kubectl port-forward only; it queries Prometheus and DNS.
    expect(allowed(ingressNginx, grafana, 3000)).toBe(false);
    expect(allowed(otherPod, grafana, 3000)).toBe(false);
    expect(allowed(grafana, prometheus, 9090)).toBe(true);
    expect(allowed(grafana, kubeDns, 53, 'UDP')).toBe(true);
    expect(allowed(grafana, internet, 443)).toBe(false);
    expect(allowed(grafana, crawlerA, 15090)).toBe(false);
    // Prometheus: from Grafana only; to the API server, DNS and the crawler sidecars' metrics port.
    expect(allowed(otherPod, prometheus, 9090)).toBe(false);
    expect(allowed(crawlerA, prometheus, 9090)).toBe(false);
    expect(allowed(prometheus, grafana, 3000)).toBe(false);
    expect(allowed(prometheus, apiServer, 443)).toBe(true);
    expect(allowed(prometheus, apiServer, 6443)).toBe(true);
    expect(allowed(prometheus, apiServer, 80)).toBe(false);
    expect(allowed(prometheus, kubeDns, 53, 'UDP')).toBe(true);
    expect(allowed(prometheus, kubeDns, 53, 'TCP')).toBe(true);
    expect(allowed(prometheus, crawlerA, 15090)).toBe(true);
    expect(allowed(prometheus, unlabelled, 15090)).toBe(true);
    expect(allowed(prometheus, crawlerA, 9102)).toBe(false);
    expect(allowed(prometheus, pod('default', { app: 'x' }), 15090)).toBe(false);
    // Crawler pods accept nothing but the scrape; their own egress is not restricted by MetricsStack.
    expect(allowed(otherPod, crawlerA, 15090)).toBe(false);
    expect(allowed(crawlerB, crawlerA, 8080)).toBe(false);
    expect(allowed(crawlerA, internet, 443)).toBe(true);
    // Pods of other namespaces are untouched.
    expect(allowed(otherPod, pod('default', { app: 'y' }), 80)).toBe(true);
  });

  test('configured peers: Grafana from an ingress controller, Prometheus from a CIDR, crawlers from a namespace, a fixed API server', () => {
    // GIVEN / WHEN
    const { objects } = stack({
      grafana: { allowFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' }, podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } }] },
      prometheus: { allowFrom: [{ cidr: '10.20.0.0/16', except: ['10.20.5.0/24'] }] },
      networkPolicies: { kubernetesApiCidrs: ['172.20.0.1/32'], kubernetesApiPorts: [443], crawlerAllowFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'queue' } }] },
    });

    // THEN
    expect(objects.filter(o => o.kind === 'NetworkPolicy')).toMatchSnapshot();
    expectValidObjects(objects);
    const allowed = (from: any, to: any, port: number) => connectionAllowed(objects, from, to, port);
    expect(allowed(ingressNginx, grafana, 3000)).toBe(true);
    expect(allowed(ingressNginx, grafana, 9090)).toBe(false);
    expect(allowed(pod('ingress-nginx', { app: 'other' }), grafana, 3000)).toBe(false);
    expect(allowed(ip('10.20.1.7'), prometheus, 9090)).toBe(true);
    expect(allowed(ip('10.20.5.7'), prometheus, 9090)).toBe(false);
    expect(allowed(prometheus, apiServer, 443)).toBe(true);
    expect(allowed(prometheus, apiServer, 6443)).toBe(false);
    expect(allowed(prometheus, internet, 443)).toBe(false);
    expect(allowed(pod('queue', { app: 'dispatcher' }), crawlerA, 8080)).toBe(true);
    expect(allowed(otherPod, crawlerA, 8080)).toBe(false);
  });

  test('with Alertmanager: Prometheus may reach it, it reaches its receivers\' ports and nothing else', () => {
    const { objects } = stack({
      alertmanager: {
        receivers: [
          { name: 'hook', webhooks: [{ url: 'http://bridge.tools.svc:8080/alerts' }] },
          { name: 'mail', email: [{ to: 'ops@example.com', from: 'am@example.com', smarthost: 'smtp.example.com:587' }], slack: [{ apiUrlKey: 'slack-url' }] },
        ],
      },
    });
    const allowed = (from: any, to: any, port: number) => connectionAllowed(objects, from, to, port);
    expect(findObject(objects, 'NetworkPolicy', 'alertmanager').spec.egress[1]).toEqual({ ports: [443, 587, 8080].map(port => ({ port, protocol: 'TCP' })) });
    expect(allowed(prometheus, alertmanager, 9093)).toBe(true);
    expect(allowed(grafana, alertmanager, 9093)).toBe(false);
    expect(allowed(otherPod, alertmanager, 9093)).toBe(false);
    expect(allowed(alertmanager, internet, 443)).toBe(true);
    expect(allowed(alertmanager, internet, 587)).toBe(true);
    expect(allowed(alertmanager, pod('tools', { app: 'bridge' }), 8080)).toBe(true);
    expect(allowed(alertmanager, internet, 25)).toBe(false);
    expect(allowed(alertmanager, prometheus, 9090)).toBe(false);
  });

  test('networkPolicies.enabled false: no NetworkPolicy at all', () => {
    expect(stack({ networkPolicies: { enabled: false } }).objects.filter(o => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  test.each([
    [{ grafana: { allowFrom: [{}] } }, '\'grafana.allowFrom[0]\' ({}) must set \'cidr\', \'namespaceLabels\' or \'podLabels\''],
    [{ grafana: { allowFrom: [{ cidr: '10.0.0.0/8', podLabels: { a: 'b' } }] } }, 'sets both \'cidr\' and label selectors'],
    [{ prometheus: { allowFrom: [{ cidr: '10.0.0.0/33' }] } }, '\'prometheus.allowFrom[0].cidr\' ("10.0.0.0/33") must be an IPv4 or IPv6 block in CIDR notation'],
    [{ prometheus: { allowFrom: [{ podLabels: { a: 'b' }, except: ['10.0.0.0/8'] }] } }, '\'prometheus.allowFrom[0].except\' (["10.0.0.0/8"]) needs \'cidr\''],
    [{ grafana: { allowFrom: [{ podLabels: { 'bad key!': 'x' } }] } }, 'has a key that is not a valid label key'],
    [{ grafana: { allowFrom: [{ namespaceLabels: { team: 'a b' } }] } }, '\'grafana.allowFrom[0].namespaceLabels.team\' ("a b") must be a valid label value'],
    [{ networkPolicies: { kubernetesApiCidrs: ['kubernetes.default'] } }, '\'networkPolicies.kubernetesApiCidrs[0]\' ("kubernetes.default") must be an IPv4 or IPv6 block'],
    [{ networkPolicies: { kubernetesApiPorts: [0] } }, '\'networkPolicies.kubernetesApiPorts[0]\' (0) must be a port number from 1 to 65535'],
    [{ networkPolicies: { kubernetesApiPorts: [] } }, '\'networkPolicies.kubernetesApiPorts\' ([]) must list at least one entry'],
    [{ networkPolicies: { dns: [{ cidr: 'x' }] } }, '\'networkPolicies.dns[0].cidr\' ("x") must be an IPv4 or IPv6 block'],
  ])('rejects %j', (props, message) => {
    expect(() => stack(props as Partial<StandaloneMetricsStackProps>)).toThrow(message);
  });
});

describe('crawler egress (MeshTelemetry.crawlerEgress)', () => {
  test('off by default: no NetworkPolicy from MeshTelemetry', () => {
    expect(mesh().filter(o => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  test('each vendor\'s crawlers reach DNS, istiod and their own gateway ports only', () => {
    // GIVEN / WHEN
    const objects = mesh({ crawlerEgress: {} });

    // THEN
    const policies = objects.filter(o => o.kind === 'NetworkPolicy');
    expect(policies).toMatchSnapshot();
    expectValidObjects(objects);
    expect(policies.map(p => p.metadata.name)).toEqual(['proxy-telemetry-egress-vendor-a', 'proxy-telemetry-egress-vendor-b']);
    // The namespace comes before the policies that live in it.
    expect(objects.findIndex(o => o.kind === 'Namespace')).toBeLessThan(objects.findIndex(o => o.kind === 'NetworkPolicy'));
    const allowed = (from: any, to: any, port: number, protocol: 'TCP' | 'UDP' = 'TCP') => connectionAllowed(objects, from, to, port, protocol);
    const istiod = pod('istio-system', { app: 'istiod' });
    expect(allowed(crawlerA, internet, 22225)).toBe(true);
    expect(allowed(crawlerA, internet, 22226)).toBe(true);
    expect(allowed(crawlerA, internet, 7777)).toBe(false);
    expect(allowed(crawlerB, internet, 7777)).toBe(true);
    expect(allowed(crawlerB, internet, 22225)).toBe(false);
    expect(allowed(crawlerA, internet, 443)).toBe(false);
    expect(allowed(crawlerA, internet, 80)).toBe(false);
    expect(allowed(crawlerA, kubeDns, 53, 'UDP')).toBe(true);
    expect(allowed(crawlerA, kubeDns, 53, 'TCP')).toBe(true);
    expect(allowed(crawlerA, istiod, 15012)).toBe(true);
    expect(allowed(crawlerA, istiod, 15010)).toBe(false);
    expect(allowed(crawlerA, pod('kube-system', { app: 'metrics-server' }), 53, 'UDP')).toBe(false);
    // Pods without a vendor label are not restricted.
    expect(allowed(unlabelled, internet, 443)).toBe(true);
  });

  test('own DNS and istiod peers', () => {
    const objects = mesh({ crawlerEgress: { dns: [{ cidr: '169.254.20.10/32' }], istiod: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'istio-system' }, podLabels: { app: 'istiod', 'istio.io/rev': 'stable' } }] } });
    expect(connectionAllowed(objects, crawlerA, ip('169.254.20.10'), 53, 'UDP')).toBe(true);
    expect(connectionAllowed(objects, crawlerA, kubeDns, 53, 'UDP')).toBe(false);
    expect(connectionAllowed(objects, crawlerA, pod('istio-system', { app: 'istiod', 'istio.io/rev': 'stable' }), 15012)).toBe(true);
    expect(connectionAllowed(objects, crawlerA, pod('istio-system', { app: 'istiod', 'istio.io/rev': 'canary' }), 15012)).toBe(false);
  });

  test('rejects a vendor without gateway endpoints, and bad peers', () => {
    const direct = new VendorCatalog([{ name: 'vendor-a', endpoints: ['gw.vendor-a.example:22225'] }, { name: 'direct' }]);
    expect(() => synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: direct, crawlerEgress: {} })))
      .toThrow('\'crawlerEgress\' ({}) limits crawlers to their vendor gateways, but vendor \'direct\' has no endpoints');
    expect(() => mesh({ crawlerEgress: { istiod: [{ cidr: '10.0.0.0' }] } })).toThrow('\'crawlerEgress.istiod[0].cidr\' ("10.0.0.0") must be an IPv4 or IPv6 block');
  });
});

describe('cluster-wide discovery (prometheus.clusterWideDiscovery)', () => {
  test('a ClusterRole instead of Roles, Prometheus egress to sidecars in any namespace', () => {
    const { objects } = stack({ prometheus: { clusterWideDiscovery: true } });
    expectValidObjects(objects);
    expect(objects.filter(o => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
    expect(findObject(objects, 'ClusterRole', 'prometheus-pod-discovery').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    expect(findObject(objects, 'ClusterRoleBinding', 'prometheus-pod-discovery')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'prometheus-pod-discovery' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }],
    });
    expect(connectionAllowed(objects, prometheus, pod('team-x', { 'proxy-vendor': 'vendor-a' }), 15090)).toBe(true);
    expect(connectionAllowed(objects, prometheus, pod('team-x', { 'proxy-vendor': 'vendor-a' }), 8080)).toBe(false);
  });

  test('real promtool: every pod of the crawler namespaces and vendor-labelled pods elsewhere are discovered, nothing else', () => {
    // GIVEN
    const { stack: metrics } = stack({ prometheus: { clusterWideDiscovery: true } });
    const config = YAML.parse(metrics.renderPrometheusConfig());
    expect(config.scrape_configs[0].kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    const deployment = (namespace: string, name: string, labels: Record<string, string>): KubeObject => ({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
      spec: { template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'x' }] } } },
    });
    const targets = [
      ...injectedPodTargets(deployment('crawlers', 'crawler-vendor-a', { 'proxy-vendor': 'vendor-a' }), { name: 'crawler-vendor-a-1', ip: '10.1.0.1' }),
      ...injectedPodTargets(deployment('crawlers', 'batch', { app: 'batch' }), { name: 'batch-1', ip: '10.1.0.2' }),
      ...injectedPodTargets(deployment('team-x', 'crawler-x', { 'proxy-vendor': 'vendor-b' }), { name: 'crawler-x-1', ip: '10.1.0.3' }),
      ...injectedPodTargets(deployment('shop', 'web', { app: 'web' }), { name: 'web-1', ip: '10.1.0.4' }),
    ];

    // WHEN
    const { configFile } = materializeConfig(metrics.renderPrometheusConfig(), metrics.renderRules(), targets);
    expect(promtool(['check', 'config', configFile]).status).toBe(0);
    const kept = discoveredTargets(configFile, 'crawler-sidecars').map(r => r.labels ?? {}).filter(l => Object.keys(l).length > 0);

    // THEN
    expect(kept.map(l => `${l.namespace}/${l.pod}/${l.proxy_vendor ?? ''}`).sort()).toEqual(['crawlers/batch-1/', 'crawlers/crawler-vendor-a-1/vendor-a', 'team-x/crawler-x-1/vendor-b']);
  });
});
