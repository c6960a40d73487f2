import * as kplus from 'cdk8s-plus-27';
import * as YAML from 'yaml';

/** The pod annotation that carries a pod's own ProxyConfig (istio/api `annotation/annotations.yaml`). */
export const PROXY_CONFIG_ANNOTATION = 'proxy.istio.io/config';

/**
 * ProxyConfig `proxyHeaders` that keep a crawler's requests as the crawler wrote them (istio/api
 * `mesh/v1alpha1/proxy.proto` ProxyHeaders; applied to the sidecar's outbound HTTP connection manager by istio/istio
 * `GetProxyHeadersFromProxyConfig`, checked at 1.22–1.28):
 * - `metadataExchangeHeaders.mode: IN_MESH`: no `x-envoy-peer-metadata` / `-id` (base64 pod name, namespace, labels)
 *   to PassthroughCluster and MESH_EXTERNAL clusters (istio/proxy `peer_metadata/filter.cc` skip_external_clusters);
 * - `requestId`: no generated `x-request-id`; `attemptCount`: no `x-envoy-attempt-count` (Istio turns it on for every
 *   virtual host, `allow_any` included); `envoyDebugHeaders`: the router's `suppress_envoy_headers`, no `x-envoy-*`
 *   debug headers either way; `server`: the site's `server` response header passes through instead of "envoy";
 * - `preserveHttp1HeaderCase` (Istio >= 1.25; earlier versions ignore the field, `protomarshal.ApplyJSON` retries
 *   with unknown fields allowed): HTTP/1 header names keep their case instead of Envoy's lower case.
 */
export const TRANSPARENT_PROXY_HEADERS = {
  server: { disabled: true },
  requestId: { disabled: true },
  attemptCount: { disabled: true },
  envoyDebugHeaders: { disabled: true },
  metadataExchangeHeaders: { mode: 'IN_MESH' },
  preserveHttp1HeaderCase: true,
} as const;

/**
 * A `proxy.istio.io/config` value: `existing` (JSON or YAML, as users write it) with the transparent `proxyHeaders`
 * laid over it. Other settings of `existing` are kept; a proxyHeaders setting it already has is replaced.
 */
export function transparentProxyConfig(existing?: string): string {
  let config: Record<string, any> = {};
  if (existing !== undefined && existing.trim() !== '') {
    const parsed = YAML.parse(existing);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error(`'${PROXY_CONFIG_ANNOTATION}' (${existing}) must be a ProxyConfig object`);
    }
    config = parsed;
  }
  return JSON.stringify({ ...config, proxyHeaders: { ...(config.proxyHeaders ?? {}), ...TRANSPARENT_PROXY_HEADERS } });
}

/**
 * What a pod's annotations lack of the transparent proxy headers, as dotted ProxyConfig paths
 * (`proxyHeaders.requestId.disabled`); empty when the sidecar adds none of the headers they turn off.
 */
export function sidecarHeaderGaps(annotations: Record<string, string> | undefined): string[] {
  let config: any = {};
  try {
    config = YAML.parse(annotations?.[PROXY_CONFIG_ANNOTATION] ?? '') ?? {};
  } catch {
    config = {};
  }
  const gaps: string[] = [];
  const walk = (expected: Record<string, unknown>, actual: any, at: string): void => {
    for (const [key, value] of Object.entries(expected)) {
      if (value !== null && typeof value === 'object') walk(value as Record<string, unknown>, actual?.[key], `${at}.${key}`);
      else if (actual?.[key] !== value) gaps.push(`${at}.${key}`);
    }
  };
  walk(TRANSPARENT_PROXY_HEADERS, config?.proxyHeaders, 'proxyHeaders');
  return gaps;
}

/**
 * Gives the pods of a workload you define yourself (a crawler Deployment of your own) the transparent proxy headers,
 * keeping whatever `proxy.istio.io/config` they already carry. VendorCrawler does this for its own pods.
 */
export function makeSidecarTransparent(workload: kplus.Workload): void {
  const existing: string | undefined = workload.podMetadata.toJson().annotations?.[PROXY_CONFIG_ANNOTATION];
  workload.podMetadata.addAnnotation(PROXY_CONFIG_ANNOTATION, transparentProxyConfig(existing));
}
