import { App, Testing } from 'cdk8s';
import * as operator from '../examples/operator';
import * as sharded from '../examples/sharded';
import * as small from '../examples/small';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';

/** The README's example apps synthesize and validate, so they cannot rot. */
function synth(build: (app: App) => void): KubeObject[] {
  const app = Testing.app();
  build(app);
  return app.charts.flatMap(chart => Testing.synth(chart) as KubeObject[]);
}

const names = (objects: KubeObject[], kind: string) => objects.filter(o => o.kind === kind).map(o => o.metadata.name);
const replicas = (objects: KubeObject[]) => objects.filter(o => o.kind === 'Deployment' && o.metadata.namespace?.startsWith('crawlers'))
  .reduce((n, d) => n + d.spec.replicas, 0);

test('~10 pods (examples/small.ts): one Prometheus and Grafana of its own', () => {
  const objects = synth(small.build);
  expectValidObjects(objects);
  expect(replicas(objects)).toBe(10);
  expect(names(objects, 'Deployment').filter(n => !n.startsWith('crawler-'))).toEqual(['prometheus', 'grafana']);
});

test('~1,000 pods (examples/operator.ts): PodMonitor, PrometheusRule and no monitoring workload of its own', () => {
  const objects = synth(operator.build);
  expectValidObjects(objects);
  expect(replicas(objects)).toBe(1000);
  expect(names(objects, 'Deployment').filter(n => !n.startsWith('crawler-'))).toEqual([]);
  expect(objects.find(o => o.kind === 'PodMonitor')!.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
  expect(objects.find(o => o.kind === 'PrometheusRule')!.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
});

test('~10,000 pods (examples/sharded.ts): 4 shards, a global Prometheus, remote write to Mimir, Grafana on Mimir', () => {
  const objects = synth(sharded.build);
  expectValidObjects(objects);
  expect(replicas(objects)).toBe(10_000);
  expect(names(objects, 'Deployment').filter(n => n.startsWith('prometheus'))).toEqual(['prometheus', ...Array.from({ length: 4 }, (_, i) => `prometheus-shard-${i}`)]);
  const shardConfig = objects.find(o => o.kind === 'ConfigMap' && o.metadata.name === 'prometheus-shard-3-config')!.data['prometheus.yml'];
  expect(shardConfig).toContain('url: http://mimir-distributor.mimir.svc:8080/api/v1/push');
  expect(objects.find(o => o.kind === 'ConfigMap' && o.metadata.name === 'grafana-provisioning')!.data['datasources.yaml']).toContain('http://mimir-query-frontend.mimir.svc:8080/prometheus');
});
