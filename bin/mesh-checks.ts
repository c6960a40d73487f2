/**
 * Checks of the mesh a stack is deployed into: before applying (`preflight`: the cluster, Istio's version, CRDs,
 * mesh config and conflicting Telemetry resources) and after the rollouts (`sidecarChecks`: what a running
 * crawler sidecar really got from istiod, read from Envoy's config dump). Pure logic over a kubectl runner.
 */
import * as YAML from 'yaml';
import { CONTRACT_TAGS, ISTIO, VENDOR_POD_LABEL } from '../core/metric-contract';
import { ALLOW_ANY_VHOST, TLS_INSPECTOR, VIRTUAL_OUTBOUND_LISTENER } from '../lib/mesh/envoy-filters';
import { sidecarHeaderGaps } from '../lib/mesh/proxy-config';
import { TELEMETRY_METRIC } from '../lib/mesh/telemetry-overrides';

export interface KubectlResult { status: number; stdout: string; stderr: string }
export type Kubectl = (args: string[]) => KubectlResult;

/** The oldest Istio whose Telemetry API, EnvoyFilter listener patches and CONNECT proxying (Envoy >= 1.30) the stack relies on. */
export const MIN_ISTIO = { major: 1, minor: 22 };

/** What the synthesized manifests configure in the crawler namespaces. */
export interface MeshExpectations {
  crawlerNamespaces: string[];
  /** Ports with an HTTP listener (the `proxy-telemetry-http-<port>` ServiceEntries). */
  httpPorts: number[];
  /** Ports with a TLS listener and its own TLS inspector (the `proxy-telemetry-tls-<port>` ServiceEntries). */
  tlsPorts: number[];
  /** Inspected gateway endpoints, the vendor whose pods get their routes (workloadSelector), and the routes' name prefix. */
  inspectedGateways: Array<{ vendor: string; host: string; port: number; routePrefix: string }>;
  /** Crawler Deployments (pods labelled proxy-vendor) in the crawler namespaces, with what their pods lack of the transparent proxy headers. */
  crawlers: Array<{ namespace: string; name: string; headerGaps: string[] }>;
  /** `<METRIC>/<tag>` the crawler namespaces' Telemetry UPSERTs on client metrics: a root-namespace REMOVE of these is undone. */
  telemetryUpserts: string[];
  /** The server-first probe target: a Service port named `tcp-banner` (the demo gateway's banner port). */
  banner?: { namespace: string; service: string; port: number };
}

interface ManifestObject { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any }

/** Name of the Service port of the demo gateway's banner (server-first) listener. */
export const BANNER_PORT_NAME = 'tcp-banner';

const clientMode = (mode: string | undefined) => mode === undefined || mode === 'CLIENT' || mode === 'CLIENT_AND_SERVER';
/** Telemetry API names of the contract's metrics, in the contract's order. */
const CONTRACT_METRICS: string[] = (Object.keys(CONTRACT_TAGS) as Array<keyof typeof ISTIO>).map(key => TELEMETRY_METRIC[key]);
const metricsOf = (metric: string | undefined): string[] => (metric === undefined || metric === 'ALL_METRICS' ? CONTRACT_METRICS : [metric]);

/** Reads the expectations from synthesized objects. */
export function meshExpectations(objects: ManifestObject[]): MeshExpectations {
  const telemetries = objects.filter(o => o.kind === 'Telemetry' && o.metadata.name === 'proxy-telemetry');
  const ns = telemetries[0]?.metadata.namespace;
  const crawlerNamespaces = telemetries.map(t => t.metadata.namespace ?? 'default');
  const inNs = (o: ManifestObject) => o.metadata.namespace === ns;
  const portsOf = (prefix: string) => objects.filter(o => o.kind === 'ServiceEntry' && inNs(o) && o.metadata.name.startsWith(prefix)).map(o => o.spec.ports[0].number);
  const upserts = new Set<string>();
  for (const o of telemetries[0]?.spec?.metrics ?? []) {
    for (const override of o.overrides ?? []) {
      if (!clientMode(override.match?.mode)) continue;
      for (const [tag, op] of Object.entries<any>(override.tagOverrides ?? {})) {
        if ((op?.operation ?? 'UPSERT') === 'UPSERT') for (const metric of metricsOf(override.match?.metric)) upserts.add(`${metric}/${tag}`);
      }
    }
  }
  const bannerService = objects.find(o => o.kind === 'Service' && (o.spec?.ports ?? []).some((p: any) => p.name === BANNER_PORT_NAME));
  return {
    crawlerNamespaces,
    httpPorts: portsOf('proxy-telemetry-http-'),
    tlsPorts: portsOf('proxy-telemetry-tls-'),
    inspectedGateways: objects.filter(o => o.kind === 'EnvoyFilter' && inNs(o) && o.metadata.name.startsWith('proxy-vendor-')).map(o => {
      const cluster: string = o.spec.configPatches.find((p: any) => p.applyTo === 'CLUSTER').match.cluster.name;
      const [, port, , host] = cluster.split('|');
      const vendor: string = o.spec.workloadSelector?.labels?.[VENDOR_POD_LABEL] ?? o.metadata.name.slice('proxy-vendor-'.length).replace(/-\d+$/, '');
      return { vendor, host, port: Number(port), routePrefix: o.metadata.name };
    }),
    crawlers: objects
      .filter(o => o.kind === 'Deployment' && crawlerNamespaces.includes(o.metadata.namespace ?? 'default') && o.spec?.template?.metadata?.labels?.[VENDOR_POD_LABEL] !== undefined)
      .map(o => ({ namespace: o.metadata.namespace ?? 'default', name: o.metadata.name, headerGaps: sidecarHeaderGaps(o.spec.template.metadata.annotations) })),
    telemetryUpserts: [...upserts].sort(),
    ...(bannerService ? {
      banner: {
        namespace: bannerService.metadata.namespace ?? 'default',
        service: bannerService.metadata.name,
        port: bannerService.spec.ports.find((p: any) => p.name === BANNER_PORT_NAME).port,
      },
    } : {}),
  };
}

/**
 * What a root-namespace Telemetry without a selector takes away from the contract. Istio merges it before the crawler
 * namespaces' own (istio/istio `pilot/pkg/model/telemetry.go` applicableTelemetries, mergeMetrics: per provider, mode,
 * metric and tag key), so a metric it disables, or a tag it REMOVEs that ours does not UPSERT, stays so in the crawler
 * pods. A root ALL_METRICS disable is undone by any later override of the same mode, which ours has.
 */
export function rootTelemetryProblems(spec: any, telemetryUpserts: string[]): string[] {
  const problems: string[] = [];
  const needed = new Map<string, readonly string[]>(Object.entries(TELEMETRY_METRIC).map(([key, metric]) => [metric, CONTRACT_TAGS[key as keyof typeof ISTIO]]));
  for (const entry of spec?.metrics ?? []) {
    const providers: string[] | undefined = entry.providers?.map((p: any) => p?.name);
    if (providers && !providers.includes('prometheus')) continue;
    for (const override of entry.overrides ?? []) {
      if (!clientMode(override.match?.mode) || override.match?.customMetric) continue;
      const metric: string | undefined = override.match?.metric;
      if (override.disabled === true && metric !== undefined && metric !== 'ALL_METRICS' && needed.has(metric)) {
        problems.push(`disables ${metric}`);
      }
      for (const [tag, op] of Object.entries<any>(override.tagOverrides ?? {})) {
        if (op?.operation !== 'REMOVE') continue;
        const lost = metricsOf(metric).filter(m => needed.get(m)?.includes(tag) && !telemetryUpserts.includes(`${m}/${tag}`));
        if (lost.length > 0) problems.push(`removes tag ${tag} from ${lost.join(', ')}`);
      }
    }
  }
  return [...new Set(problems)];
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
  // The manifests themselves: every crawler pod must leave requests as the crawler wrote them.
  for (const c of expected.crawlers.filter(c => c.headerGaps.length > 0)) {
    report.warnings.push(`Deployment ${c.namespace}/${c.name}: its pods lack the transparent proxy headers (${c.headerGaps.join(', ')}), so their sidecars add x-envoy-peer-metadata (pod name, namespace, labels), x-request-id and x-envoy-attempt-count to every plain-HTTP request they forward: `
      + 'call makeSidecarTransparent(deployment) from proxy-telemetry on it, or set the pod annotation proxy.istio.io/config proxyHeaders as TRANSPARENT_PROXY_HEADERS does');
  }
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
  /** meshConfig.rootNamespace of each mesh config (Helm's default: istiod's namespace). */
  const rootNamespaces = new Set<string>();
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
      rootNamespaces.add(typeof mesh.rootNamespace === 'string' && mesh.rootNamespace ? mesh.rootNamespace : ns);
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
    } else if (istiodNamespaces.has(namespace) || rootNamespaces.has(namespace)) {
      const problems = rootNamespaces.has(namespace) || rootNamespaces.size === 0 ? rootTelemetryProblems(t.spec, expected.telemetryUpserts) : [];
      if (problems.length > 0) {
        report.errors.push(`Telemetry ${namespace}/${name} applies mesh-wide and ${problems.join('; ')}: Istio merges it before the crawler namespaces' proxy-telemetry, which does not set these, so they stay so in the crawler sidecars `
          + '(the contract reads them). Scope it with a selector, or UPSERT/re-enable them in its overrides.');
      } else {
        report.warnings.push(`Telemetry ${namespace}/${name} applies mesh-wide; the crawler namespaces' proxy-telemetry takes precedence there, but check it does not disable the prometheus provider for them`);
      }
    }
  }
  return report;
}

/** The Envoy admin `/config_dump` parts the checks read. */
interface ConfigDump { configs?: Array<Record<string, any>> }

const ofType = (dump: ConfigDump, type: string) => (dump.configs ?? []).filter(c => String(c['@type']).endsWith(`.${type}`));

const hasTlsInspector = (listener: any) => (listener?.listener_filters ?? []).some((f: any) => f.name === TLS_INSPECTOR);

/**
 * What one crawler sidecar (of vendor `vendor`) got from istiod, read from Envoy's config dump: an HTTP listener on
 * every declared HTTP port; a TLS inspector on each TLS port's listener `0.0.0.0_<port>` and none on virtualOutbound
 * (there it would stall server-first protocols on every port); for each inspected gateway of its own vendor the two
 * routes in the `allow_any` virtual host of route configuration `<port>` and absolute-form URLs on its cluster, and no
 * route of another vendor's gateway (their EnvoyFilters select their own pods). Each failure names the istioctl
 * command that shows the same.
 */
export function checkConfigDump(dump: ConfigDump, expected: MeshExpectations, pod: string, vendor?: string): string[] {
  const failures: string[] = [];
  const listeners = ofType(dump, 'ListenersConfigDump').flatMap(c => [...(c.dynamic_listeners ?? []).map((l: any) => l.active_state?.listener), ...(c.static_listeners ?? []).map((l: any) => l.listener)]).filter(Boolean);
  const routes = ofType(dump, 'RoutesConfigDump').flatMap(c => (c.dynamic_route_configs ?? []).map((r: any) => r.route_config)).filter(Boolean);
  const clusters = ofType(dump, 'ClustersConfigDump').flatMap(c => (c.dynamic_active_clusters ?? []).map((x: any) => x.cluster)).filter(Boolean);
  for (const port of expected.httpPorts) {
    if (!listeners.some(l => l.name === `0.0.0.0_${port}`)) {
      failures.push(`no listener 0.0.0.0_${port}: plain HTTP on port ${port} is seen as TCP (\`istioctl proxy-config listeners ${pod} --port ${port}\`)`);
    }
  }
  if (hasTlsInspector(listeners.find(l => l.name === VIRTUAL_OUTBOUND_LISTENER))) {
    failures.push(`virtualOutbound has a tls_inspector listener filter: every outbound connection waits for the client's first bytes there, so server-first protocols (SMTP, MySQL) stall and are cut or blackholed on its timeout; remove the EnvoyFilter that adds it (\`istioctl proxy-config listeners ${pod} --port 15001 -o json | grep tls_inspector\`)`);
  }
  for (const port of expected.tlsPorts) {
    const listener = listeners.find(l => l.name === `0.0.0.0_${port}`);
    if (!listener) failures.push(`no listener 0.0.0.0_${port}: TLS on port ${port} has no server name (is the ServiceEntry proxy-telemetry-tls-${port} in the pod's namespace?) (\`istioctl proxy-config listeners ${pod} --port ${port}\`)`);
    else if (!hasTlsInspector(listener)) failures.push(`listener 0.0.0.0_${port} has no tls_inspector: TLS on port ${port} has no server name (\`istioctl proxy-config listeners ${pod} --port ${port} -o json | grep tls_inspector\`)`);
  }
  const allRouteNames = new Set<string>(routes.flatMap(r => (r.virtual_hosts ?? []).flatMap((v: any) => (v.routes ?? []).map((x: any) => String(x.name)))));
  for (const gw of expected.inspectedGateways) {
    if (gw.vendor !== vendor) {
      const foreign = [...allRouteNames].filter(n => n.startsWith(`${gw.routePrefix}-`)).sort();
      if (foreign.length > 0) {
        failures.push(`routes ${foreign.join(', ')} of vendor ${gw.vendor}'s inspected gateway are in this ${vendor ? `${vendor} ` : ''}pod's sidecar: its plain HTTP on port ${gw.port} is routed as if through that gateway (is the EnvoyFilter ${gw.routePrefix} missing its workloadSelector ${VENDOR_POD_LABEL}=${gw.vendor}?) (\`istioctl proxy-config routes ${pod} --name ${gw.port} -o json\`)`);
      }
      continue;
    }
    const allowAny = routes.find(r => r.name === String(gw.port))?.virtual_hosts?.find((v: any) => v.name === ALLOW_ANY_VHOST);
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

/** How long a server-first service may take to speak through a crawler sidecar (the old virtualOutbound inspector cut at 1 s). */
export const BANNER_DEADLINE_MS = 1000;

/**
 * Run with `node -e` in a crawler container: connects to argv host:port, waits for the first line the server sends
 * without sending anything, prints `banner <ms> <line>` and exits 0, or prints why not and exits 1 (5 s at most).
 */
export const BANNER_PROBE_SCRIPT = [
  "const net=require('net');const [h,p]=process.argv.slice(1);const t=Date.now();let b='';",
  "const done=(c,m)=>{console.log(m);process.exit(c)};const s=net.connect(Number(p),h);",
  "s.setTimeout(5000,()=>done(1,'timeout '+(Date.now()-t)));",
  "s.on('data',d=>{b+=d;if(b.includes('\\n'))done(0,'banner '+(Date.now()-t)+' '+b.trim())});",
  "s.on('end',()=>done(1,'closed '+(Date.now()-t)));s.on('error',e=>done(1,'error '+(Date.now()-t)+' '+e.message));",
].join('');

/**
 * The server-first probe: from a crawler container (through its sidecar), the banner Service must speak within
 * BANNER_DEADLINE_MS. Skipped with a note when the manifests have no Service port named `tcp-banner`.
 */
export function bannerProbe(kubectl: Kubectl, expected: MeshExpectations): CheckReport {
  const report: CheckReport = { errors: [], warnings: [], notes: [] };
  const banner = expected.banner;
  const crawler = expected.crawlers[0];
  if (!banner || !crawler) {
    report.notes.push(`server-first probe skipped: ${!banner ? `no Service port named ${BANNER_PORT_NAME} in the manifests (the demo gateway's banner port)` : 'no crawler Deployment in the manifests'}`);
    return report;
  }
  const target = `${banner.service}.${banner.namespace}.svc.cluster.local`;
  const r = kubectl(['exec', '-n', crawler.namespace, `deploy/${crawler.name}`, '-c', 'crawler', '--', 'node', '-e', BANNER_PROBE_SCRIPT, target, String(banner.port)]);
  const line = firstLine(r.stdout);
  const m = /^banner (\d+) /.exec(line);
  const where = `from ${crawler.namespace}/${crawler.name} to ${target}:${banner.port}`;
  if (r.status === 0 && m && Number(m[1]) < BANNER_DEADLINE_MS) {
    report.notes.push(`server-first probe ${where}: banner after ${m[1]} ms`);
  } else if (r.status === 0 && m) {
    report.errors.push(`server-first probe ${where}: the banner took ${m[1]} ms (over ${BANNER_DEADLINE_MS} ms): the sidecar holds connections until the client speaks (a listener filter on virtualOutbound?)`);
  } else if (/^(timeout|closed) /.test(line)) {
    report.errors.push(`server-first probe ${where}: no banner (${line} ms): the sidecar holds server-first connections until the client speaks, then cuts or blackholes them; SMTP, MySQL and the like break through it (check virtualOutbound for listener filters)`);
  } else {
    report.warnings.push(`server-first probe ${where} could not run: ${line || firstLine(r.stderr) || `exit code ${r.status}`}`);
  }
  return report;
}

/**
 * Runs checkConfigDump per crawler namespace on the first ready crawler pod and on one ready pod of each vendor with
 * an inspected gateway (its routes are in its own pods only), then the server-first probe.
 */
export function sidecarChecks(kubectl: Kubectl, expected: MeshExpectations): CheckReport {
  const report: CheckReport = { errors: [], warnings: [], notes: [] };
  for (const ns of expected.crawlerNamespaces) {
    const pods = kubectl(['get', 'pods', '-n', ns, '-l', VENDOR_POD_LABEL, '-o', 'json']);
    if (pods.status !== 0) {
      report.errors.push(`kubectl get pods -n ${ns} failed: ${pods.stderr.trim()}`);
      continue;
    }
    const readyPods: any[] = (json(pods).items ?? []).filter((p: any) => (p.status?.containerStatuses ?? []).some((c: any) => c.name === 'istio-proxy' && c.ready));
    if (readyPods.length === 0) {
      report.warnings.push(`no crawler pod with a ready istio-proxy sidecar in ${ns}: the sidecar configuration was not checked (is the namespace labelled for injection?)`);
      continue;
    }
    const vendorOf = (p: any): string | undefined => p.metadata?.labels?.[VENDOR_POD_LABEL];
    const chosen = [readyPods[0]];
    for (const vendor of [...new Set(expected.inspectedGateways.map(g => g.vendor))]) {
      if (chosen.some(p => vendorOf(p) === vendor)) continue;
      const own = readyPods.find(p => vendorOf(p) === vendor);
      if (own) chosen.push(own);
      else report.warnings.push(`no ready crawler pod of vendor ${vendor} in ${ns}: the routes of its inspected gateway were not checked`);
    }
    for (const ready of chosen) {
      const pod = `${ready.metadata.name}.${ns}`;
      const vendor = vendorOf(ready);
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
      const failures = checkConfigDump(parsed, expected, pod, vendor);
      const own = expected.inspectedGateways.filter(g => g.vendor === vendor).length;
      if (failures.length === 0) {
        report.notes.push(`sidecar of ${pod}: HTTP listeners on ${expected.httpPorts.join(', ') || 'no port'}, TLS inspector on ${expected.tlsPorts.map(p => `0.0.0.0_${p}`).join(', ') || 'no port'} and none on virtualOutbound, `
          + `${own} inspected gateway(s) of its vendor routed, ${expected.inspectedGateways.length - own} of other vendors absent`);
      }
      for (const f of failures) report.errors.push(`sidecar of ${pod}: ${f}`);
    }
  }
  const probe = bannerProbe(kubectl, expected);
  report.errors.push(...probe.errors);
  report.warnings.push(...probe.warnings);
  report.notes.push(...probe.notes);
  return report;
}
