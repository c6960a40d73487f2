/**
 * Istio's exact label sets for the outbound (reporter="source") series of a crawler sidecar, plus the
 * target labels our scrape job adds. From istio/proxy istio_stats.cc and testdata/metric/*.yaml.tmpl.
 */
export interface PodRef { pod: string; namespace?: string; vendor?: string; workload?: string }

function sourceLabels(p: PodRef): Record<string, string> {
  const workload = p.workload ?? p.pod.replace(/-[a-z0-9]+-[a-z0-9]+$/, '');
  return {
    reporter: 'source',
    source_workload: workload,
    source_workload_namespace: p.namespace ?? 'crawlers',
    source_principal: 'unknown',
    source_app: 'crawler',
    source_version: 'unknown',
    source_cluster: 'Kubernetes',
    source_canonical_service: 'crawler',
    source_canonical_revision: 'latest',
  };
}

/** Destination labels of an unknown external host reached through PassthroughCluster. */
function passthroughDestination(service: string): Record<string, string> {
  return {
    destination_workload: 'unknown',
    destination_workload_namespace: 'unknown',
    destination_principal: 'unknown',
    destination_app: 'unknown',
    destination_version: 'unknown',
    destination_service: service,
    destination_service_name: 'PassthroughCluster',
    destination_service_namespace: 'unknown',
    destination_cluster: 'unknown',
    destination_canonical_service: 'unknown',
    destination_canonical_revision: 'latest',
  };
}

/** Destination labels of a vendor gateway declared by a MESH_EXTERNAL ServiceEntry. */
function serviceEntryDestination(host: string): Record<string, string> {
  return { ...passthroughDestination(host), destination_service_name: host, destination_service_namespace: 'crawlers' };
}

function targetLabels(p: PodRef, instanceIp = '10.1.0.7'): Record<string, string> {
  return {
    job: 'crawler-sidecars',
    instance: `${instanceIp}:15090`,
    namespace: p.namespace ?? 'crawlers',
    pod: p.pod,
    ...(p.vendor ? { proxy_vendor: p.vendor } : {}),
  };
}

export function series(name: string, labels: Record<string, string>): string {
  const body = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(', ');
  return `${name}{${body}}`;
}

/**
 * A direct HTTP series (HTTP/1.1 and HTTP/2 alike: request_protocol="http"): destination_service is the Host header
 * through PassthroughCluster, and our Telemetry's destination_host (`request.host`) the same.
 */
export function httpSeries(name: string, p: PodRef, host: string, code = 200, extra: Record<string, string> = {}): string {
  return series(name, {
    ...sourceLabels(p), ...passthroughDestination(host),
    request_protocol: 'http', response_code: String(code), grpc_response_status: '', response_flags: code === 0 ? 'UC' : '-',
    connection_security_policy: 'unknown', destination_host: host, ...targetLabels(p), ...extra,
  });
}

/**
 * An HTTP series through an inspected gateway: destination_service is the gateway (its ServiceEntry's cluster),
 * destination_host the target (`host:443` for a CONNECT tunnel), response_code the gateway's answer.
 */
export function gatewayHttpSeries(name: string, p: PodRef, gateway: string, target: string, code = 200, extra: Record<string, string> = {}): string {
  return series(name, {
    ...sourceLabels(p), ...serviceEntryDestination(gateway),
    request_protocol: 'http', response_code: String(code), grpc_response_status: '', response_flags: '-',
    connection_security_policy: 'unknown', destination_host: target, ...targetLabels(p), ...extra,
  });
}

/**
 * A TCP series: HTTPS the crawler encrypts itself (SNI from the TLS inspector; empty, i.e. no label, without one)
 * or a connection to a TCP gateway.
 */
export function tcpSeries(name: string, p: PodRef, dest: { service?: string; gateway?: string; sni?: string }, extra: Record<string, string> = {}): string {
  const destination = dest.gateway ? serviceEntryDestination(dest.gateway) : passthroughDestination(dest.service ?? 'unknown');
  return series(name, {
    ...sourceLabels(p), ...destination,
    request_protocol: 'tcp', response_flags: '-', connection_security_policy: 'unknown',
    ...(dest.sni ? { destination_sni: dest.sni } : {}), ...targetLabels(p), ...extra,
  });
}
