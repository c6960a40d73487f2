import * as kplus from 'cdk8s-plus-27';
import { NetworkPeer } from '../network/peers';
import type { GlobalTierOptions } from './global-tier';
import { RemoteWriteOptions } from './remote-write';
import { PodScrape } from './scrape-config';

/** Prometheus settings. */
export interface PrometheusOptions {
  /**
   * Prometheus image.
   * @default DEFAULT_PROMETHEUS_IMAGE ('quay.io/prometheus/prometheus:v2.53.2')
   */
  readonly image?: string;
  /**
   * How long samples are kept (`--storage.tsdb.retention.time`).
   * @default DEFAULT_RETENTION ('30d')
   */
  readonly retention?: string;
  /**
   * Size cap of the TSDB (`--storage.tsdb.retention.size`), e.g. '45GB'.
   * @default - no size cap
   */
  readonly retentionSize?: string;
  /**
   * Size of the data PersistentVolumeClaim.
   * @default DEFAULT_STORAGE_SIZE ('50Gi')
   */
  readonly storageSize?: string;
  /**
   * StorageClass of the data PersistentVolumeClaim.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
  /**
   * Scrape interval of the crawler sidecars.
   * @default DEFAULT_SCRAPE_INTERVAL ('15s')
   */
  readonly scrapeInterval?: string;
  /**
   * Rule evaluation interval.
   * @default DEFAULT_EVALUATION_INTERVAL ('30s')
   */
  readonly evaluationInterval?: string;
  /**
   * Most samples of totals (requests, connections, bytes, codes, latency: about 50 per pod, whatever it crawls) one
   * crawler sidecar may expose after filtering; a target above it fails its scrape instead of flooding Prometheus.
   * @default DEFAULT_SAMPLE_LIMIT (20000)
   */
  readonly sampleLimit?: number;
  /**
   * Most per-destination samples (request counts one per host and protocol, closed TCP connections one per TLS
   * server name) one crawler sidecar may expose; a pod above it loses its destination detail only: its requests count under destination
   * "(not measured)" and alert CrawlerDestinationsNotMeasured fires. Its totals stay exact.
   * @default DEFAULT_DESTINATION_SAMPLE_LIMIT (20000)
   */
  readonly destinationSampleLimit?: number;
  /**
   * Container resources.
   * @default DEFAULT_PROMETHEUS_RESOURCES (requests 500m CPU / 2Gi, limits 2 CPU / 4Gi)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Discover crawler pods in every namespace (a ClusterRole) instead of the crawler namespaces only
   * (a Role in each): pods of the crawler namespaces, and pods labelled `proxy-vendor` anywhere.
   * @default false
   */
  readonly clusterWideDiscovery?: boolean;
  /**
   * Clients besides Grafana allowed to reach Prometheus (port 9090) when NetworkPolicies are on.
   * `kubectl port-forward` is not subject to NetworkPolicies.
   * @default - none
   */
  readonly allowFrom?: NetworkPeer[];
  /**
   * Prometheus scrapers that split the crawler targets by hashmod of the target address, each target scraped by
   * exactly one. Above 1, a global Prometheus (`prometheus`, the one Grafana queries) receives the shards'
   * rule outputs by remote write and evaluates the vendor-level rules and alerts, unless `globalTier` names an
   * external engine for that; see the README for where each rule runs. Every server gets `storageSize`, `retention`
   * and `resources`.
   * @default DEFAULT_SHARDS (1)
   */
  readonly shards?: number;
  /**
   * An external global tier instead of a global Prometheus: the shards (`shards`, one or more) remote-write to
   * VictoriaMetrics, Mimir or Thanos, the engine's own rule evaluator (vmalert, the Mimir ruler, Thanos Ruler) runs the
   * global rules from the ConfigMap the stack synthesizes, and Grafana reads the engine's query API. See the README,
   * "An external global tier".
   * @default - a global Prometheus when `shards` > 1
   */
  readonly globalTier?: GlobalTierOptions;
  /**
   * Horizontally scaled stores (Mimir, Thanos Receive, VictoriaMetrics) that the Prometheus servers send
   * samples to. Sharded, each shard sends its own series and the global Prometheus only what it computed.
   * @default - none
   */
  readonly remoteWrite?: RemoteWriteOptions[];
  /**
   * Pods scraped besides the crawler sidecars, e.g. `DemoGateway.scrape`: one job each (equal ones once), on the
   * Prometheus Grafana reads, with discovery RBAC and network policy egress for their namespaces.
   * @default - none
   */
  readonly podScrapes?: PodScrape[];
}

/** Props that only mode 'standalone' uses: your Prometheus resource owns them in mode 'prometheus-operator'. */
export const STANDALONE_ONLY_PROMETHEUS = [
  'image', 'retention', 'retentionSize', 'storageSize', 'storageClassName', 'evaluationInterval', 'resources', 'shards', 'remoteWrite', 'globalTier',
  'clusterWideDiscovery', 'allowFrom',
] as const;

/** The Prometheus settings that apply to the PodMonitor; your Prometheus resource owns the rest. */
export type OperatorPrometheusOptions = Omit<PrometheusOptions, typeof STANDALONE_ONLY_PROMETHEUS[number]>;
