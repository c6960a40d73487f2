import { isIPv4 } from 'net';
import { KubeObject } from '../../harness/kube-object';

/**
 * NetworkPolicy semantics (networking.k8s.io/v1) as the Kubernetes documentation states them, to ask
 * "may A connect to B on port P" of synthesized policies: a connection needs the source's egress and the
 * destination's ingress to allow it; a pod selected by no policy of a type is not isolated for that type.
 */

export interface PodEndpoint {
  kind: 'pod';
  namespace: string;
  labels: Record<string, string>;
  /** Extra labels of the namespace besides kubernetes.io/metadata.name. */
  namespaceLabels?: Record<string, string>;
}
export interface IpEndpoint {
  kind: 'ip';
  ip: string;
}
export type Endpoint = PodEndpoint | IpEndpoint;

export function pod(namespace: string, labels: Record<string, string>, namespaceLabels: Record<string, string> = {}): PodEndpoint {
  return { kind: 'pod', namespace, labels, namespaceLabels };
}

export function ip(address: string): IpEndpoint {
  return { kind: 'ip', ip: address };
}

function selects(selector: any, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries<string>(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const ok = e.operator === 'In' ? has && e.values.includes(labels[e.key])
      : e.operator === 'NotIn' ? !has || !e.values.includes(labels[e.key])
        : e.operator === 'Exists' ? has
          : e.operator === 'DoesNotExist' ? !has
            : (() => { throw new Error(`unknown operator ${e.operator}`); })();
    if (!ok) return false;
  }
  return true;
}

function ipToInt(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function inCidr(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  if (!isIPv4(address) || !isIPv4(base)) return false;
  const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (ipToInt(address) & mask) >>> 0 === (ipToInt(base) & mask) >>> 0;
}

function namespaceLabels(e: PodEndpoint): Record<string, string> {
  return { ...e.namespaceLabels, 'kubernetes.io/metadata.name': e.namespace };
}

function peerMatches(peer: any, policyNamespace: string, e: Endpoint): boolean {
  if (peer.ipBlock) {
    // ipBlock is meant for addresses outside the cluster; pods are matched by selectors here.
    return e.kind === 'ip' && inCidr(e.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((x: string) => inCidr(e.ip, x));
  }
  if (e.kind !== 'pod') return false;
  const nsOk = peer.namespaceSelector !== undefined ? selects(peer.namespaceSelector, namespaceLabels(e)) : e.namespace === policyNamespace;
  return nsOk && (peer.podSelector === undefined || selects(peer.podSelector, e.labels));
}

function portMatches(ports: any[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some(p => (p.protocol ?? 'TCP') === protocol
    && (p.port === undefined || (p.endPort !== undefined ? port >= p.port && port <= p.endPort : p.port === port)));
}

function allowedBy(policies: KubeObject[], self: PodEndpoint, other: Endpoint, type: 'Ingress' | 'Egress', port: number, protocol: string): boolean {
  const selecting = policies.filter(p => p.kind === 'NetworkPolicy' && p.metadata.namespace === self.namespace
    && (p.spec.policyTypes ?? ['Ingress']).includes(type) && selects(p.spec.podSelector, self.labels));
  if (selecting.length === 0) return true;
  return selecting.some(p => ((type === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? []).some((rule: any) => {
    const peers = type === 'Ingress' ? rule.from : rule.to;
    const peerOk = !peers || peers.length === 0 || peers.some((peer: any) => peerMatches(peer, p.metadata.namespace!, other));
    return peerOk && portMatches(rule.ports, port, protocol);
  }));
}

/** Whether the policies let `from` open a connection to `to` on `port`. */
export function connectionAllowed(policies: KubeObject[], from: Endpoint, to: Endpoint, port: number, protocol: 'TCP' | 'UDP' = 'TCP'): boolean {
  const egress = from.kind === 'pod' ? allowedBy(policies, from, to, 'Egress', port, protocol) : true;
  const ingress = to.kind === 'pod' ? allowedBy(policies, to, from, 'Ingress', port, protocol) : true;
  return egress && ingress;
}
