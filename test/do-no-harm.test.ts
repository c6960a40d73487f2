import { MeshTelemetry } from '../lib/mesh-telemetry';
import { VendorCrawler } from '../lib/vendor-crawler';
import { VendorCatalog } from '../core/vendor';
import { CrawlerFlow, ServerFirst, Silent } from '../harness/crawler-flows';
import { INSPECTED_GATEWAY, TCP_GATEWAY, fleetVendors, site, tlsSite, viaGateway } from './support/fleet';
import { MeshOptions, SidecarModel, telemetryConflicts } from '../harness/istio-sidecar';
import { KubeObject } from '../harness/kube-object';
import { synthChart } from './support/synth';

/**
 * Do no harm: what a crawler pod's sidecar changes in its traffic, decided by the sidecar model from the manifests
 * (istio-sidecar.ts: accept() for the listener-filter stage, deliver() for what reaches the site). For each harm,
 * "today's manifests" (before the do-no-harm change: the TLS inspector EnvoyFilter on virtualOutbound, gateway
 * routes for every pod, no ProxyConfig annotation, no transparent-HTTP EnvoyFilter) do it, and the product's
 * manifests do not. What the product cannot prevent is pinned as "residual: …".
 */

const NS = 'crawlers';
/** The shared fleet's three vendors: a TCP gateway, an inspected gateway, direct (their prices play no part here). */
const vendors = fleetVendors;

/** The product's manifests: MeshTelemetry and one VendorCrawler Deployment per vendor. */
const PRODUCT: KubeObject[] = synthChart(chart => {
  const v = vendors();
  new MeshTelemetry(chart, 'mesh', { vendors: v });
  for (const vendor of ['vendor-a', 'vendor-b', 'vendor-c']) {
    new VendorCrawler(chart, vendor, { vendors: v, vendor, replicas: 1, image: 'registry.example.com/crawler:1.0', ...(vendor === 'vendor-c' ? {} : { proxyCredentials: { secretName: vendor } }) });
  }
});

/** The EnvoyFilter today's manifests carry, exactly. */
const LEGACY_SNI_FILTER: KubeObject = {
  apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter',
  metadata: { name: 'proxy-telemetry-sni', namespace: NS, labels: { 'app.kubernetes.io/part-of': 'proxy-telemetry' } },
  spec: {
    configPatches: [{
      applyTo: 'LISTENER', match: { context: 'SIDECAR_OUTBOUND', listener: { name: 'virtualOutbound' } },
      patch: {
        operation: 'MERGE', value: {
          listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
          listener_filters_timeout: '1s', continue_on_listener_filters_timeout: true,
        },
      },
    }],
  },
};

/** Today's manifests, from the product's: the SNI filter back, and everything the do-no-harm change added taken out. */
function today(objects: readonly KubeObject[]): KubeObject[] {
  const clone = (o: KubeObject): KubeObject => JSON.parse(JSON.stringify(o));
  return [...objects.filter(o => !(o.kind === 'ServiceEntry' && o.metadata.name.startsWith('proxy-telemetry-tls-'))
    && !(o.kind === 'EnvoyFilter' && o.metadata.name === 'proxy-telemetry-transparent-http')).map(clone).map(o => {
    if (o.kind === 'EnvoyFilter' && o.metadata.name.startsWith('proxy-vendor-')) {
      delete o.spec.workloadSelector;
      for (const p of o.spec.configPatches) {
        delete p.patch.value.request_headers_to_remove;
        const http1 = p.patch.value.typed_extension_protocol_options?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.explicit_http_config?.http_protocol_options;
        if (http1) delete http1.header_key_format;
      }
    }
    if (o.kind === 'Deployment') delete o.spec.template.metadata.annotations?.['proxy.istio.io/config'];
    return o;
  }), LEGACY_SNI_FILTER];
}
const TODAY = today(PRODUCT);

const deployment = (objects: readonly KubeObject[], vendor: string) => {
  const d = objects.find(o => o.kind === 'Deployment' && o.spec.template.metadata.labels?.['proxy-vendor'] === vendor);
  if (!d) throw new Error(`no Deployment of ${vendor}`);
  return d;
};
/** The sidecar of one of `vendor`'s crawler pods. */
const pod = (objects: readonly KubeObject[], vendor: string, mesh?: MeshOptions) => SidecarModel.fromDeployment(objects, deployment(objects, vendor), { mesh });

const serverFirst = (host: string, port: number): ServerFirst => ({ kind: 'server-first', host, port, perSecond: 1, upBytes: 400, downBytes: 2_000 });
const silent = (host: string, port: number): Silent => ({ kind: 'silent', host, port, perSecond: 1 });
/** What Envoy adds to an HTTP request by default, with no ProxyConfig (see SidecarModel.deliver for each source). */
const DEFAULT_ADDED = ['x-forwarded-proto', 'x-request-id', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id', 'x-envoy-attempt-count'];

test('the test manifests: today\'s carry the SNI filter and no do-no-harm object; the product\'s the reverse', () => {
  expect(PRODUCT.some(o => o.metadata.name === 'proxy-telemetry-sni')).toBe(false);
  expect(PRODUCT.map(o => `${o.kind}/${o.metadata.name}`)).toEqual(expect.arrayContaining(['ServiceEntry/proxy-telemetry-tls-443', 'EnvoyFilter/proxy-telemetry-transparent-http']));
  expect(deployment(PRODUCT, 'vendor-a').spec.template.metadata.annotations['proxy.istio.io/config']).toBeDefined();
  expect(pod(TODAY, 'vendor-c').virtualOutbound).toEqual({ tlsInspector: true, filtersTimeoutSeconds: 1, continueOnTimeout: true });
  expect(pod(PRODUCT, 'vendor-c').virtualOutbound.tlsInspector).toBe(false);
  expect(pod(PRODUCT, 'vendor-c').proxyConfig).toMatchObject({ holdApplicationUntilProxyStarts: true, requestIdDisabled: true, metadataExchangeInMesh: true, preserveHttp1HeaderCase: true });
});

describe('harm 1: server-first connections (MySQL 3306, SMTP 25) closed after 1 s', () => {
  test.each([['db.example.net', 3306], ['mx.example.net', 25]])('today\'s manifests: %s:%d is held by virtualOutbound\'s TLS inspector for 1 s, then blackholed', (host, port) => {
    // GIVEN a pod with today's manifests (tls_inspector on virtualOutbound, timeout 1s, continue on timeout)
    // WHEN the client connects and waits for the server's banner
    const d = pod(TODAY, 'vendor-c').deliver(serverFirst(host, port));
    // THEN the inspector times out, original_dst never runs, and the connection lands on virtualOutbound-blackhole
    expect(d).toMatchObject({ outcome: 'closed', delayMs: 1000, cluster: 'BlackHoleCluster' });
    expect(d.path).toBe('virtualOutbound: tls_inspector timed out after 1s → virtualOutbound-blackhole → BlackHoleCluster (closed)');
    expect(pod(TODAY, 'vendor-c').accept(serverFirst(host, port))).toMatchObject({ handedOff: false, closed: true, listener: 'virtualOutbound' });
    expect(d.sources.join('\n')).toContain('active_tcp_socket.cc onTimeout');
  });

  test.each([['db.example.net', 3306], ['mx.example.net', 25]])('the product\'s manifests: %s:%d is handed off at once to PassthroughCluster', (host, port) => {
    // GIVEN a pod with the product's manifests (no listener filter on virtualOutbound)
    // WHEN the same client connects
    const m = pod(PRODUCT, 'vendor-c');
    // THEN original_dst hands it on without delay; it reaches the server, which speaks first
    expect(m.accept(serverFirst(host, port))).toMatchObject({ handedOff: true, delayMs: 0, closed: false, listener: 'virtualOutbound' });
    expect(m.deliver(serverFirst(host, port))).toMatchObject({ outcome: 'delivered', delayMs: 0, cluster: 'PassthroughCluster', path: 'virtualOutbound → virtualOutbound-catchall-tcp', headersAdded: [] });
    expect(m.observe(serverFirst(host, port))).toMatchObject([{ kind: 'tcp', destination: { serviceName: 'PassthroughCluster' }, connectionsPerSecond: 1 }]);
    // A client that only connects is not cut either.
    expect(m.deliver(silent(host, port))).toMatchObject({ outcome: 'delivered', delayMs: 0 });
  });

  test('a server-first gateway port (TCP ServiceEntry) gets no listener filter: delivered at once', () => {
    expect(pod(PRODUCT, 'vendor-a').deliver(serverFirst('gw.vendor-a.example', 8000))).toMatchObject({ outcome: 'delivered', delayMs: 0, cluster: 'outbound|8000||gw.vendor-a.example' });
  });

  test('residual: a server-first service on a TLS port (443) waits for ever for a ClientHello (TLS listener: tls_inspector, listener_filters_timeout 0s)', () => {
    // GIVEN the product's TLS ServiceEntry on 443; WHEN a server-first client connects to 443
    const d = pod(PRODUCT, 'vendor-c').deliver(serverFirst('odd.example.net', 443));
    // THEN nothing closes it, and nothing delivers it either: a server-first protocol on 443 does not work (nor do metrics see it)
    expect(d).toMatchObject({ outcome: 'hung', delayMs: 'forever', cluster: 'none', path: 'listener 0.0.0.0:443: tls_inspector waits for the client\'s first bytes (no timeout)' });
    expect(pod(PRODUCT, 'vendor-c').observe(serverFirst('odd.example.net', 443))).toEqual([]);
  });

  test('residual: a server-first service on an HTTP port (80) waits for ever in the HTTP inspector (protocolDetectionTimeout 0s)', () => {
    expect(pod(PRODUCT, 'vendor-c').deliver(serverFirst('odd.example.net', 80))).toMatchObject({ outcome: 'hung', delayMs: 'forever', path: 'listener 0.0.0.0:80: http_inspector waits for the client\'s first bytes (no timeout)' });
    // The same on an inspected gateway's port, for every pod: the gateway's HTTP ServiceEntry is visible to the whole namespace.
    expect(pod(PRODUCT, 'vendor-a').deliver(serverFirst('odd.example.net', 22225))).toMatchObject({ outcome: 'hung' });
  });
});

describe('harm 2: headers the sidecar adds to requests to third-party sites', () => {
  test('today\'s manifests: direct HTTP through PassthroughCluster gets Envoy\'s and Istio\'s headers, the response a new server header', () => {
    // GIVEN a vendor-c pod without the ProxyConfig annotation; WHEN it fetches http://example.com/
    const d = pod(TODAY, 'vendor-c').deliver(site('example.com', 1));
    // THEN the site sees these headers the crawler never sent (pod name, namespace and labels in base64 among them)
    expect(d).toMatchObject({ outcome: 'delivered', cluster: 'PassthroughCluster', path: '0.0.0.0:80 vhost allow_any → PassthroughCluster' });
    expect(d.headersAdded).toEqual(DEFAULT_ADDED);
    expect(d.responseHeadersChanged).toEqual(['server', 'x-envoy-upstream-service-time']);
  });

  test('today\'s manifests: through the inspected gateway too (the gateway and the site behind it see them)', () => {
    for (const flow of [viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 1), viaGateway(INSPECTED_GATEWAY, 'https', 'shop.example.org', 1)]) {
      const d = pod(TODAY, 'vendor-b').deliver(flow);
      expect(d).toMatchObject({ outcome: 'delivered', cluster: 'outbound|22225||proxy.vendor-b.example' });
      expect(d.headersAdded).toEqual(DEFAULT_ADDED);
      expect(d.responseHeadersChanged).toEqual(['server', 'x-envoy-upstream-service-time']);
    }
  });

  test('the product\'s manifests: nothing added, direct or through the inspected gateway; the crawler\'s responses keep their server header', () => {
    for (const [vendor, flow] of [['vendor-c', site('example.com', 1)], ['vendor-b', viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 1)],
      ['vendor-b', viaGateway(INSPECTED_GATEWAY, 'https', 'shop.example.org', 1)]] as Array<[string, CrawlerFlow]>) {
      const d = pod(PRODUCT, vendor).deliver(flow);
      expect({ vendor, outcome: d.outcome, added: d.headersAdded, response: d.responseHeadersChanged }).toEqual({ vendor, outcome: 'delivered', added: [], response: [] });
      // x-forwarded-proto, set by Envoy whatever the config, and the metadata-exchange headers (for pods without the
      // annotation) are removed by the virtual host and route patches.
      expect(d.headersRemoved).toEqual(['x-envoy-internal', 'x-forwarded-proto', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id']);
    }
  });

  test('TCP paths add nothing, today and with the product: direct TLS, a TCP gateway, an undeclared port', () => {
    for (const objects of [TODAY, PRODUCT]) {
      for (const [vendor, flow] of [['vendor-c', tlsSite('www.wikipedia.org', 1)], ['vendor-a', viaGateway(TCP_GATEWAY, 'http', 'example.com', 1)],
        ['vendor-c', site('example.net', 1, { port: 8080 })]] as Array<[string, CrawlerFlow]>) {
        expect(pod(objects, vendor).deliver(flow)).toMatchObject({ outcome: 'delivered', headersAdded: [], headersRemoved: [], responseHeadersChanged: [], headerCaseKept: true, pathKept: true });
      }
    }
  });

  test('residual: a crawler\'s own x-forwarded-proto is removed too (request_headers_to_remove cannot tell whose it is)', () => {
    expect(pod(PRODUCT, 'vendor-c').deliver(site('example.com', 1)).headersRemoved).toContain('x-forwarded-proto');
  });

  test('an in-cluster gateway Service is not MESH_EXTERNAL, so IN_MESH alone would send x-envoy-peer-metadata to it: our routes remove them', () => {
    // GIVEN an inspected gateway that is a Kubernetes Service (no ServiceEntry, so no istio.external cluster metadata)
    const objects = synthChart(chart => {
      const v = new VendorCatalog([{ name: 'demo-b', endpoints: ['gateway-b.proxy-demo.svc.cluster.local:3129'], gateway: { inspect: 'http' } }]);
      new MeshTelemetry(chart, 'mesh', { vendors: v });
      new VendorCrawler(chart, 'demo-b', { vendors: v, vendor: 'demo-b', replicas: 1, image: 'registry.example.com/crawler:1.0', proxyCredentials: { secretName: 'demo-b' } });
    });
    objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'gateway-b', namespace: 'proxy-demo' }, spec: { selector: { app: 'gateway-b' }, ports: [{ name: 'http-proxy', port: 3129 }] } });
    // WHEN a demo-b pod sends a request through it
    const d = pod(objects, 'demo-b').deliver(viaGateway('gateway-b.proxy-demo.svc.cluster.local:3129', 'http', 'example.com', 1));
    // THEN the peer metadata filter adds the metadata-exchange headers (pod name, namespace, labels) and the gateway
    // route's request_headers_to_remove takes them out before the request leaves
    expect(d).toMatchObject({ cluster: 'outbound|3129||gateway-b.proxy-demo.svc.cluster.local', headersAdded: [] });
    expect(d.headersRemoved).toEqual(expect.arrayContaining(['x-envoy-peer-metadata', 'x-envoy-peer-metadata-id']));
    expect(d.sources.join('\n')).toContain('cluster_builder.go');
  });

  test('a mesh with the zipkin tracer adds B3 headers even with the product\'s manifests (no ProxyConfig turns them off): residual', () => {
    const d = pod(PRODUCT, 'vendor-c', { tracer: 'zipkin' }).deliver(site('example.com', 1));
    expect(d.headersAdded).toEqual(['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled']);
  });
});

describe('harm 3: another vendor\'s pods captured by the inspected gateway, paths normalized, header case lowered', () => {
  test('today\'s manifests: a vendor-a pod\'s plain HTTP to any site on port 22225 goes to vendor-b\'s gateway', () => {
    // GIVEN vendor-b's gateway EnvoyFilter without workloadSelector; WHEN a vendor-a pod fetches http://other.example:22225/
    const d = pod(TODAY, 'vendor-a').deliver(site('other.example', 1, { port: 22225 }));
    // THEN the route inserted in allow_any of route configuration 22225 sends it to vendor-b's gateway
    expect(d.cluster).toBe('outbound|22225||proxy.vendor-b.example');
    expect(d.path).toBe('0.0.0.0:22225 route proxy-vendor-vendor-b-22225-forward → outbound|22225||proxy.vendor-b.example');
  });

  test('the product\'s manifests: it goes where it was going (PassthroughCluster), untouched', () => {
    const m = pod(PRODUCT, 'vendor-a');
    expect(m.envoyFilters.notSelected).toEqual(['crawlers/proxy-vendor-vendor-b-22225']);
    expect(m.deliver(site('other.example', 1, { port: 22225 }))).toMatchObject({ cluster: 'PassthroughCluster', headersAdded: [], pathKept: true, headerCaseKept: true });
  });

  test('residual: vendor-b\'s own pods\' direct HTTP on port 22225 still goes to vendor-b\'s gateway (the routes match every host)', () => {
    expect(pod(PRODUCT, 'vendor-b').deliver(site('other.example', 1, { port: 22225 })).cluster).toBe('outbound|22225||proxy.vendor-b.example');
  });

  test('today\'s manifests: /a/../b is normalized and header names lowercased, direct and through the gateway', () => {
    for (const [vendor, flow] of [['vendor-c', site('example.com', 1, { path: '/a/../b' })], ['vendor-b', viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 1, { path: '/a/./b' })]] as Array<[string, CrawlerFlow]>) {
      expect(pod(TODAY, vendor).deliver(flow)).toMatchObject({ pathKept: false, headerCaseKept: false });
    }
  });

  test('the product\'s manifests: paths and header case kept, direct and through the gateway', () => {
    for (const [vendor, flow] of [['vendor-c', site('example.com', 1, { path: '/a/../b' })], ['vendor-b', viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 1, { path: '/a/./b' })]] as Array<[string, CrawlerFlow]>) {
      expect(pod(PRODUCT, vendor).deliver(flow)).toMatchObject({ pathKept: true, headerCaseKept: true });
    }
    // Without our HCM patch a mesh-wide pathNormalization NONE would do the same.
    const noPatch = PRODUCT.filter(o => o.metadata.name !== 'proxy-telemetry-transparent-http');
    expect(pod(noPatch, 'vendor-c').deliver(site('example.com', 1, { path: '/a/../b' })).pathKept).toBe(false);
    expect(pod(noPatch, 'vendor-c', { pathNormalization: 'NONE' }).deliver(site('example.com', 1, { path: '/a/../b' })).pathKept).toBe(true);
  });

  test('residual: Istio 1.25–1.27 keep request header case but lowercase response headers from PassthroughCluster (its formatter came in 1.28); before 1.25 both', () => {
    expect(pod(PRODUCT, 'vendor-c', { istioVersion: '1.27' }).deliver(site('example.com', 1)).headerCaseKept).toBe(false);
    expect(pod(PRODUCT, 'vendor-c', { istioVersion: '1.24' }).deliver(site('example.com', 1)).headerCaseKept).toBe(false);
    // The gateway cluster carries its own formatter (our CLUSTER MERGE), so 1.25+ keeps both there.
    expect(pod(PRODUCT, 'vendor-b', { istioVersion: '1.26' }).deliver(viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 1)).headerCaseKept).toBe(true);
  });
});

describe('SNI is still seen for direct TLS', () => {
  test('the product\'s manifests: the TLS ServiceEntry\'s listener reads the server name; destination_sni is the host', () => {
    const m = pod(PRODUCT, 'vendor-c');
    const [obs] = m.observe(tlsSite('www.wikipedia.org', 2));
    expect(obs.path).toBe('listener 0.0.0.0:443 → PassthroughFilterChain');
    expect(m.tags('TCP_CLOSED_CONNECTIONS', obs.attributes)).toEqual({ destination_sni: 'www.wikipedia.org' });
    expect(m.accept(tlsSite('www.wikipedia.org', 2))).toMatchObject({ handedOff: true, delayMs: 0, sni: 'www.wikipedia.org', listener: '0.0.0.0:443' });
  });
});

describe('HTTP/1.0', () => {
  const http10 = site('old.example', 1, { httpVersion: '1.0' });

  test('without PILOT_HTTP10 it misses the HTTP chain and passes through as TCP, unchanged (and uncounted as requests)', () => {
    const m = pod(PRODUCT, 'vendor-c');
    expect(m.deliver(http10)).toMatchObject({ outcome: 'delivered', cluster: 'PassthroughCluster', path: 'listener 0.0.0.0:80 → PassthroughFilterChain (HTTP/1.0)', headersAdded: [] });
    expect(m.observe(http10)).toMatchObject([{ kind: 'tcp' }]);
  });

  test('per-pod HTTP10 metadata alone does not help on the wildcard listener', () => {
    const d = deployment(PRODUCT, 'vendor-c');
    const m = SidecarModel.fromObjects(PRODUCT, NS, { podLabels: d.spec.template.metadata.labels, podAnnotations: { 'proxy.istio.io/config': 'proxyMetadata: {ISTIO_META_HTTP10: "1"}' } });
    expect(m.proxyConfig.http10Metadata).toBe(true);
    expect(m.deliver(http10).path).toBe('listener 0.0.0.0:80 → PassthroughFilterChain (HTTP/1.0)');
  });

  test('with PILOT_HTTP10 on Istio 1.28 the connection manager takes it, with nothing added', () => {
    expect(pod(PRODUCT, 'vendor-c', { pilotHttp10: true }).deliver(http10)).toMatchObject({ outcome: 'delivered', headersAdded: [], path: '0.0.0.0:80 vhost allow_any → PassthroughCluster' });
  });

  test('residual: with PILOT_HTTP10 on Istio 1.26/1.27, preserveHttp1HeaderCase overwrites accept_http_10: the sidecar answers 426', () => {
    for (const istioVersion of ['1.26', '1.27']) {
      expect(pod(PRODUCT, 'vendor-c', { pilotHttp10: true, istioVersion }).deliver(http10)).toMatchObject({ outcome: 'rejected', cluster: 'none' });
    }
    // Today's pods (no preserveHttp1HeaderCase) are not hit.
    expect(pod(TODAY, 'vendor-c', { pilotHttp10: true, istioVersion: '1.26' }).deliver(http10).outcome).toBe('delivered');
  });
});

describe('root-namespace Telemetry merged before the crawler namespace\'s', () => {
  const rootTelemetry = (overrides: object[]): KubeObject => ({
    apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'mesh-default', namespace: 'istio-system' },
    spec: { metrics: [{ providers: [{ name: 'prometheus' }], overrides }] },
  });

  test('a root REMOVE of a tag ours does not set survives (request_protocol, which the contract needs); one ours UPSERTs is overridden', () => {
    // GIVEN a root Telemetry removing request_protocol and destination_host from client metrics
    const objects = [...PRODUCT, rootTelemetry([{ match: { metric: 'ALL_METRICS', mode: 'CLIENT' }, tagOverrides: { request_protocol: { operation: 'REMOVE' }, destination_host: { operation: 'REMOVE' } } }])];
    const m = pod(objects, 'vendor-c');
    // THEN request_protocol stays removed; destination_host is ours again (our UPSERT comes later)
    expect(m.telemetry.removed.CLIENT.REQUEST_COUNT?.has('request_protocol')).toBe(true);
    expect(m.telemetry.removed.CLIENT.REQUEST_COUNT?.has('destination_host')).toBe(false);
    expect(m.tags('REQUEST_COUNT', { sni: '', host: 'example.com' })).toEqual({ destination_host: 'example.com' });
    // AND the conflict helper names exactly what the contract loses
    const conflicts = telemetryConflicts(objects, NS);
    expect(conflicts.every(c => c.tag === 'request_protocol' && c.problem === 'tag removed' && c.source === 'Telemetry istio-system/mesh-default')).toBe(true);
    expect(conflicts.map(c => c.metric).sort()).toEqual(['REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', 'TCP_CLOSED_CONNECTIONS',
      'TCP_OPENED_CONNECTIONS', 'TCP_RECEIVED_BYTES', 'TCP_SENT_BYTES']);
    expect(telemetryConflicts(PRODUCT, NS)).toEqual([]);
  });

  test('a root ALL_METRICS disable is cleared by our later overrides of the same mode; a root disable of one metric survives', () => {
    const allOff = [...PRODUCT, rootTelemetry([{ match: { metric: 'ALL_METRICS', mode: 'CLIENT' }, disabled: true }])];
    expect(pod(allOff, 'vendor-c').telemetry.disabled.CLIENT.size).toBe(0);
    expect(telemetryConflicts(allOff, NS)).toEqual([]);
    const oneOff = [...PRODUCT, rootTelemetry([{ match: { metric: 'TCP_SENT_BYTES', mode: 'CLIENT' }, disabled: true }])];
    expect(telemetryConflicts(oneOff, NS)).toEqual([{ metric: 'TCP_SENT_BYTES', problem: 'metric disabled', source: 'Telemetry istio-system/mesh-default' }]);
  });
});
