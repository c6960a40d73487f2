import { Construct } from 'constructs';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { PodScrape } from '../prometheus/scrape-config';
import { NAMESPACE_NAME_LABEL, NetworkPeer, PolicyPort, DNS_PORTS, podsIn, toPolicyPeer, toPolicyPorts } from './peers';

/** A workload of the monitoring namespace as the policies see it. */
export interface PolicyWorkload {
  /** Labels that select its pods. */
  readonly podLabels: Record<string, string>;
  /** The port its clients connect to. */
  readonly port: number;
  /** Clients besides the built-in ones. */
  readonly allowFrom: readonly NetworkPeer[];
}

/** Resolved settings of the monitoring NetworkPolicies (see NetworkPolicyOptions for the meaning). */
export interface MonitoringNetworkPoliciesProps {
  readonly namespace: string;
  readonly crawlerNamespaces: readonly string[];
  /** Prometheus discovers crawler pods in every namespace. */
  readonly clusterWideDiscovery: boolean;
  /** Labels every pod of the stack carries. */
  readonly stackPodLabels: Record<string, string>;
  readonly prometheus: PolicyWorkload;
  readonly grafana: PolicyWorkload;
  /** Present when Alertmanager is deployed; `egressPorts` are its receivers' ports. */
  readonly alertmanager?: PolicyWorkload & { readonly egressPorts: readonly PolicyPort[] };
  readonly dns: readonly NetworkPeer[];
  /** Kubernetes API server addresses; undefined means any address. */
  readonly kubernetesApiCidrs?: readonly string[];
  readonly kubernetesApiPorts: readonly number[];
  /** The sidecar port Prometheus scrapes. */
  readonly sidecarMetricsPort: number;
  /** Who else may reach pods in the crawler namespaces, on any port. */
  readonly crawlerAllowFrom: readonly NetworkPeer[];
  /** Prometheus servers talk to each other on their port: shards remote-write to the global one, which scrapes them. */
  readonly prometheusPeers: boolean;
  /** Ports of remote-write stores outside the namespace, to any address. */
  readonly remoteWritePorts: readonly number[];
  /** Pods Prometheus scrapes besides the crawlers: their named metrics port. */
  readonly podScrapes: readonly PodScrape[];
}

interface PolicySpec {
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: Record<string, string>;
  readonly ingress?: k8s.NetworkPolicyIngressRule[];
  readonly egress?: k8s.NetworkPolicyEgressRule[];
}

/**
 * Least-privilege NetworkPolicies for the monitoring namespace (default deny; Grafana from configured
 * sources; Prometheus from Grafana; each workload's egress limited to what it calls) and, in each crawler
 * namespace, ingress to crawler pods only from Prometheus on the sidecar metrics port. Internal to MetricsStack.
 */
export class MonitoringNetworkPolicies extends Construct {
  /** Names of the policies created, as `namespace/name`. */
  public readonly policyNames: string[] = [];
  private readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: MonitoringNetworkPoliciesProps) {
    super(scope, id);
    this.labels = props.stackPodLabels;
    const ns = props.namespace;
    const { prometheus, grafana, alertmanager } = props;
    const dns: k8s.NetworkPolicyEgressRule = { to: props.dns.map(toPolicyPeer), ports: toPolicyPorts(DNS_PORTS) };
    const tcp = (...ports: number[]) => toPolicyPorts(ports.map(port => ({ port })));
    const from = (peers: readonly NetworkPeer[], port: number): k8s.NetworkPolicyIngressRule[] =>
      peers.length > 0 ? [{ from: peers.map(toPolicyPeer), ports: tcp(port) }] : [];

    // Every pod of the stack starts from "nothing in, nothing out"; the policies below open what each needs.
    this.policy('DefaultDeny', { name: 'proxy-telemetry-default-deny', namespace: ns, podSelector: props.stackPodLabels, ingress: [], egress: [] });

    this.policy('Grafana', {
      name: 'grafana', namespace: ns, podSelector: grafana.podLabels,
      ingress: from(grafana.allowFrom, grafana.port),
      egress: [dns, { to: [toPolicyPeer(podsIn(ns, prometheus.podLabels))], ports: tcp(prometheus.port) }],
    });

    const crawlerNamespaces: k8s.NetworkPolicyPeer = props.clusterWideDiscovery
      ? { namespaceSelector: {} }
      : { namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: [...props.crawlerNamespaces] }] } };
    this.policy('Prometheus', {
      name: 'prometheus', namespace: ns, podSelector: prometheus.podLabels,
      ingress: from([podsIn(ns, grafana.podLabels), ...(props.prometheusPeers ? [podsIn(ns, prometheus.podLabels)] : []), ...prometheus.allowFrom], prometheus.port),
      egress: [
        dns,
        // Discovery watches pods through the API server, which is not a pod: allow its address and ports.
        {
          to: props.kubernetesApiCidrs?.map(cidr => ({ ipBlock: { cidr } })),
          ports: tcp(...props.kubernetesApiPorts),
        },
        { to: [crawlerNamespaces], ports: tcp(props.sidecarMetricsPort) },
        ...(alertmanager ? [{ to: [toPolicyPeer(podsIn(ns, alertmanager.podLabels))], ports: tcp(alertmanager.port) }] : []),
        ...(props.prometheusPeers ? [{ to: [toPolicyPeer(podsIn(ns, prometheus.podLabels))], ports: tcp(prometheus.port) }] : []),
        ...props.podScrapes.map(t => ({
          to: [toPolicyPeer(podsIn(t.namespace, t.podLabels))],
          ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromString(t.portName) }],
        })),
        // Remote-write stores live at addresses unknown here: their ports, to any address.
        ...(props.remoteWritePorts.length > 0 ? [{ ports: tcp(...props.remoteWritePorts) }] : []),
      ],
    });

    if (alertmanager) {
      this.policy('Alertmanager', {
        name: 'alertmanager', namespace: ns, podSelector: alertmanager.podLabels,
        ingress: from([podsIn(ns, prometheus.podLabels), ...alertmanager.allowFrom], alertmanager.port),
        // Receivers are outside the cluster at addresses unknown here: their ports, to any address.
        egress: [dns, ...(alertmanager.egressPorts.length > 0 ? [{ ports: toPolicyPorts(alertmanager.egressPorts) }] : [])],
      });
    }

    // Crawlers are clients: the only connections they accept are Prometheus's scrapes of the sidecar.
    for (const crawlerNs of props.crawlerNamespaces) {
      this.policy(`Scrape-${crawlerNs}`, {
        name: 'proxy-telemetry-crawler-ingress', namespace: crawlerNs, podSelector: {},
        ingress: [
          { from: [toPolicyPeer(podsIn(ns, prometheus.podLabels))], ports: tcp(props.sidecarMetricsPort) },
          ...(props.crawlerAllowFrom.length > 0 ? [{ from: props.crawlerAllowFrom.map(toPolicyPeer) }] : []),
        ],
      });
    }
  }

  private policy(id: string, spec: PolicySpec): void {
    new k8s.KubeNetworkPolicy(this, id, {
      metadata: { name: spec.name, namespace: spec.namespace, labels: this.labels },
      spec: {
        podSelector: { matchLabels: spec.podSelector },
        policyTypes: [...(spec.ingress ? ['Ingress'] : []), ...(spec.egress ? ['Egress'] : [])],
        ingress: spec.ingress,
        egress: spec.egress,
      },
    });
    this.policyNames.push(`${spec.namespace}/${spec.name}`);
  }
}
