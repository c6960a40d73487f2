import { Construct } from 'constructs';
import { Lazy } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { RuleGroup } from '../../core/rules';
import { GLOBAL_TIER_ENGINES, GlobalTierEngine, renderGlobalRuleFile } from '../../mixin/global-tier';
import { PropertyError, checkHttpUrl } from '../../core/validation';
import { RemoteWriteOptions, checkRemoteWrite } from './remote-write';

/**
 * An external global tier: a horizontally scaled store that the shards remote-write to, whose own rule evaluator runs
 * the global rules and whose Prometheus-compatible query API Grafana reads. The stack then runs no global Prometheus.
 *
 * - `victoriametrics`: shards write to vminsert (or single-node VictoriaMetrics), vmalert evaluates the rules against
 *   vmselect and writes the results back; Grafana reads vmselect. Tested end to end (test/victoria-global-e2e.test.ts).
 * - `mimir`: shards write to the distributor with `X-Scope-OrgID`; the Mimir ruler evaluates; Grafana reads the query
 *   frontend. Configured only.
 * - `thanos`: shards write to Thanos Receive; Thanos Ruler evaluates against the Querier and writes (or is queried)
 *   through it; Grafana reads the Querier. Configured only.
 */
export { GLOBAL_TIER_ENGINES, renderGlobalRuleFile };
export type { GlobalTierEngine };

/** Where the shards push: a remote-write target as `remoteWrite` takes it, without `name` or `contractOnly`. */
export type GlobalTierRemoteWrite = Omit<RemoteWriteOptions, 'name' | 'contractOnly'>;

/** MetricsStack's `prometheus.globalTier`: the engine above the shards, instead of a global Prometheus. */
export interface GlobalTierOptions {
  /** The engine whose rule evaluator runs the global rules. */
  readonly engine: GlobalTierEngine;
  /**
   * The push endpoint every shard sends what the global rules read (the shard rules' outputs and the crawler jobs'
   * `up` and sample counts), with tenancy headers and credentials as in `remoteWrite`, e.g.
   * `http://vminsert.vm.svc:8480/insert/0/prometheus/api/v1/write`,
   * `http://mimir-distributor.mimir.svc:8080/api/v1/push` with `headers: { 'X-Scope-OrgID': 'crawlers' }`,
   * `http://thanos-receive.thanos.svc:19291/api/v1/receive`.
   */
  readonly remoteWrite: GlobalTierRemoteWrite;
  /**
   * The engine's Prometheus query API, Grafana's datasource and the evaluator's: e.g.
   * `http://vmselect.vm.svc:8481/select/0/prometheus`, `http://mimir-query-frontend.mimir.svc:8080/prometheus`,
   * `http://thanos-query.thanos.svc:9090`. `grafana.datasourceUrl` overrides it for Grafana.
   */
  readonly queryUrl: string;
  /**
   * Name of the ConfigMap holding the global rule file, in the evaluator's format, for the evaluator to mount.
   * @default 'proxy-telemetry-global-rules'
   */
  readonly rulesConfigMapName?: string;
}

/** `prometheus.globalTier` checked, with defaults. */
export interface ResolvedGlobalTier {
  readonly engine: GlobalTierEngine;
  readonly remoteWrite: GlobalTierRemoteWrite;
  readonly queryUrl: string;
  readonly rulesConfigMapName: string;
}

/** Key of the rule file in the global rules' ConfigMap. */
export const GLOBAL_RULES_FILE = 'proxy-telemetry.rules.yaml';

/** Name `renderRules()` and `renderPrometheusConfig()` give the external tier's rule file. */
export const GLOBAL_TIER_SERVER = 'global-tier';

/**
 * Checks `prometheus.globalTier`; errors name `<property>.<field>`.
 * @internal
 */
export function resolveGlobalTier(property: string, options: GlobalTierOptions): ResolvedGlobalTier {
  if (typeof options !== 'object' || options === null) throw new PropertyError(property, options, 'must be an object { engine, remoteWrite, queryUrl }');
  if (!GLOBAL_TIER_ENGINES.includes(options.engine)) {
    throw new PropertyError(`${property}.engine`, options.engine, `must be one of ${GLOBAL_TIER_ENGINES.map(e => `'${e}'`).join(', ')}`);
  }
  const rw = options.remoteWrite as RemoteWriteOptions | undefined;
  if (typeof rw !== 'object' || rw === null) throw new PropertyError(`${property}.remoteWrite`, rw, 'must be a remote-write target { url, headers?, basicAuth?, bearerToken? }');
  for (const field of ['name', 'contractOnly'] as const) {
    if (rw[field] !== undefined) throw new PropertyError(`${property}.remoteWrite.${field}`, rw[field], 'is not used for the global tier: the stack names the queue and sends what the global rules read');
  }
  // The same checks as remoteWrite entries (errors name `<property>.remoteWrite[0].<field>`).
  checkRemoteWrite(`${property}.remoteWrite`, [rw]);
  checkHttpUrl(`${property}.queryUrl`, options.queryUrl);
  const rulesConfigMapName = options.rulesConfigMapName ?? 'proxy-telemetry-global-rules';
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(rulesConfigMapName)) {
    throw new PropertyError(`${property}.rulesConfigMapName`, rulesConfigMapName, 'must be a ConfigMap name (lower-case letters, digits, \'-\', \'.\')');
  }
  return { engine: options.engine, remoteWrite: rw, queryUrl: options.queryUrl, rulesConfigMapName };
}

/**
 * Flags of the evaluator as the tests run it, for the README and the mixin: where the rule file goes and what it must
 * read and write. `<query>` and `<write>` are the engine's URLs.
 */
export function evaluatorCommand(engine: GlobalTierEngine, ruleFile: string): string {
  switch (engine) {
    case 'victoriametrics':
      return `vmalert -rule=${ruleFile} -datasource.url=<vmselect /select/<tenant>/prometheus> -remoteWrite.url=<vminsert /insert/<tenant>/prometheus> -notifier.url=<alertmanager>`;
    case 'mimir':
      return `mimirtool rules load --address=<mimir> --id=<tenant> ${ruleFile}`;
    case 'thanos':
      return `thanos rule --rule-file=${ruleFile} --query=<thanos-query> --remote-write.config-file=<receive> --alertmanagers.url=<alertmanager>`;
  }
}

/**
 * The global rules as a ConfigMap the engine's evaluator mounts (`GLOBAL_RULES_FILE`), with the same interface as a
 * Prometheus server's rules so that the stack places groups on it as on a global Prometheus.
 */
export class GlobalTierRules extends Construct {
  public readonly name = GLOBAL_TIER_SERVER;
  private readonly ruleGroups: RuleGroup[] = [];

  constructor(scope: Construct, id: string, private readonly props: { readonly namespace: string; readonly tier: ResolvedGlobalTier; readonly labels: Record<string, string> }) {
    super(scope, id);
    new k8s.KubeConfigMap(this, 'Rules', {
      metadata: {
        name: props.tier.rulesConfigMapName,
        namespace: props.namespace,
        labels: { ...props.labels, 'app.kubernetes.io/component': 'global-rules' },
        annotations: { 'proxy-telemetry.io/evaluator': props.tier.engine },
      },
      data: { [GLOBAL_RULES_FILE]: Lazy.any({ produce: () => this.renderRules() }) },
    });
  }

  public addRuleGroup(group: RuleGroup): void {
    this.ruleGroups.push(group);
  }

  public get groups(): readonly RuleGroup[] {
    return this.ruleGroups;
  }

  public renderRules(): string {
    return renderGlobalRuleFile(this.props.tier.engine, this.ruleGroups);
  }
}
