import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { synthesizeInto } from '../lib/internal/synthesize';
import { buildAllOptionsApp } from './support/all-options-app';
import { Finding, readText, repoFiles, scanObjects, scanText } from './support/credential-scan';
import { podTemplates, podViolations, PodTemplate } from './support/pod-security';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { tempDir } from './support/temp-dir';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

function readObjects(dir: string): Record<string, KubeObject[]> {
  return Object.fromEntries(fs.readdirSync(dir).filter(f => f.endsWith('.yaml')).sort().map(f =>
    [f, YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map(d => d.toJSON() as KubeObject).filter(Boolean)]));
}

function synthAllOptions(): Record<string, KubeObject[]> {
  const dir = path.join(tempDir('all-options'), 'dist');
  synthesizeInto(dir, buildAllOptionsApp);
  return readObjects(dir);
}

/** Prometheus is the only workload that calls the API server (pod discovery). */
const needsApiToken = (pod: PodTemplate) => pod.labels['app.kubernetes.io/name'] === 'prometheus';

function labelsMatch(selector: any, labels: Record<string, string>): boolean {
  const matchLabels: Record<string, string> = selector?.matchLabels ?? {};
  if (selector?.matchExpressions?.length) throw new Error('matchExpressions in a pod selector: extend labelsMatch');
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

/**
 * What an app holds: `demo`, the demo gateways' namespace; `outside`, the demo's namespace outside the mesh (its
 * leak); `usage`, a usage collector in the monitoring namespace (Prometheus discovers its pod there).
 */
interface Expected { crawlerNamespaces: string[]; monitoring: string; crawlerLevel: string; clusterWide: boolean; demo?: string; outside?: string; usage?: boolean }

const apps: Array<[string, () => Record<string, KubeObject[]>, Expected]> = [
  ['dist/ (the default app)', () => readObjects(DIST), { crawlerNamespaces: ['crawlers'], monitoring: 'monitoring', crawlerLevel: 'privileged', clusterWide: false, demo: 'proxy-demo', outside: 'proxy-demo-outside', usage: true }],
  ['an app with every option on', synthAllOptions, { crawlerNamespaces: ['crawl-eu', 'crawl-us'], monitoring: 'observability', crawlerLevel: 'restricted', clusterWide: true }],
];

describe.each(apps)('security of %s', (_name, load, expected) => {
  const files = load();
  const objects = Object.values(files).flat();
  const pods = podTemplates(objects);
  const serviceAccounts = new Map(objects.filter(o => o.kind === 'ServiceAccount').map(o => [`${o.metadata.namespace}/${o.metadata.name}`, o]));

  test('every object is valid against its schema', () => {
    expectValidObjects(objects);
  });

  test('every pod template meets Pod Security "restricted", read-only root, writable emptyDir/PVC only, requests and limits, no needless token', () => {
    // Prometheus, Grafana, the crawlers (and Alertmanager when on) are all there.
    const names = new Set(pods.map(p => p.labels['app.kubernetes.io/name']));
    expect([...names].sort()).toEqual(expected.clusterWide ? ['alertmanager', 'crawler', 'grafana', 'prometheus'] : ['crawler', 'grafana', 'prometheus', 'proxy-demo-gateway', 'proxy-usage-collector']);
    const violations = pods.map(p => ({ pod: p.where, violations: podViolations(p, { needsApiToken: needsApiToken(p), serviceAccounts }) }));
    expect(violations.filter(v => v.violations.length > 0)).toEqual([]);
  });

  test('every ServiceAccount leaves token mounting to the pod that needs it', () => {
    for (const sa of serviceAccounts.values()) expect({ sa: sa.metadata.name, automount: sa.automountServiceAccountToken }).toEqual({ sa: sa.metadata.name, automount: false });
  });

  test('RBAC: read-only on pods for Prometheus; a ClusterRole only with cluster-wide discovery', () => {
    const roles = objects.filter(o => o.kind === 'Role' || o.kind === 'ClusterRole');
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) {
      expect({ role: role.metadata.name, rules: role.rules }).toEqual({ role: role.metadata.name, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] });
    }
    const clusterRoles = roles.filter(r => r.kind === 'ClusterRole');
    if (expected.clusterWide) {
      expect(clusterRoles.map(r => r.metadata.name)).toEqual(['prometheus-pod-discovery']);
      expect(roles.filter(r => r.kind === 'Role')).toEqual([]);
    } else {
      expect(clusterRoles).toEqual([]);
      // Pod discovery in the crawler namespaces, in the demo gateways' for their own metrics, and in its own for the
      // usage collector's.
      expect(roles.map(r => r.metadata.namespace).sort())
        .toEqual([...expected.crawlerNamespaces, ...(expected.demo ? [expected.demo] : []), ...(expected.usage ? [expected.monitoring] : [])].sort());
    }
    const bindings = objects.filter(o => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    expect(bindings).toHaveLength(roles.length);
    for (const b of bindings) {
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: b.kind === 'RoleBinding' ? 'Role' : 'ClusterRole', name: 'prometheus-pod-discovery' });
      expect(b.subjects).toEqual([{ apiGroup: '', kind: 'ServiceAccount', name: 'prometheus', namespace: expected.monitoring }]);
    }
  });

  // Namespaces outside the mesh: restricted, and every pod isolated both ways.
  const outsideMesh = [expected.monitoring, expected.demo, expected.outside].filter((ns): ns is string => ns !== undefined);

  test('namespaces enforce Pod Security: restricted for monitoring, the demo gateways and the demo\'s pod outside the mesh, the configured level for crawlers, warnings at restricted', () => {
    const namespaces = objects.filter(o => o.kind === 'Namespace');
    expect(namespaces.map(n => n.metadata.name).sort()).toEqual([...expected.crawlerNamespaces, ...outsideMesh].sort());
    for (const ns of namespaces) {
      const level = outsideMesh.includes(ns.metadata.name) ? 'restricted' : expected.crawlerLevel;
      expect({ ns: ns.metadata.name, labels: ns.metadata.labels }).toMatchObject({
        ns: ns.metadata.name,
        labels: { 'pod-security.kubernetes.io/enforce': level, 'pod-security.kubernetes.io/warn': 'restricted' },
      });
    }
  });

  test('NetworkPolicies isolate every pod outside the mesh (monitoring, demo) both ways and every crawler-namespace pod for ingress', () => {
    const policies = objects.filter(o => o.kind === 'NetworkPolicy');
    const isolated = (pod: PodTemplate, type: string) => policies.some(p =>
      p.metadata.namespace === pod.namespace && p.spec.policyTypes.includes(type) && labelsMatch(p.spec.podSelector, pod.labels));
    for (const pod of pods) {
      const types = outsideMesh.includes(pod.namespace) ? ['Ingress', 'Egress'] : ['Ingress'];
      expect({ pod: pod.where, isolated: types.filter(t => isolated(pod, t)) }).toEqual({ pod: pod.where, isolated: types });
    }
    // An unknown pod in a crawler namespace is isolated too (the policy selects every pod).
    for (const ns of expected.crawlerNamespaces) {
      expect(isolated({ where: 'Pod/x', namespace: ns, labels: { app: 'something-else' }, spec: {} }, 'Ingress')).toBe(true);
    }
  });

  test('Grafana: admin from a Secret, anonymous access and sign-up off', () => {
    const grafana = pods.find(p => p.labels['app.kubernetes.io/name'] === 'grafana')!;
    const env = Object.fromEntries(grafana.spec.containers[0].env.map((e: any) => [e.name, e]));
    expect(env.GF_SECURITY_ADMIN_PASSWORD).toEqual({ name: 'GF_SECURITY_ADMIN_PASSWORD', valueFrom: { secretKeyRef: expect.objectContaining({ key: 'admin-password' }) } });
    expect(env.GF_SECURITY_ADMIN_USER.valueFrom.secretKeyRef.key).toBe('admin-user');
    expect(env.GF_AUTH_ANONYMOUS_ENABLED.value).toBe('false');
    expect(env.GF_USERS_ALLOW_SIGN_UP.value).toBe('false');
  });

  test('no credential in the synthesized YAML: no Secret objects, no literal secret env, no inline receiver credentials', () => {
    const findings = Object.entries(files).flatMap(([file, objs]) => scanObjects(file, objs));
    expect(findings).toEqual([]);
  });

  test('scrape protection: sample and label limits on the crawler job', () => {
    const config = YAML.parse(objects.find(o => o.kind === 'ConfigMap' && o.metadata.name === 'prometheus-config')!.data['prometheus.yml']);
    const job = config.scrape_configs.find((j: any) => j.job_name === 'crawler-sidecars');
    expect(job).toMatchObject({ sample_limit: 20000, label_limit: 64, label_name_length_limit: 128, label_value_length_limit: 2048 });
  });
});

describe('the pod checker can fail', () => {
  test('an unhardened pod gets one violation per broken rule', () => {
    // GIVEN a pod template breaking each rule once
    const pod: PodTemplate = {
      where: 'Deployment/x/bad', namespace: 'x', labels: {},
      spec: {
        hostNetwork: true,
        volumes: [{ name: 'host', hostPath: { path: '/var/run' } }, { name: 'cfg', configMap: { name: 'c' } }],
        containers: [{
          name: 'app', image: 'x', ports: [{ containerPort: 80, hostPort: 80 }],
          securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] }, runAsUser: 0 },
          resources: { requests: { cpu: '1' } },
          volumeMounts: [{ name: 'cfg', mountPath: '/etc/x' }],
        }],
      },
    };

    // WHEN
    const violations = podViolations(pod, { needsApiToken: false });

    // THEN
    expect(violations).toEqual([
      'hostNetwork is true',
      'volume host is a hostPath',
      'container app: privileged',
      'container app: allowPrivilegeEscalation is not false',
      'container app: capabilities do not drop ALL',
      'container app: adds capabilities NET_ADMIN',
      'container app: runAsNonRoot is not true',
      'container app: runs as uid 0',
      'container app: seccompProfile is unset, not RuntimeDefault',
      'container app: root filesystem is writable',
      'container app: hostPort 80',
      'container app: configMap mount /etc/x is writable',
      'container app: no memory request',
      'container app: no cpu limit',
      'container app: no memory limit',
      'a service account token is mounted but the pod does not call the API server',
    ]);
  });
});

/** Findings in the repository that are not default credentials, each with its reason. */
const ALLOWED: Array<{ file: RegExp; rule: string; reason: string }> = [
  { file: /^test\/crawler\/fixtures\/key\.pem$/, rule: 'private-key', reason: 'self-signed key of the local TLS test server' },
  { file: /^test\/crawler\/(config|units)\.test\.ts$/, rule: 'url-credentials', reason: 'made-up proxy credentials that the tests prove are parsed and redacted' },
  { file: /^(crawler|gateway)\/README\.md$/, rule: 'url-credentials', reason: 'the documented proxy URL format' },
];

describe('credential scan', () => {
  test('no default or hard-coded credential in any file of the repository', () => {
    const files = repoFiles(ROOT);
    expect(files).toEqual(expect.arrayContaining(['README.md', 'main.ts', 'lib/grafana/grafana-server.ts', 'dist/0003-monitoring.k8s.yaml']));
    const findings: Finding[] = [];
    for (const file of files) {
      const text = readText(path.join(ROOT, file));
      if (text !== undefined) findings.push(...scanText(file, text));
    }
    const allowed = (f: Finding) => ALLOWED.some(a => a.file.test(f.file) && a.rule === f.rule);
    expect(findings.filter(f => !allowed(f))).toEqual([]);
    // Every exception is still needed, so none outlives its reason.
    for (const a of ALLOWED) expect({ allowed: `${a.file} ${a.rule}`, used: findings.some(f => a.file.test(f.file) && f.rule === a.rule) }).toEqual({ allowed: `${a.file} ${a.rule}`, used: true });
  });

  test('the scanner catches planted default credentials (written to a temporary directory, never the repository)', () => {
    // GIVEN files with planted credentials, assembled at run time so this source does not contain them
    const dir = tempDir('planted');
    const pw = ['pass', 'word'].join('');
    const planted: Record<string, { content: string; rules: string[] }> = {
      'grafana.env': { content: `GF_SECURITY_ADMIN_${pw.toUpperCase()}=hunter2\n`, rules: ['grafana-admin-literal'] },
      'values.yaml': { content: `grafana:\n  admin${'P' + pw.slice(1)}: ${['prom', 'operator'].join('-')}\n`, rules: ['grafana-admin-literal', 'well-known-default'] },
      'deploy.sh': { content: `kubectl create secret generic db --from-literal=${pw}=hunter2\n`, rules: ['secret-from-literal'] },
      'login.txt': { content: `log in as ${['admin', 'admin'].join('/')}\n`, rules: ['well-known-default'] },
      'app.ts': { content: `const env = { GF_SECURITY_ADMIN_${pw.toUpperCase()}: kplus.EnvValue.fromValue('x') };\n`, rules: ['grafana-admin-literal'] },
      'alertmanager.yml': {
        content: `receivers:\n  - name: r\n    email_configs:\n      - auth_${pw}: s3cr3t\n    slack_configs:\n      - api_url: https://hooks.slack.com/services/T000/B000/${'x'.repeat(24)}\n`,
        rules: ['config-literal-secret', 'slack-webhook'],
      },
      'proxy.env': { content: `HTTPS_PROXY=http://crawler:${'hunter2'}@gw.example:8080\n`, rules: ['url-credentials'] },
      'deployment.yaml': { content: `env:\n  - name: GF_SECURITY_ADMIN_${pw.toUpperCase()}\n    value: ${'ad' + 'min'}\n`, rules: ['grafana-admin-literal'] },
      'clean.yaml': { content: 'env:\n  - name: GF_SECURITY_ADMIN_USER\n    valueFrom:\n      secretKeyRef: { name: grafana-admin, key: admin-user }\n', rules: [] },
    };
    for (const [file, { content }] of Object.entries(planted)) fs.writeFileSync(path.join(dir, file), content);

    // WHEN
    const found = Object.fromEntries(Object.keys(planted).map(file =>
      [file, [...new Set(scanText(file, fs.readFileSync(path.join(dir, file), 'utf8')).map(f => f.rule))].sort()]));

    // THEN
    expect(found).toEqual(Object.fromEntries(Object.entries(planted).map(([file, p]) => [file, [...p.rules].sort()])));
  });

  test('the object scanner catches a synthesized Secret, a literal secret env and an inline receiver credential', () => {
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'grafana-admin', namespace: 'monitoring' }, stringData: { 'admin-password': 'x' } },
      {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'grafana', namespace: 'monitoring' },
        spec: { template: { spec: { containers: [{ name: 'grafana', env: [{ name: 'GF_SECURITY_ADMIN_PASSWORD', value: 'x' }, { name: 'GF_USERS_ALLOW_SIGN_UP', value: 'false' }] }] } } },
      },
      {
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'alertmanager-config', namespace: 'monitoring' },
        data: { 'alertmanager.yml': YAML.stringify({ route: { receiver: 'r' }, receivers: [{ name: 'r', pagerduty_configs: [{ routing_key: 'x' }], webhook_configs: [{ url: 'http://hook' }] }] }) },
      },
    ];
    expect(scanObjects('planted.yaml', objects).map(f => f.rule)).toEqual(['synthesized-secret', 'literal-secret-env', 'config-literal-secret']);
  });
});
