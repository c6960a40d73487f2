import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';

export interface DiscoveryRbacProps {
  /** Namespaces Prometheus discovers pods in. */
  readonly namespaces: readonly string[];
  /** Discover pods in every namespace (ClusterRole) instead of in `namespaces` only (Roles). */
  readonly clusterWide: boolean;
  readonly serviceAccount: kplus.ServiceAccount;
  /** Namespace of the ServiceAccount. */
  readonly namespace: string;
  readonly labels: Record<string, string>;
}

/**
 * What pod discovery needs and nothing more: get/list/watch on pods, through a Role and RoleBinding in each
 * crawler namespace, or one ClusterRole and ClusterRoleBinding when cluster-wide discovery is asked for.
 */
export class DiscoveryRbac extends Construct {
  constructor(scope: Construct, id: string, props: DiscoveryRbacProps) {
    super(scope, id);
    const name = 'prometheus-pod-discovery';
    if (props.clusterWide) {
      // The raw kinds: cdk8s-plus adds an empty resourceNames list to ClusterRole rules.
      new k8s.KubeClusterRole(this, 'ClusterRole', {
        metadata: { name, labels: props.labels },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
      });
      new k8s.KubeClusterRoleBinding(this, 'ClusterRoleBinding', {
        metadata: { name, labels: props.labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ apiGroup: '', kind: 'ServiceAccount', name: props.serviceAccount.name, namespace: props.namespace }],
      });
      return;
    }
    for (const ns of props.namespaces) {
      const role = new kplus.Role(this, `Role-${ns}`, { metadata: { name, namespace: ns, labels: props.labels } });
      role.allowRead(kplus.ApiResource.PODS);
      new kplus.RoleBinding(this, `RoleBinding-${ns}`, { metadata: { name, namespace: ns, labels: props.labels }, role }).addSubjects(props.serviceAccount);
    }
  }
}
