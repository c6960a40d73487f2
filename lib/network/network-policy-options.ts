import { NetworkPeer } from './peers';

/** NetworkPolicies of the monitoring namespace and the crawler namespaces. */
export interface NetworkPolicyOptions {
  /**
   * Create the NetworkPolicies. They take effect only with a CNI that enforces them (Calico, Cilium, ...).
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * DNS servers the stack's pods may query (UDP and TCP 53).
   * @default DEFAULT_DNS_PEERS (pods labelled `k8s-app: kube-dns`, CoreDNS or kube-dns, in kube-system)
   */
  readonly dns?: NetworkPeer[];
  /**
   * Kubernetes API server addresses Prometheus may reach for pod discovery. The API server is not a pod,
   * so it cannot be selected by labels.
   * @default - any address, on `kubernetesApiPorts` only
   */
  readonly kubernetesApiCidrs?: string[];
  /**
   * Kubernetes API server ports. Policies see the endpoint port after the Service's translation:
   * 443 on most managed clusters, 6443 on kubeadm.
   * @default DEFAULT_KUBERNETES_API_PORTS ([443, 6443])
   */
  readonly kubernetesApiPorts?: number[];
  /**
   * Peers allowed to reach pods of the crawler namespaces on any port. Otherwise those pods accept
   * only Prometheus's scrapes of the sidecar metrics port (15090).
   * @default - none
   */
  readonly crawlerAllowFrom?: NetworkPeer[];
}

/** Egress restriction of crawler pods (MeshTelemetry). */
export interface CrawlerEgressOptions {
  /**
   * DNS servers crawler pods may query (UDP and TCP 53).
   * @default DEFAULT_DNS_PEERS (pods labelled `k8s-app: kube-dns`, CoreDNS or kube-dns, in kube-system)
   */
  readonly dns?: NetworkPeer[];
  /**
   * istiod, which sidecars fetch configuration and certificates from (TCP 15012).
   * @default DEFAULT_ISTIOD_PEERS (pods labelled `app: istiod` in istio-system)
   */
  readonly istiod?: NetworkPeer[];
}
