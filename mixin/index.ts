/**
 * The monitoring mixin as data, as kubernetes-mixin hands it out: recording rules, alerts and dashboards for resolved
 * settings, with no constructs. MetricsStack's backends place this data (a Prometheus rule file and Grafana
 * provisioning, or a PrometheusRule and dashboard ConfigMaps); `proxy-telemetry mixin` writes it as files.
 */
import { AlertOptions, alertGroups, resolveAlertOptions } from '../core/alerts';
import { DestinationGuard, UNBOUNDED_DESTINATIONS } from '../core/destinations';
import { ContractRule, CrawlerJobs, DEFAULT_RULE_INTERVAL_SECONDS, RuleGroup, contractRules, ruleGroups } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { DashboardJson, proxyDashboards } from '../dashboards';

/** What the mixin is built from: MetricsStack's props, resolved. */
export interface MixinSettings {
  /** The vendor model. */
  readonly vendors: VendorCatalog;
  /** `job` label values of the crawler sidecars' two scrape jobs, which the rules select on. */
  readonly jobs: CrawlerJobs;
  /** Sample limits of the two scrape jobs, which the sample-limit alerts compare against. */
  readonly sampleLimits: { readonly totals: number; readonly destinations: number };
  /**
   * How the destination rules bound the destinations.
   * @default UNBOUNDED_DESTINATIONS
   */
  readonly destinations?: DestinationGuard;
  /**
   * Rule evaluation interval in seconds: range totals and hourly averages weigh rule samples by it.
   * @default DEFAULT_RULE_INTERVAL_SECONDS (30)
   */
  readonly ruleIntervalSeconds?: number;
  /**
   * A usage collector (`VendorUsage`) reports what the vendors billed: the reconciliation rules, their alerts and
   * panels.
   * @default false
   */
  readonly usage?: boolean;
  /**
   * Alert thresholds.
   * @default - see AlertOptions
   */
  readonly alerts?: AlertOptions;
  /**
   * Dashboard settings; `enabled: false` leaves them out.
   * @default - the dashboards, with a datasource input for Grafana's import dialog
   */
  readonly dashboards?: {
    readonly enabled?: boolean;
    readonly currencyUnit?: string;
    readonly datasourceUid?: string;
    readonly demoGateways?: boolean;
  };
}

/** The mixin: kubernetes-mixin's `prometheusRules`, `prometheusAlerts` and `grafanaDashboards`, plus the rule records. */
export interface Mixin {
  /** The recording rules one record each, with the group and the placement sharding reads. */
  readonly records: ContractRule[];
  /** The recording rules in their groups, as written to a rule file. */
  readonly prometheusRules: RuleGroup[];
  /** The alerts, with runbook links. */
  readonly prometheusAlerts: RuleGroup[];
  /** The dashboards as Grafana JSON models. */
  readonly grafanaDashboards: DashboardJson[];
}

/** Recording rules, alerts and dashboards for these settings. */
export function proxyMixin(settings: MixinSettings): Mixin {
  const ruleIntervalSeconds = settings.ruleIntervalSeconds ?? DEFAULT_RULE_INTERVAL_SECONDS;
  const records = contractRules({
    vendors: settings.vendors, jobs: settings.jobs, destinations: settings.destinations ?? UNBOUNDED_DESTINATIONS, ruleIntervalSeconds, usage: settings.usage,
  });
  return {
    records,
    prometheusRules: ruleGroups(records, ruleIntervalSeconds),
    prometheusAlerts: alertGroups(settings.vendors, settings.jobs, settings.sampleLimits, resolveAlertOptions(settings.alerts), settings.usage ?? false),
    grafanaDashboards: mixinDashboards(settings),
  };
}

/** The mixin's dashboards alone (none when `dashboards.enabled` is false). */
export function mixinDashboards(settings: MixinSettings): DashboardJson[] {
  const dashboards = settings.dashboards ?? {};
  if (dashboards.enabled === false) return [];
  return proxyDashboards({
    vendors: settings.vendors,
    job: settings.jobs.totals,
    destinationJob: settings.jobs.destinations,
    ruleIntervalSeconds: settings.ruleIntervalSeconds ?? DEFAULT_RULE_INTERVAL_SECONDS,
    currencyUnit: dashboards.currencyUnit,
    datasourceUid: dashboards.datasourceUid,
    demoGateways: dashboards.demoGateways,
    usage: settings.usage ?? false,
  });
}
