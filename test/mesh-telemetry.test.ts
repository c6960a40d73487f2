import { MeshTelemetry } from '../lib/mesh-telemetry';
import { VendorCatalog } from '../core/vendor';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart } from './support/synth';

const vendors = () => new VendorCatalog([
  { name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000', 'gw2.vendor-a.example:8001'] },
  { name: 'vendor-b', endpoints: ['proxy.vendor-b.example:22225'], gateway: { inspect: 'http' } },
  { name: 'vendor-c' },
]);

describe('MeshTelemetry', () => {
  test('defaults: an injected namespace with Telemetry, Sidecar, an HTTP listener on port 80, the TLS inspector and one ServiceEntry per gateway endpoint', () => {
    // GIVEN / WHEN
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors() }));

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    const ns = findObject(objects, 'Namespace', 'crawlers');
    expect(ns.metadata.labels).toEqual({ 'istio-injection': 'enabled', 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'restricted' });
    // The Namespace comes first so `kubectl apply` can create what lives in it.
    expect(objects[0].kind).toBe('Namespace');

    // One ServiceEntry per host:port: hosts × ports in one entry would misroute (first host wins a port).
    const entries = objects.filter(o => o.kind === 'ServiceEntry' && o.metadata.name.startsWith('proxy-vendor-'));
    expect(entries.map(o => [o.metadata.name, o.spec.hosts, o.spec.ports])).toEqual([
      ['proxy-vendor-vendor-a-8000', ['gw.vendor-a.example'], [{ number: 8000, name: 'tcp-8000', protocol: 'TCP' }]],
      ['proxy-vendor-vendor-a-8001', ['gw2.vendor-a.example'], [{ number: 8001, name: 'tcp-8001', protocol: 'TCP' }]],
      ['proxy-vendor-vendor-b-22225', ['proxy.vendor-b.example'], [{ number: 22225, name: 'http-22225', protocol: 'HTTP' }]],
    ]);
    for (const e of entries) expect(e.spec).toMatchObject({ exportTo: ['.'], location: 'MESH_EXTERNAL', resolution: 'DNS' });

    // Port 80 is parsed as HTTP through an address-less HTTP ServiceEntry; unknown hosts pass through.
    expect(findObject(objects, 'ServiceEntry', 'proxy-telemetry-http-80', 'crawlers').spec).toEqual({
      hosts: ['http-80.proxy-telemetry.invalid'], exportTo: ['.'], location: 'MESH_EXTERNAL', resolution: 'NONE',
      ports: [{ number: 80, name: 'http-80', protocol: 'HTTP' }],
    });
    const sidecar = findObject(objects, 'Sidecar', 'default', 'crawlers');
    expect(sidecar.spec.outboundTrafficPolicy).toEqual({ mode: 'ALLOW_ANY' });
    expect(sidecar.spec.egress).toEqual([{ hosts: ['./*', 'istio-system/*'] }]);

    // SNI from the listener of port 443 that an address-less TLS ServiceEntry gives: nothing patches virtualOutbound.
    expect(findObject(objects, 'ServiceEntry', 'proxy-telemetry-tls-443', 'crawlers').spec).toEqual({
      hosts: ['tls-443.proxy-telemetry.invalid'], exportTo: ['.'], location: 'MESH_EXTERNAL', resolution: 'NONE',
      ports: [{ number: 443, name: 'tls-443', protocol: 'TLS' }],
    });
    expect(JSON.stringify(objects)).not.toContain('virtualOutbound');

    // Every HTTP listener port (80, and the inspected gateway's) keeps paths as sent and drops x-forwarded-proto and
    // the metadata-exchange headers (allow_any leads to PassthroughCluster only).
    const transparent = findObject(objects, 'EnvoyFilter', 'proxy-telemetry-transparent-http', 'crawlers');
    expect(transparent.spec.workloadSelector).toBeUndefined();
    expect(transparent.spec.configPatches.map((p: any) => [p.applyTo, p.match.listener?.portNumber ?? p.match.routeConfiguration?.portNumber, p.patch.operation])).toEqual([
      ['NETWORK_FILTER', 80, 'MERGE'], ['VIRTUAL_HOST', 80, 'MERGE'], ['NETWORK_FILTER', 22225, 'MERGE'], ['VIRTUAL_HOST', 22225, 'MERGE'],
    ]);
    expect(transparent.spec.configPatches[0].match.listener.filterChain).toEqual({ filter: { name: 'envoy.filters.network.http_connection_manager' } });
    expect(transparent.spec.configPatches[0].patch.value.typed_config).toMatchObject({ normalize_path: false, merge_slashes: false, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' });
    expect(transparent.spec.configPatches[1].match.routeConfiguration.vhost).toEqual({ name: 'allow_any' });
    expect(transparent.spec.configPatches[1].patch.value).toEqual({ request_headers_to_remove: ['x-forwarded-proto', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id'] });

    // The inspected gateway: CONNECT and absolute-form routes in allow_any of route configuration 22225, absolute-form upstream.
    // Only vendor-b's pods get them: route configuration 22225 is every pod's.
    const inspection = findObject(objects, 'EnvoyFilter', 'proxy-vendor-vendor-b-22225', 'crawlers');
    expect(inspection.spec.workloadSelector).toEqual({ labels: { 'proxy-vendor': 'vendor-b' } });
    const [forward, connect, cluster] = inspection.spec.configPatches;
    for (const route of [forward, connect]) {
      expect(route.match).toEqual({ context: 'SIDECAR_OUTBOUND', routeConfiguration: { portNumber: 22225, vhost: { name: 'allow_any' } } });
      expect(route.patch.operation).toBe('INSERT_FIRST');
      expect(route.patch.value.route).toMatchObject({ cluster: 'outbound|22225||proxy.vendor-b.example', timeout: '0s' });
      expect(route.patch.value.request_headers_to_remove).toEqual(['x-forwarded-proto', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id']);
    }
    expect(forward.patch.value.match).toEqual({ prefix: '/' });
    expect(connect.patch.value.match).toEqual({ connect_matcher: {} });
    expect(connect.patch.value.route.upgrade_configs).toEqual([{ upgrade_type: 'CONNECT' }]);
    expect(cluster.match).toEqual({ context: 'SIDECAR_OUTBOUND', cluster: { name: 'outbound|22225||proxy.vendor-b.example' } });
    expect(cluster.patch.value.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config)
      .toEqual({ http_protocol_options: { send_fully_qualified_url: true, header_key_format: { stateful_formatter: { name: 'preserve_case', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.http.header_formatters.preserve_case.v3.PreserveCaseFormatterConfig' } } } } });
    // No inspection EnvoyFilter for TCP gateways.
    expect(objects.filter(o => o.kind === 'EnvoyFilter').map(o => o.metadata.name).sort()).toEqual(['proxy-telemetry-transparent-http', 'proxy-vendor-vendor-b-22225']);

    // Minimal tags: the contract's tags only; destinations (SNI, request host) on the two counters of the destination
    // job only, every other metric free of them; no inbound metrics.
    const telemetry = findObject(objects, 'Telemetry', 'proxy-telemetry', 'crawlers');
    const overrides: any[] = telemetry.spec.metrics[0].overrides;
    const sniTags = overrides.filter(o => o.tagOverrides?.destination_sni);
    expect(sniTags).toEqual([{ match: { metric: 'TCP_CLOSED_CONNECTIONS', mode: 'CLIENT' }, tagOverrides: { destination_sni: { operation: 'UPSERT', value: 'connection.requested_server_name' } } }]);
    const hostTags = overrides.filter(o => o.tagOverrides?.destination_host);
    expect(hostTags).toEqual([{ match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' }, tagOverrides: { destination_host: { operation: 'UPSERT', value: 'request.host' } } }]);
    const removed = (metric: string) => Object.keys(overrides.find(o => o.match.metric === metric && o.match.mode === 'CLIENT' && o.tagOverrides && !o.tagOverrides.destination_sni && !o.tagOverrides.destination_host)?.tagOverrides ?? {}).sort();
    const common = removed('ALL_METRICS');
    expect(common).toEqual(expect.arrayContaining(['source_workload', 'source_principal', 'destination_workload', 'destination_service_name', 'response_flags', 'connection_security_policy', 'grpc_response_status']));
    for (const tag of ['reporter', 'destination_service', 'request_protocol', 'response_code']) expect(common).not.toContain(tag);
    // HTTP sizes and durations lose destination_service (the Host header through PassthroughCluster: unbounded).
    expect(removed('REQUEST_COUNT')).toEqual(['response_code']);
    expect(removed('REQUEST_SIZE')).toEqual(['destination_service']);
    expect(removed('RESPONSE_SIZE')).toEqual(['destination_service', 'response_code']);
    expect(removed('REQUEST_DURATION')).toEqual(['destination_service', 'response_code']);
    expect(overrides.filter(o => o.disabled).map(o => o.match)).toEqual([{ metric: 'ALL_METRICS', mode: 'SERVER' }]);
    for (const o of overrides.filter(o => o.tagOverrides)) for (const op of Object.values<any>(o.tagOverrides)) expect(['REMOVE', 'UPSERT']).toContain(op.operation);
  });

  test('httpPorts and tlsPorts: a listener each; empty lists turn parsing, SNI and the transparency patches off', () => {
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), httpPorts: [80, 8080], tlsPorts: [443, 8443] }));
    expectValidObjects(objects);
    expect(objects.filter(o => o.metadata.name.startsWith('proxy-telemetry-http-')).map(o => o.spec.ports[0].number)).toEqual([80, 8080]);
    expect(objects.filter(o => o.metadata.name.startsWith('proxy-telemetry-tls-')).map(o => [o.spec.hosts[0], o.spec.ports[0]])).toEqual([
      ['tls-443.proxy-telemetry.invalid', { number: 443, name: 'tls-443', protocol: 'TLS' }],
      ['tls-8443.proxy-telemetry.invalid', { number: 8443, name: 'tls-8443', protocol: 'TLS' }],
    ]);
    expect(new Set(findObject(objects, 'EnvoyFilter', 'proxy-telemetry-transparent-http').spec.configPatches.map((p: any) => p.match.listener?.portNumber ?? p.match.routeConfiguration.portNumber)))
      .toEqual(new Set([80, 8080, 22225]));

    const off = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: new VendorCatalog([{ name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'] }]), httpPorts: [], tlsPorts: [] }));
    expect(off.filter(o => o.metadata.name.startsWith('proxy-telemetry-http-') || o.metadata.name.startsWith('proxy-telemetry-tls-') || o.kind === 'EnvoyFilter')).toEqual([]);
  });

  test('metricTags standard keeps Istio\'s tags and only adds the SNI and host tags', () => {
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), metricTags: 'standard' }));
    expectValidObjects(objects);
    const overrides = findObject(objects, 'Telemetry', 'proxy-telemetry', 'crawlers').spec.metrics[0].overrides;
    expect(overrides).toEqual([
      { match: { metric: 'TCP_CLOSED_CONNECTIONS', mode: 'CLIENT' }, tagOverrides: { destination_sni: { operation: 'UPSERT', value: 'connection.requested_server_name' } } },
      { match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' }, tagOverrides: { destination_host: { operation: 'UPSERT', value: 'request.host' } } },
    ]);
  });

  test('non-default props: several namespaces, a revision, restricted level, own SNI expression and egress hosts', () => {
    // GIVEN / WHEN
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', {
      vendors: vendors(),
      namespaces: ['crawl-eu', 'crawl-us'],
      revision: 'canary',
      podSecurityLevel: 'restricted',
      sniExpression: 'connection.sni',
      extraEgressHosts: ['istio-system/*', 'observability/otel.observability.svc.cluster.local'],
    }));

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    for (const name of ['crawl-eu', 'crawl-us']) {
      expect(findObject(objects, 'Namespace', name).metadata.labels).toEqual({ 'istio.io/rev': 'canary', 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
      expect(findObject(objects, 'ServiceEntry', 'proxy-vendor-vendor-b-22225', name).spec.exportTo).toEqual(['.']);
      expect(findObject(objects, 'EnvoyFilter', 'proxy-vendor-vendor-b-22225', name).metadata.namespace).toBe(name);
      expect(findObject(objects, 'Telemetry', 'proxy-telemetry', name).spec.metrics[0].overrides.find((o: any) => o.tagOverrides?.destination_sni).tagOverrides.destination_sni.value).toBe('connection.sni');
    }
  });

  test('in-cluster gateways: no ServiceEntry against Istio\'s registry, the Service imported by the Sidecar, inspection routes still', () => {
    // GIVEN gateways that are Kubernetes Services
    const catalog = new VendorCatalog([
      { name: 'demo-a', endpoints: ['gateway-a.proxy-demo.svc.cluster.local:3128'] },
      { name: 'demo-b', endpoints: ['gateway-b.proxy-demo.svc.cluster.local:3129'], gateway: { inspect: 'http' } },
    ]);

    // WHEN
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: catalog }));

    // THEN
    expectValidObjects(objects);
    expect(objects.filter(o => o.kind === 'ServiceEntry').map(o => o.metadata.name)).toEqual(['proxy-telemetry-http-80', 'proxy-telemetry-tls-443']);
    expect(findObject(objects, 'Sidecar', 'default').spec.egress).toEqual([{
      hosts: ['./*', 'istio-system/*', 'proxy-demo/gateway-a.proxy-demo.svc.cluster.local', 'proxy-demo/gateway-b.proxy-demo.svc.cluster.local'],
    }]);
    const inspection = findObject(objects, 'EnvoyFilter', 'proxy-vendor-demo-b-3129');
    expect(inspection.spec.configPatches[2].match.cluster.name).toBe('outbound|3129||gateway-b.proxy-demo.svc.cluster.local');
  });

  test('createNamespaces false leaves namespaces to the user', () => {
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), createNamespaces: false }));
    expect(objects.filter(o => o.kind === 'Namespace')).toEqual([]);
    expect(objects.map(o => o.kind).sort()).toEqual(['EnvoyFilter', 'EnvoyFilter', 'ServiceEntry', 'ServiceEntry', 'ServiceEntry', 'ServiceEntry', 'ServiceEntry', 'Sidecar', 'Telemetry']);
  });

  test.each([
    [{ namespaces: [] }, '\'namespaces\' ([]) must list at least one entry'],
    [{ namespaces: ['Crawlers'] }, '\'namespaces[0]\' ("Crawlers") must be a DNS label'],
    [{ namespaces: ['a', 'a'] }, '\'namespaces[1]\' ("a") is a duplicate'],
    [{ revision: 'v1.2' }, '\'revision\' ("v1.2") must be a DNS label'],
    [{ podSecurityLevel: 'strict' as any }, '\'podSecurityLevel\' ("strict") must be one of privileged, baseline, restricted'],
    [{ sniExpression: ' ' }, '\'sniExpression\' (" ") must be a CEL expression'],
    [{ extraEgressHosts: ['*'] }, '\'extraEgressHosts[0]\' ("*") must be \'namespace/host\''],
    [{ metricTags: 'full' as any }, '\'metricTags\' ("full") must be \'minimal\' or \'standard\''],
    [{ httpPorts: [443] }, '\'httpPorts[0]\' (443) is the HTTPS port'],
    [{ httpPorts: [80, 15001] }, '\'httpPorts[1]\' (15001) is a port of the istio-proxy sidecar itself'],
    [{ httpPorts: [8000] }, '\'httpPorts[0]\' (8000) is a gateway port of vendor \'vendor-a\''],
    [{ httpPorts: [80, 80] }, '\'httpPorts[1]\' (80) is a duplicate'],
    [{ httpPorts: [0] }, '\'httpPorts[0]\' (0) must be >= 1'],
    [{ tlsPorts: [443, 443] }, '\'tlsPorts[1]\' (443) is a duplicate'],
    [{ tlsPorts: [80] }, '\'tlsPorts[0]\' (80) is also in \'httpPorts\''],
    [{ tlsPorts: [15090] }, '\'tlsPorts[0]\' (15090) is a port of the istio-proxy sidecar itself'],
    [{ tlsPorts: [8001] }, '\'tlsPorts[0]\' (8001) is a gateway port of vendor \'vendor-a\''],
    [{ tlsPorts: [70000] }, '\'tlsPorts[0]\' (70000) must be <= 65535'],
  ])('rejects %j', (props, message) => {
    expect(() => synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), ...props }))).toThrow(message);
  });
});
