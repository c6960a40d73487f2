/**
 * Checks of the mesh a stack is deployed into: before applying (`preflight`: the cluster, Istio's version, CRDs,
 * mesh config and conflicting Telemetry resources) and after the rollouts (`sidecarChecks`: what a running
 * crawler sidecar really got from istiod, read from Envoy's config dump). Pure logic over a kubectl runner.
 */
import * as YAML from 'yaml';
import { VENDOR_POD_LABEL } from '../core/metric-contract';

export interface KubectlResult { status: number; stdout: string; stderr: string }
export type Kubectl = (args: string[]) => KubectlResult;

/** The oldest Istio whose Telemetry API, EnvoyFilter listener patches and CONNECT proxying (Envoy >= 1.30) the stack relies on. */
export const MIN_ISTIO = { major: 1, minor: 22 };

/** What the synthesized manifests configure in the crawler namespaces. */
export interface MeshExpectations {
  crawlerNamespaces: string[];
  /** Ports with an HTTP listener (the `proxy-telemetry-http-<port>` ServiceEntries). */
  httpPorts: number[];
  /** The TLS inspector EnvoyFilter on virtualOutbound. */
  sniInspection: boolean;
  /** Inspected gateway endpoints and the names of their routes. */
  inspectedGateways: Array<{ host: string; port: number; routePrefix: string }>;
}

interface ManifestObject { kind: string; metadata: { name: string; namespace?: string }; spec?: any }

/** Reads the expectations from synthesized objects. */
export function meshExpectations(objects: ManifestObject[]): MeshExpectations {
  const telemetries = objects.filter(o => o.kind === 'Telemetry' && o.metadata.name === 'proxy-telemetry');
  const ns = telemetries[0]?.metadata.namespace;
  const inNs = (o: ManifestObject) => o.metadata.namespace === ns;
  return {
    crawlerNamespaces: telemetries.map(t => t.metadata.namespace ?? 'default'),
    httpPorts: objects.filter(o => o.kind === 'ServiceEntry' && inNs(o) && o.metadata.name.startsWith('proxy-telemetry-http-')).map(o => o.spec.ports[0].number),
    sniInspection: objects.some(o => o.kind === 'EnvoyFilter' && inNs(o) && o.metadata.name === 'proxy-telemetry-sni'),
    inspectedGateways: objects.filter(o => o.kind === 'EnvoyFilter' && inNs(o) && o.metadata.name.startsWith('proxy-vendor-')).map(o => {
      const cluster: string = o.spec.configPatches.find((p: any) => p.applyTo === 'CLUSTER').match.cluster.name;
      const [, port, , host] = cluster.split('|');
      return { host, port: Number(port), routePrefix: o.metadata.name };
    }),
  };
}

export interface CheckReport { errors: string[]; warnings: string[]; notes: string[] }

const json = (r: KubectlResult): any => JSON.parse(r.stdout);
const firstLine = (text: string) => text.trim().split('\n')[0] ?? '';

/**
 * Before applying: fails on what would make the stack apply but measure nothing (or wrongly). Errors from
 * kubectl itself (no cluster, unknown context, no permission) are reported as kubectl gives them.
 */
export function preflight(kubectl: Kubectl, expected: MeshExpectations): CheckReport {
  const report: CheckReport = { errors: [], warnings: [], notes: [] };
  const server = kubectl(['get', '--raw', '/version']);
  if (server.status !== 0) {
    report.errors.push(`kubectl cannot reach the cluster: ${server.stderr.trim() || `exit code ${server.status}`}`);
    return report;
  }

  const crds = ['telemetries.telemetry.istio.io', 'serviceentries.networking.istio.io', 'sidecars.networking.istio.io', 'envoyfilters.networking.istio.io'];
  const crd = kubectl(['get', 'crd', ...crds, '-o', 'name']);
  if (crd.status !== 0) {
    report.errors.push(/NotFound|not found/i.test(crd.stderr)
      ? `Istio is not installed in this cluster (its CRDs are missing): install Istio >= ${MIN_ISTIO.major}.${MIN_ISTIO.minor} first, e.g. \`istioctl install --set profile=minimal\`.\n${crd.stderr.trim()}`
      : `kubectl get crd failed: ${crd.stderr.trim()}`);
    return report;
  }

  // istiod's version, from its image tag (every revision).
  const istiod = kubectl(['get', 'deployments', '--all-namespaces', '-l', 'app=istiod', '-o', 'json']);
  if (istiod.status !== 0) {
    report.errors.push(`kubectl get deployments -l app=istiod failed: ${istiod.stderr.trim()}`);
    return report;
  }
  const deployments: any[] = json(istiod).items ?? [];
  if (deployments.length === 0) report.errors.push('no istiod Deployment (label app=istiod) in the cluster: Istio\'s CRDs exist but its control plane does not run');
  const istiodNamespaces = new Set<string>();
  for (const d of deployments) {
    istiodNamespaces.add(d.metadata.namespace);
    const image: string = d.spec?.template?.spec?.containers?.[0]?.image ?? '';
    const m = /:(\d+)\.(\d+)\.(\d+)[^/]*$/.exec(image);
    const where = `${d.metadata.namespace}/${d.metadata.name}`;
    if (!m) report.warnings.push(`cannot tell the Istio version of ${where} from its image '${image}': Istio >= ${MIN_ISTIO.major}.${MIN_ISTIO.minor} is required`);
    else if (Number(m[1]) < MIN_ISTIO.major || (Number(m[1]) === MIN_ISTIO.major && Number(m[2]) < MIN_ISTIO.minor)) {
      report.errors.push(`${where} runs Istio ${m[1]}.${m[2]}.${m[3]}; the stack needs Istio >= ${MIN_ISTIO.major}.${MIN_ISTIO.minor} (Telemetry API v1, EnvoyFilter listener patches, CONNECT through Envoy >= 1.30)`);
    } else report.notes.push(`${where}: Istio ${m[1]}.${m[2]}.${m[3]}`);
  }

  // The Telemetry resources name the provider 'prometheus': it must be the Prometheus provider. Istio adds it to
  // every mesh config unless one of the same name replaces it (istio/istio pkg/config/mesh/mesh.go ApplyMeshConfig).
  for (const ns of istiodNamespaces) {
    const maps = kubectl(['get', 'configmaps', '-n', ns, '-o', 'json']);
    if (maps.status !== 0) {
      report.warnings.push(`cannot read the mesh config in ${ns}: ${firstLine(maps.stderr)}`);
      continue;
    }
    for (const cm of (json(maps).items ?? []).filter((c: any) => /^istio(-.+)?$/.test(c.metadata.name) && c.data?.mesh)) {
      let mesh: any;
      try {
        mesh = YAML.parse(cm.data.mesh) ?? {};
      } catch (err) {
        report.warnings.push(`ConfigMap ${ns}/${cm.metadata.name}: its mesh config is not YAML (${(err as Error).message})`);
        continue;
      }
      const provider = (mesh.extensionProviders ?? []).find((p: any) => p?.name === 'prometheus');
      if (provider && !('prometheus' in provider)) {
        report.errors.push(`ConfigMap ${ns}/${cm.metadata.name}: meshConfig.extensionProviders 'prometheus' is not a Prometheus provider (${Object.keys(provider).filter(k => k !== 'name').join(', ')}); the stack's Telemetry resources select the provider by that name`);
      }
    }
  }

  // Istio applies one selector-less Telemetry per namespace: another one there makes ours ignored (or it).
  const telemetries = kubectl(['get', 'telemetries.telemetry.istio.io', '--all-namespaces', '-o', 'json']);
  if (telemetries.status !== 0) {
    report.errors.push(`kubectl get telemetries failed: ${telemetries.stderr.trim()}`);
    return report;
  }
  for (const t of json(telemetries).items ?? []) {
    const { name, namespace } = t.metadata;
    if (t.spec?.selector || t.spec?.targetRef || t.spec?.targetRefs) continue;
    if (expected.crawlerNamespaces.includes(namespace) && name !== 'proxy-telemetry') {
      report.errors.push(`Telemetry ${namespace}/${name} has no selector: Istio uses one namespace-wide Telemetry, so it and the stack's proxy-telemetry would conflict. Merge its settings into proxy-telemetry's or give it a selector.`);
    } else if (istiodNamespaces.has(namespace)) {
      report.warnings.push(`Telemetry ${namespace}/${name} applies mesh-wide; the crawler namespaces' proxy-telemetry takes precedence there, but check it does not disable the prometheus provider for them`);
    }
  }
  return report;
}

/** The Envoy admin `/config_dump` parts the checks read. */
interface ConfigDump { configs?: Array<Record<string, any>> }

const ofType = (dump: ConfigDump, type: string) => (dump.configs ?? []).filter(c => String(c['@type']).endsWith(`.${type}`));

/**
 * What one crawler sidecar got from istiod, read from Envoy's config dump: an HTTP listener on every declared HTTP
 * port, the TLS inspector on virtualOutbound, and for each inspected gateway its two routes in the `allow_any`
 * virtual host of route configuration `<port>` and absolute-form URLs on its cluster. Each failure names the
 * istioctl command that shows the same.
 */
export function checkConfigDump(dump: ConfigDump, expected: MeshExpectations, pod: string): string[] {
  const failures: string[] = [];
  const listeners = ofType(dump, 'ListenersConfigDump').flatMap(c => [...(c.dynamic_listeners ?? []).map((l: any) => l.active_state?.listener), ...(c.static_listeners ?? []).map((l: any) => l.listener)]).filter(Boolean);
  const routes = ofType(dump, 'RoutesConfigDump').flatMap(c => (c.dynamic_route_configs ?? []).map((r: any) => r.route_config)).filter(Boolean);
  const clusters = ofType(dump, 'ClustersConfigDump').flatMap(c => (c.dynamic_active_clusters ?? []).map((x: any) => x.cluster)).filter(Boolean);
  for (const port of expected.httpPorts) {
    if (!listeners.some(l => l.name === `0.0.0.0_${port}`)) {
      failures.push(`no listener 0.0.0.0_${port}: plain HTTP on port ${port} is seen as TCP (\`istioctl proxy-config listeners ${pod} --port ${port}\`)`);
    }
  }
  if (expected.sniInspection) {
    const virtualOutbound = listeners.find(l => l.name === 'virtualOutbound');
    if (!virtualOutbound?.listener_filters?.some((f: any) => f.name === 'envoy.filters.listener.tls_inspector')) {
      failures.push(`virtualOutbound has no tls_inspector: direct HTTPS has no server name (\`istioctl proxy-config listeners ${pod} --port 15001 -o json | grep tls_inspector\`)`);
    }
  }
  for (const gw of expected.inspectedGateways) {
    const allowAny = routes.find(r => r.name === String(gw.port))?.virtual_hosts?.find((v: any) => v.name === 'allow_any');
    const names = new Set((allowAny?.routes ?? []).map((r: any) => r.name));
    for (const route of ['connect', 'forward']) {
      if (!names.has(`${gw.routePrefix}-${route}`)) {
        failures.push(`route ${gw.routePrefix}-${route} is missing from route configuration ${gw.port}: ${route === 'connect' ? 'CONNECT through the gateway gets 404 NR from the sidecar' : 'absolute-form requests go to PassthroughCluster in origin form'} (\`istioctl proxy-config routes ${pod} --name ${gw.port} -o json\`)`);
      }
    }
    const cluster = clusters.find(c => c.name === `outbound|${gw.port}||${gw.host}`);
    const http1 = cluster?.typed_extension_protocol_options?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.explicit_http_config?.http_protocol_options;
    if (http1?.send_fully_qualified_url !== true) {
      failures.push(`cluster outbound|${gw.port}||${gw.host} does not send absolute-form URLs: the gateway receives origin-form requests (\`istioctl proxy-config clusters ${pod} --fqdn ${gw.host} --port ${gw.port} -o json\`)`);
    }
  }
  return failures;
}

/** Runs checkConfigDump on one ready crawler pod per crawler namespace. */
export function sidecarChecks(kubectl: Kubectl, expected: MeshExpectations): CheckReport {
  const report: CheckReport = { errors: [], warnings: [], notes: [] };
  for (const ns of expected.crawlerNamespaces) {
    const pods = kubectl(['get', 'pods', '-n', ns, '-l', VENDOR_POD_LABEL, '-o', 'json']);
    if (pods.status !== 0) {
      report.errors.push(`kubectl get pods -n ${ns} failed: ${pods.stderr.trim()}`);
      continue;
    }
    const ready = (json(pods).items ?? []).find((p: any) => (p.status?.containerStatuses ?? []).some((c: any) => c.name === 'istio-proxy' && c.ready));
    if (!ready) {
      report.warnings.push(`no crawler pod with a ready istio-proxy sidecar in ${ns}: the sidecar configuration was not checked (is the namespace labelled for injection?)`);
      continue;
    }
    const pod = `${ready.metadata.name}.${ns}`;
    const dump = kubectl(['exec', '-n', ns, ready.metadata.name, '-c', 'istio-proxy', '--', 'pilot-agent', 'request', 'GET', 'config_dump']);
    if (dump.status !== 0) {
      report.warnings.push(`cannot read the config dump of ${pod}: ${firstLine(dump.stderr)}`);
      continue;
    }
    let parsed: ConfigDump;
    try {
      parsed = JSON.parse(dump.stdout);
    } catch {
      report.warnings.push(`the config dump of ${pod} is not JSON`);
      continue;
    }
    const failures = checkConfigDump(parsed, expected, pod);
    if (failures.length === 0) report.notes.push(`sidecar of ${pod}: HTTP listeners on ${expected.httpPorts.join(', ') || 'no port'}, ${expected.sniInspection ? 'TLS inspector on virtualOutbound' : 'no TLS inspection'}, ${expected.inspectedGateways.length} inspected gateway(s) routed`);
    for (const f of failures) report.errors.push(`sidecar of ${pod}: ${f}`);
  }
  return report;
}
