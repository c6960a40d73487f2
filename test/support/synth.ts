import { Chart, Testing } from 'cdk8s';
import { IConstruct } from 'constructs';
import { MetricsStack } from '../../lib/metrics-stack';
import { MetricsStackProps } from '../../lib/metrics/metrics-stack-props';
import { KubeObject } from '../../harness/kube-object';

/**
 * Builds constructs in a fresh test chart and returns the synthesized objects. Validates first, as `App.synth()`
 * does (constructs report invalid props through `node.addValidation`), with cdk8s's own message format.
 */
export function synthChart(build: (chart: Chart) => void): KubeObject[] {
  const chart = Testing.chart();
  build(chart);
  validateLikeApp(chart);
  return Testing.synth(chart) as KubeObject[];
}

/** The check `App.synth()` runs before writing (cdk8s lib/app.js `validate`): every construct's validation errors. */
export function validateLikeApp(scope: IConstruct): void {
  const errors = scope.node.findAll().flatMap(c => c.node.validate().map(e => `[${c.node.path}] ${e}`));
  if (errors.length > 0) throw new Error(`Validation failed with the following errors:\n  ${errors.join('\n  ')}`);
}

export function findObject(objects: KubeObject[], kind: string, name: string, namespace?: string): KubeObject {
  const found = objects.find(o => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
  if (!found) {
    throw new Error(`no ${kind} ${namespace ?? '*'}/${name} among: ${objects.map(o => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return found;
}

/** A MetricsStack in a fresh test chart (`build` may add to it before synthesis), and its objects. */
export function synthMetricsStack(props: MetricsStackProps, build?: (stack: MetricsStack) => void): { objects: KubeObject[]; stack: MetricsStack } {
  let stack!: MetricsStack;
  const objects = synthChart(chart => {
    stack = new MetricsStack(chart, 'metrics', props);
    build?.(stack);
  });
  return { objects, stack };
}
