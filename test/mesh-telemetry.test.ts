import { MeshTelemetry } from '../lib/mesh-telemetry';
import { VendorCatalog } from '../lib/vendor';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart } from './support/synth';

const vendors = () => new VendorCatalog([
  { name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000', 'gw2.vendor-a.example:8001'] },
  { name: 'vendor-b', endpoints: ['proxy.vendor-b.example:22225'] },
  { name: 'vendor-c' },
]);

describe('MeshTelemetry', () => {
  test('defaults: one injected crawler namespace with Telemetry, Sidecar and a TCP ServiceEntry per gateway vendor', () => {
    // GIVEN / WHEN
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors() }));

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    const ns = findObject(objects, 'Namespace', 'crawlers');
    expect(ns.metadata.labels).toEqual({ 'istio-injection': 'enabled', 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'restricted' });
    // The Namespace comes first so `kubectl apply` can create what lives in it.
    expect(objects[0].kind).toBe('Namespace');

    const se = findObject(objects, 'ServiceEntry', 'proxy-vendor-vendor-a', 'crawlers');
    expect(se.spec).toEqual({
      hosts: ['gw.vendor-a.example', 'gw2.vendor-a.example'],
      exportTo: ['.'],
      location: 'MESH_EXTERNAL',
      resolution: 'DNS',
      ports: [{ number: 8000, name: 'tcp-8000', protocol: 'TCP' }, { number: 8001, name: 'tcp-8001', protocol: 'TCP' }],
    });
    // Never HTTP: an HTTP port breaks CONNECT with 404 NR route_not_found.
    for (const entry of objects.filter(o => o.kind === 'ServiceEntry')) {
      for (const port of entry.spec.ports) expect(port.protocol).toBe('TCP');
    }
    expect(objects.filter(o => o.kind === 'ServiceEntry').map(o => o.metadata.name)).toEqual(['proxy-vendor-vendor-a', 'proxy-vendor-vendor-b']);

    const sidecar = findObject(objects, 'Sidecar', 'default', 'crawlers');
    expect(sidecar.spec.outboundTrafficPolicy).toEqual({ mode: 'ALLOW_ANY' });
    expect(sidecar.spec.egress).toEqual([{ hosts: ['./*', 'istio-system/*'] }]);

    // Minimal tags: the contract's tags only, SNI on TCP, no inbound or closed-connection metrics.
    const telemetry = findObject(objects, 'Telemetry', 'proxy-telemetry', 'crawlers');
    const overrides: any[] = telemetry.spec.metrics[0].overrides;
    const sni = overrides.filter(o => o.tagOverrides?.destination_sni);
    expect(sni.map(o => o.match.metric).sort()).toEqual(['TCP_CLOSED_CONNECTIONS', 'TCP_OPENED_CONNECTIONS', 'TCP_RECEIVED_BYTES', 'TCP_SENT_BYTES']);
    for (const o of sni) {
      expect(o.match.mode).toBe('CLIENT');
      expect(o.tagOverrides).toEqual({ destination_sni: { operation: 'UPSERT', value: 'connection.requested_server_name' } });
    }
    const removed = (metric: string) => Object.keys(overrides.find(o => o.match.metric === metric && o.match.mode === 'CLIENT' && o.tagOverrides && !o.tagOverrides.destination_sni)?.tagOverrides ?? {}).sort();
    const common = removed('ALL_METRICS');
    expect(common).toEqual(expect.arrayContaining(['source_workload', 'source_principal', 'destination_workload', 'destination_service_name', 'response_flags', 'connection_security_policy', 'grpc_response_status']));
    for (const tag of ['reporter', 'destination_service', 'request_protocol', 'response_code']) expect(common).not.toContain(tag);
    expect(removed('REQUEST_DURATION')).toEqual(['destination_service', 'response_code']);
    expect(removed('REQUEST_SIZE')).toEqual(['response_code']);
    expect(removed('RESPONSE_SIZE')).toEqual(['response_code']);
    expect(overrides.filter(o => o.disabled).map(o => o.match)).toEqual([{ metric: 'ALL_METRICS', mode: 'SERVER' }, { metric: 'TCP_CLOSED_CONNECTIONS', mode: 'CLIENT' }]);
    for (const o of overrides.filter(o => o.tagOverrides)) for (const op of Object.values<any>(o.tagOverrides)) expect(['REMOVE', 'UPSERT']).toContain(op.operation);
  });

  test('metricTags standard keeps Istio\'s tags and only adds the SNI tag', () => {
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), metricTags: 'standard' }));
    expectValidObjects(objects);
    const overrides = findObject(objects, 'Telemetry', 'proxy-telemetry', 'crawlers').spec.metrics[0].overrides;
    expect(overrides).toHaveLength(4);
    for (const o of overrides) expect(o).toEqual({ match: { metric: o.match.metric, mode: 'CLIENT' }, tagOverrides: { destination_sni: { operation: 'UPSERT', value: 'connection.requested_server_name' } } });
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
      expect(findObject(objects, 'ServiceEntry', 'proxy-vendor-vendor-b', name).spec.exportTo).toEqual(['.']);
      expect(findObject(objects, 'Telemetry', 'proxy-telemetry', name).spec.metrics[0].overrides.find((o: any) => o.tagOverrides?.destination_sni).tagOverrides.destination_sni.value).toBe('connection.sni');
    }
  });

  test('createNamespaces false leaves namespaces to the user', () => {
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), createNamespaces: false }));
    expect(objects.filter(o => o.kind === 'Namespace')).toEqual([]);
    expect(objects.map(o => o.kind).sort()).toEqual(['ServiceEntry', 'ServiceEntry', 'Sidecar', 'Telemetry']);
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
  ])('rejects %j', (props, message) => {
    expect(() => synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: vendors(), ...props }))).toThrow(message);
  });
});
