import { ALL_PODS, LABEL } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { VAR } from './queries';

/** The template variables a dashboard can add beside the vendor. */
export type DashboardVariable = 'namespace' | 'pod' | 'destination' | 'topPods';

/**
 * Every template variable: its label, its query, and what its All stands for. The pod variable's All selects the
 * series recorded for all pods (see pickedPods in the queries). The hidden top_pods variable has no All value of its
 * own: Grafana then substitutes the alternation of all its values, the pods of the top lists in the time range.
 */
export const VARIABLES: Readonly<Record<DashboardVariable | 'vendor', { readonly label: string; readonly query: string; readonly allValue?: string; readonly hidden?: boolean }>> = {
  vendor: { label: 'Vendor', query: `label_values(${RULE.crawlerPods}, ${LABEL.vendor})`, allValue: '.*' },
  namespace: { label: 'Namespace', query: `label_values(${RULE.podReceivedBytes}{${LABEL.vendor}=~"$${VAR.vendor}"}, ${LABEL.namespace})`, allValue: '.*' },
  pod: { label: 'Pod', query: `label_values(${RULE.podReceivedBytes}{${LABEL.vendor}=~"$${VAR.vendor}", ${LABEL.namespace}=~"$${VAR.namespace}"}, ${LABEL.pod})`, allValue: ALL_PODS },
  destination: { label: 'Destination', query: `label_values(${RULE.destinationRequests}{${LABEL.vendor}=~"$${VAR.vendor}"}, destination)`, allValue: '.*' },
  topPods: { label: 'Top pods', query: `label_values(${RULE.topPodBytes5m}{${LABEL.vendor}=~"$${VAR.vendor}", ${LABEL.namespace}=~"$${VAR.namespace}"}, ${LABEL.pod})`, hidden: true },
};
