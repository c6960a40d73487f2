import { Construct } from 'constructs';
import { DEMO_GATEWAY_JOB, DESTINATION_SCRAPE_JOB, SCRAPE_JOB, USAGE_JOB } from '../../core/metric-contract';
import { CrawlerJobs } from '../../core/rules';
import { PropertyChecks } from '../../core/validation';
import { MixinSettings } from '../../mixin';
import { operatorJobLabel } from '../operator/pod-monitor';
import { MetricsStackMode, MetricsStackProps } from './metrics-stack-props';
import { MetricsSettings, resolveMetricsSettings } from './settings';

/**
 * The `job` label values of the two crawler scrape jobs in a mode: the standalone stack's scrape config names them,
 * prometheus-operator names them `<namespace>/<PodMonitor>`.
 */
export function crawlerJobs(mode: MetricsStackMode, namespace: string): CrawlerJobs {
  return mode === 'prometheus-operator'
    ? { totals: operatorJobLabel(namespace, SCRAPE_JOB), destinations: operatorJobLabel(namespace, DESTINATION_SCRAPE_JOB) }
    : { totals: SCRAPE_JOB, destinations: DESTINATION_SCRAPE_JOB };
}

/**
 * The mixin's settings for resolved MetricsStack settings: what MetricsStack places, and what `proxy-telemetry mixin`
 * writes. `datasourceUid` is the backend's datasource; without it the dashboards get a datasource input for import.
 */
export function mixinSettingsOf(s: MetricsSettings, datasourceUid?: string): MixinSettings {
  return {
    vendors: s.vendors,
    jobs: crawlerJobs(s.mode, s.namespace),
    sampleLimits: { totals: s.sampleLimit, destinations: s.destinationSampleLimit },
    destinations: s.destinations,
    ruleIntervalSeconds: s.ruleIntervalSeconds,
    alerts: s.alerts,
    usage: s.podScrapes.some(t => t.job === USAGE_JOB),
    dashboards: {
      enabled: s.dashboards.enabled,
      currencyUnit: s.dashboards.currencyUnit,
      demoGateways: s.podScrapes.some(t => t.job === DEMO_GATEWAY_JOB),
      datasourceUid,
    },
  };
}

/**
 * The mixin's settings for MetricsStack props, resolved exactly as a MetricsStack with these props resolves them,
 * without building one. Throws an Error listing every invalid prop (`'namespace' ("Ops") must be a DNS label ...`),
 * as synthesis of the stack would.
 */
export function resolveMixinSettings(props: MetricsStackProps): MixinSettings {
  // PropertyChecks report through a construct's validations: a detached root collects them, nothing is synthesized.
  const root = new Construct(undefined as unknown as Construct, '');
  const settings = resolveMetricsSettings(props, new PropertyChecks(root));
  const errors = root.node.validate();
  if (errors.length > 0) throw new Error(`invalid settings:\n  ${errors.join('\n  ')}`);
  return mixinSettingsOf(settings);
}
