import { isIP } from 'net';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { PropertyError } from '../../core/validation';

/**
 * A source or destination of traffic in a NetworkPolicy rule: pods and/or namespaces chosen by labels,
 * or an IP block. Selectors and `cidr` are exclusive.
 */
export interface NetworkPeer {
  /**
   * Labels of the namespaces; `{}` selects every namespace. Namespaces carry
   * `kubernetes.io/metadata.name: <name>`.
   * @default - the policy's own namespace (when `podLabels` is set)
   */
  readonly namespaceLabels?: Record<string, string>;
  /**
   * Labels of the pods; `{}` selects every pod.
   * @default - every pod of the selected namespaces
   */
  readonly podLabels?: Record<string, string>;
  /**
   * IP block in CIDR notation, e.g. '10.0.0.0/8'. Ingress from outside the cluster usually arrives
   * from node or load-balancer addresses, depending on the CNI.
   * @default - no IP block
   */
  readonly cidr?: string;
  /**
   * CIDRs inside `cidr` to leave out.
   * @default - none
   */
  readonly except?: string[];
}

/** Protocol of a PolicyPort when none is given. */
export const DEFAULT_PORT_PROTOCOL = 'TCP';

/** A TCP or UDP port. */
export interface PolicyPort {
  /** Port number. */
  readonly port: number;
  /**
   * Protocol.
   * @default DEFAULT_PORT_PROTOCOL ('TCP')
   */
  readonly protocol?: 'TCP' | 'UDP';
}

/**
 * Label every Namespace gets from Kubernetes (≥ 1.21).
 * @internal
 */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_PREFIX = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkLabels(property: string, labels: Record<string, string>): void {
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if ((prefix !== undefined && !LABEL_PREFIX.test(prefix)) || !LABEL_NAME.test(name)) {
      throw new PropertyError(`${property}.${key}`, value, 'has a key that is not a valid label key');
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      throw new PropertyError(`${property}.${key}`, value, 'must be a valid label value: at most 63 letters, digits, \'-\', \'_\' or \'.\'');
    }
  }
}

/**
 * Checks IPv4 or IPv6 CIDR notation, e.g. '10.0.0.0/8' or 'fd00::/8'.
 * @internal
 */
export function checkCidr(property: string, value: string): string {
  const m = typeof value === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(value) : null;
  const family = m ? isIP(m[1]) : 0;
  if (!m || family === 0 || Number(m[2]) > (family === 4 ? 32 : 128)) {
    throw new PropertyError(property, value, 'must be an IPv4 or IPv6 block in CIDR notation, e.g. \'10.0.0.0/8\'');
  }
  return value;
}

/** @internal */
export function checkPort(property: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new PropertyError(property, value, 'must be a port number from 1 to 65535');
  }
  return value;
}

/**
 * Validates a peer list at construct time.
 * @internal
 */
export function checkPeers(property: string, peers: readonly NetworkPeer[]): readonly NetworkPeer[] {
  if (!Array.isArray(peers)) throw new PropertyError(property, peers, 'must be a list of peers');
  peers.forEach((peer, i) => {
    const path = `${property}[${i}]`;
    const selects = peer.namespaceLabels !== undefined || peer.podLabels !== undefined;
    if (peer.cidr !== undefined && selects) {
      throw new PropertyError(path, peer, 'sets both \'cidr\' and label selectors; use one peer for each');
    }
    if (peer.cidr === undefined && !selects) {
      throw new PropertyError(path, peer, 'must set \'cidr\', \'namespaceLabels\' or \'podLabels\'');
    }
    if (peer.except !== undefined && peer.cidr === undefined) {
      throw new PropertyError(`${path}.except`, peer.except, 'needs \'cidr\'');
    }
    if (peer.namespaceLabels) checkLabels(`${path}.namespaceLabels`, peer.namespaceLabels);
    if (peer.podLabels) checkLabels(`${path}.podLabels`, peer.podLabels);
    if (peer.cidr !== undefined) checkCidr(`${path}.cidr`, peer.cidr);
    peer.except?.forEach((c: string, j: number) => checkCidr(`${path}.except[${j}]`, c));
  });
  return peers;
}

/** @internal */
export function toPolicyPeer(peer: NetworkPeer): k8s.NetworkPolicyPeer {
  if (peer.cidr !== undefined) return { ipBlock: { cidr: peer.cidr, except: peer.except } };
  return {
    namespaceSelector: peer.namespaceLabels !== undefined ? { matchLabels: peer.namespaceLabels } : undefined,
    podSelector: peer.podLabels !== undefined ? { matchLabels: peer.podLabels } : undefined,
  };
}

/** @internal */
export function toPolicyPorts(ports: readonly PolicyPort[]): k8s.NetworkPolicyPort[] {
  return ports.map(p => ({ port: k8s.IntOrString.fromNumber(p.port), protocol: p.protocol ?? DEFAULT_PORT_PROTOCOL }));
}

/** Pods with `podLabels` in the namespace `namespace`. */
export function podsIn(namespace: string, podLabels: Record<string, string>): NetworkPeer {
  return { namespaceLabels: { [NAMESPACE_NAME_LABEL]: namespace }, podLabels };
}

/** Cluster DNS: CoreDNS and kube-dns both run in kube-system with `k8s-app: kube-dns`. */
export const DEFAULT_DNS_PEERS: readonly NetworkPeer[] = [podsIn('kube-system', { 'k8s-app': 'kube-dns' })];
/** @internal */
export const DNS_PORTS: readonly PolicyPort[] = [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }];
