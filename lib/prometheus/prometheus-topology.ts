import { Construct } from 'constructs';
import { SHARD_LABEL, SHARDS_JOB } from '../../core/metric-contract';
import { INTERMEDIATE } from '../../core/rules';
import { PROMETHEUS_PORT, PrometheusServer, PrometheusServerProps } from './prometheus-server';
import {
  DROP_SHARD_PARTIALS, DROP_SHARD_SERIES, GLOBAL_QUEUE_NAME, RECEIVER_PATH, RemoteWriteOptions,
  contractWriteRelabelConfigs, remoteWriteSecretNames, renderRemoteWrite, shardToGlobalWriteRelabelConfigs,
} from './remote-write';
import { isAlertingRule } from '../../core/rules';
import { PodScrape } from './scrape-config';
import { GlobalTierRules, ResolvedGlobalTier } from './global-tier';

/** What every Prometheus server of the stack shares. */
export type CommonServerProps = Omit<PrometheusServerProps, 'name' | 'scrapeCrawlers' | 'shard' | 'extraScrapeConfigs'
| 'externalLabels' | 'remoteWrite' | 'secretNames' | 'extraArgs' | 'podScrapes'>;

export interface PrometheusTopologyProps {
  readonly common: CommonServerProps;
  /** Number of shards; 1 is a single Prometheus that scrapes everything. */
  readonly shards: number;
  /** Value of the crawler targets' `job` label. */
  readonly crawlerJobs: readonly string[];
  readonly remoteWrite: readonly RemoteWriteOptions[];
  /** Pods besides the crawlers, scraped by the main (global) server. */
  readonly podScrapes: readonly PodScrape[];
}

export interface PrometheusTopology {
  /** The server Grafana and users query: the only one, or the global one above the shards. */
  readonly main: PrometheusServer;
  /** Scrapers of one shard of the crawler targets each; empty without sharding. */
  readonly shards: PrometheusServer[];
}

/**
 * The Prometheus servers of a standalone stack.
 *
 * Sharded (`shards` > 1): shard i scrapes the crawler targets whose address hashes to i, evaluates the rules that
 * are complete or summable per shard, and remote-writes their outputs plus the crawler job's `up` (with the
 * external label `prometheus_shard`) to the global Prometheus. The global Prometheus (`prometheus`, the Service
 * Grafana queries) runs Prometheus' remote-write receiver, sums the shard partials, evaluates ratios, cost,
 * constants and alerts, and scrapes the shards' own metrics. Each server is its own Deployment with its own
 * ConfigMap and PVC: a shard's identity is its configuration (the hashmod `keep` and its external label), which a
 * StatefulSet's single pod template could only give its pods through a config templater.
 *
 * User remote-write targets get everything (or the contract) from each shard and only the global Prometheus'
 * own outputs from it, so nothing reaches a store twice.
 */
/** Per-pod intermediates: the global rules read the shards' sums of them, never them. */
const POD_INTERMEDIATES = new Set<string>([INTERMEDIATE.podResponseCodes, INTERMEDIATE.podConnections]);

const shardName = (i: number) => `prometheus-shard-${i}`;

/** The recording rules a shard sends to the global tier: its own, without alerts and per-pod intermediates. */
function sentRecords(shard: PrometheusServer): string[] {
  return shard.groups.flatMap(g => g.rules.flatMap(r => isAlertingRule(r) || POD_INTERMEDIATES.has(r.record) ? [] : [r.record]));
}

/** The user's remote-write entries, each with `extra` relabelling (and the contract's, for `contractOnly` ones). */
function userRemoteWrite(remoteWrite: readonly RemoteWriteOptions[], crawlerJobs: readonly string[], extra: Record<string, unknown>[]): Record<string, unknown>[] {
  return remoteWrite.map(rw => renderRemoteWrite(rw, [...extra, ...(rw.contractOnly ? contractWriteRelabelConfigs(crawlerJobs) : [])]));
}

export function createPrometheusServers(scope: Construct, props: PrometheusTopologyProps): PrometheusTopology {
  const { common, remoteWrite, crawlerJobs } = props;
  const secretNames = remoteWriteSecretNames(remoteWrite);
  const userEntries = (extra: Record<string, unknown>[]) => userRemoteWrite(remoteWrite, crawlerJobs, extra);

  if (props.shards === 1) {
    const main = new PrometheusServer(scope, 'Prometheus', { ...common, remoteWrite: () => userEntries([]), secretNames, podScrapes: props.podScrapes });
    return { main, shards: [] };
  }

  const main = new PrometheusServer(scope, 'Prometheus', {
    ...common,
    labels: { ...common.labels, 'app.kubernetes.io/component': 'global' },
    scrapeCrawlers: false,
    extraArgs: ['--web.enable-remote-write-receiver'],
    podScrapes: props.podScrapes,
    extraScrapeConfigs: [{
      job_name: SHARDS_JOB,
      scrape_interval: common.scrape.scrapeInterval,
      static_configs: [{ targets: Array.from({ length: props.shards }, (_, i) => `${shardName(i)}.${common.namespace}.svc:${PROMETHEUS_PORT}`) }],
    }],
    remoteWrite: () => userEntries([DROP_SHARD_SERIES]),
    secretNames,
  });

  const shards: PrometheusServer[] = [];
  const globalUrl = `http://prometheus.${common.namespace}.svc:${PROMETHEUS_PORT}${RECEIVER_PATH}`;
  for (let i = 0; i < props.shards; i++) {
    const shard: PrometheusServer = new PrometheusServer(scope, `PrometheusShard${i}`, {
      ...common,
      // Alerts run on the global Prometheus only.
      alertmanagers: undefined,
      name: shardName(i),
      labels: { ...common.labels, 'app.kubernetes.io/component': 'shard' },
      shard: { index: i, count: props.shards },
      externalLabels: { [SHARD_LABEL]: String(i) },
      remoteWrite: () => [
        renderRemoteWrite({ url: globalUrl, name: GLOBAL_QUEUE_NAME }, shardToGlobalWriteRelabelConfigs(
          sentRecords(shard), crawlerJobs)),
        ...userEntries([DROP_SHARD_PARTIALS]),
      ],
      secretNames,
    });
    shards.push(shard);
  }
  return { main, shards };
}

/** The servers of a stack whose global tier is an external engine: shards only, and the global rules as a file. */
export interface GlobalTierTopology {
  /** Scrapers of one shard of the crawler targets each (one or more). */
  readonly shards: PrometheusServer[];
  /** The global rules, in a ConfigMap for the engine's evaluator. */
  readonly globalRules: GlobalTierRules;
}

/**
 * Of the shards' own metrics: `up` (the evaluator's PrometheusShardDown reads it), head series and samples appended
 * (the health dashboard's Prometheus panels, which on a global Prometheus show its own).
 */
const SHARD_SELF_SERIES = '(?:up|prometheus_tsdb_head_series|prometheus_tsdb_head_samples_appended_total);prometheus';

/**
 * Shards under an external global tier (`prometheus.globalTier`): shard i scrapes the crawler targets whose address
 * hashes to i (all of them with one shard), evaluates the shard rules and its own remote-write alert, and
 * remote-writes to the engine exactly what a global Prometheus would receive (the shard rules' outputs, the crawler
 * jobs' `up` and sample counts) plus its own `up`; shard 0 also scrapes the other pods (`podScrapes`) and sends
 * their series whole. The global rules go to a ConfigMap in the evaluator's format (GlobalTierRules). User
 * `remoteWrite` entries get each shard's own series, as with a global Prometheus, without its partials.
 */
export function createGlobalTierServers(scope: Construct, props: PrometheusTopologyProps & { readonly globalTier: ResolvedGlobalTier }): GlobalTierTopology {
  const { common, remoteWrite, crawlerJobs, globalTier } = props;
  const secretNames = remoteWriteSecretNames([...remoteWrite, globalTier.remoteWrite]);
  const userEntries = (extra: Record<string, unknown>[]) => userRemoteWrite(remoteWrite, crawlerJobs, extra);
  const shards: PrometheusServer[] = [];
  for (let i = 0; i < props.shards; i++) {
    const podScrapes = i === 0 ? props.podScrapes : [];
    const shard: PrometheusServer = new PrometheusServer(scope, `PrometheusShard${i}`, {
      ...common,
      name: shardName(i),
      labels: { ...common.labels, 'app.kubernetes.io/component': 'shard' },
      shard: props.shards > 1 ? { index: i, count: props.shards } : undefined,
      externalLabels: { [SHARD_LABEL]: String(i) },
      podScrapes,
      remoteWrite: () => {
        const [keep] = shardToGlobalWriteRelabelConfigs(
          sentRecords(shard), crawlerJobs);
        const extra = [SHARD_SELF_SERIES, ...podScrapes.map(p => `.*;${p.job.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)];
        return [
          renderRemoteWrite({ ...globalTier.remoteWrite, name: GLOBAL_QUEUE_NAME }, [{ ...keep, regex: `${keep.regex}|${extra.join('|')}` }]),
          ...userEntries([DROP_SHARD_PARTIALS]),
        ];
      },
      secretNames,
    });
    shards.push(shard);
  }
  const globalRules = new GlobalTierRules(scope, 'GlobalTierRules', { namespace: common.namespace, tier: globalTier, labels: common.labels });
  return { shards, globalRules };
}
