import { Construct } from 'constructs';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { VENDOR_POD_LABEL } from '../../core/metric-contract';
import { Vendor } from '../../core/vendor';
import { DNS_PORTS, NetworkPeer, toPolicyPeer, toPolicyPorts } from './peers';

/** Port of istiod that sidecars fetch their configuration (xDS) and certificates from. */
export const ISTIOD_XDS_PORT = 15012;

/** Resolved settings (see CrawlerEgressOptions for the meaning). */
export interface CrawlerEgressPoliciesProps {
  readonly namespaces: readonly string[];
  readonly vendors: readonly Vendor[];
  readonly dns: readonly NetworkPeer[];
  readonly istiod: readonly NetworkPeer[];
}

/**
 * One egress NetworkPolicy per vendor and crawler namespace: the vendor's crawler pods may resolve names,
 * reach istiod, and open connections to their own vendor's gateway ports. Gateway addresses are DNS names
 * whose IPs are unknown here, so the ports are open to any address. Internal to MeshTelemetry.
 */
export class CrawlerEgressPolicies extends Construct {
  constructor(scope: Construct, id: string, props: CrawlerEgressPoliciesProps) {
    super(scope, id);
    for (const ns of props.namespaces) {
      for (const vendor of props.vendors) {
        const ports = [...new Set(vendor.endpoints.map(e => e.port))].sort((a, b) => a - b);
        new k8s.KubeNetworkPolicy(this, `${ns}-${vendor.name}`, {
          metadata: {
            name: `proxy-telemetry-egress-${vendor.name}`,
            namespace: ns,
            labels: { 'app.kubernetes.io/part-of': 'proxy-telemetry', [VENDOR_POD_LABEL]: vendor.name },
          },
          spec: {
            podSelector: { matchLabels: { [VENDOR_POD_LABEL]: vendor.name } },
            policyTypes: ['Egress'],
            egress: [
              { to: props.dns.map(toPolicyPeer), ports: toPolicyPorts(DNS_PORTS) },
              { to: props.istiod.map(toPolicyPeer), ports: toPolicyPorts([{ port: ISTIOD_XDS_PORT }]) },
              { ports: toPolicyPorts(ports.map(port => ({ port }))) },
            ],
          },
        });
      }
    }
  }
}
