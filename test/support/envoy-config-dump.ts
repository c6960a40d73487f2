/**
 * An Envoy admin `/config_dump` as `pilot-agent request GET config_dump` returns it (envoy.admin.v3 ConfigDump:
 * one entry per xDS type, dynamic resources under `dynamic_listeners[].active_state.listener`,
 * `dynamic_route_configs[].route_config` and `dynamic_active_clusters[].cluster`, snake_case field names).
 */
export function configDump(parts: { listeners?: object[]; routes?: object[]; clusters?: object[] }): object {
  const at = '2026-11-28T08:00:00.000Z';
  return {
    configs: [
      { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: { node: { id: 'sidecar~10.1.0.7~crawler.crawlers~crawlers.svc.cluster.local' } } },
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: (parts.clusters ?? []).map(cluster => ({ version_info: '1', cluster, last_updated: at })) },
      { '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump', dynamic_listeners: (parts.listeners ?? []).map(listener => ({ name: (listener as { name: string }).name, active_state: { version_info: '1', listener, last_updated: at } })) },
      { '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', dynamic_route_configs: (parts.routes ?? []).map(route_config => ({ version_info: '1', route_config, last_updated: at })) },
    ],
  };
}
