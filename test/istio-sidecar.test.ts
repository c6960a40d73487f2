import { MeshTelemetry, MeshTelemetryProps } from '../lib/mesh-telemetry';
import { VendorCatalog } from '../core/vendor';
import { CrawlerFlow, contractView } from '../harness/crawler-flows';
import { INSPECTED_GATEWAY, TCP_GATEWAY, fleetVendors, site, tlsSite, viaGateway } from './support/fleet';
import { IstioProfile, Observation, SidecarModel } from '../harness/istio-sidecar';
import { KubeObject } from '../harness/kube-object';
import { synthChart } from './support/synth';

/**
 * The sidecar model decides from the manifests, like Istio: these cases pin each decision to the manifest that
 * causes it, including the ones our manifests exist to prevent (no HTTP listener on port 80 in a minimal-profile
 * mesh, no SNI without the TLS inspector, a gateway port claimed by the wrong host, CONNECT on an HTTP port).
 */

/** The shared fleet's three vendors: a TCP gateway, an inspected gateway, direct (their prices play no part here). */
const catalog = fleetVendors;

/** The sidecar of a vendor-b crawler pod (the inspected gateway's EnvoyFilter selects vendor-b's pods). */
function model(props: Partial<MeshTelemetryProps> = {}, opts: { profile?: IstioProfile; edit?: (objects: KubeObject[]) => KubeObject[]; podLabels?: Record<string, string> } = {}): SidecarModel {
  const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: catalog(), ...props }));
  return SidecarModel.fromObjects(opts.edit ? opts.edit(objects) : objects, 'crawlers', { profile: opts.profile, podLabels: opts.podLabels ?? { 'proxy-vendor': 'vendor-b' } });
}

/** The one observation of a flow, with the tags the Telemetry gives the counter the destination rule reads. */
function observe(m: SidecarModel, flow: CrawlerFlow): Observation & { tagValues: Record<string, string> } {
  const [obs, ...rest] = m.observe(flow);
  expect(rest).toEqual([]);
  return { ...obs, tagValues: m.tags(obs.kind === 'http' ? 'REQUEST_COUNT' : 'TCP_CLOSED_CONNECTIONS', obs.attributes) };
}

const withoutObject = (kind: string, name: string) => (objects: KubeObject[]) => objects.filter(o => !(o.kind === kind && o.metadata.name === name));

describe('sidecar model, minimal-profile mesh with the product\'s manifests', () => {
  const m = model();

  test('plain HTTP on port 80: the HTTP listener of the product\'s ServiceEntry parses it; destination_service is the Host header', () => {
    const obs = observe(m, site('example.com', 5));
    expect(obs).toMatchObject({ kind: 'http', destination: { service: 'example.com', serviceName: 'PassthroughCluster' }, responseCode: 200, perSecond: 5 });
    expect(obs.tagValues).toEqual({ destination_host: 'example.com' });
    expect(obs.path).toBe('0.0.0.0:80 allow_any → PassthroughCluster');
    // h2c prior knowledge too (the outbound HTTP connection manager's codec is AUTO).
    expect(observe(m, site('example.com', 5, { httpVersion: '2' })).kind).toBe('http');
  });

  test('plain HTTP on a port that is not declared: TCP connections to "unknown"', () => {
    const obs = observe(m, site('example.net', 6, { port: 8080, requestsPerConnection: 3 }));
    expect(obs).toMatchObject({ kind: 'tcp', destination: { service: 'unknown', serviceName: 'PassthroughCluster' }, connectionsPerSecond: 2, upBytesPerSecond: 6 * 350 });
    expect(obs.path).toBe('virtualOutbound → virtualOutbound-catchall-tcp');
  });

  test('direct TLS: TCP through the TLS ServiceEntry\'s listener 0.0.0.0:443 and its PassthroughFilterChain, SNI from its TLS inspector; none without SNI', () => {
    expect(observe(m, tlsSite('www.wikipedia.org', 2)).tagValues).toEqual({ destination_sni: 'www.wikipedia.org' });
    expect(observe(m, tlsSite('www.wikipedia.org', 2)).path).toBe('listener 0.0.0.0:443 → PassthroughFilterChain');
    expect(m.virtualOutbound.tlsInspector).toBe(false);
    expect(observe(m, tlsSite('93.184.216.34', 2, { sni: false })).tagValues).toEqual({ destination_sni: '' });
    expect(observe(m, tlsSite('www.wikipedia.org', 2))).toMatchObject({ kind: 'tcp', destination: { service: 'unknown' }, connectionsPerSecond: 2 });
  });

  test('a TCP gateway: connections to the gateway host, whatever the request or the gateway\'s answer', () => {
    for (const flow of [viaGateway(TCP_GATEWAY, 'https', 'www.wikipedia.org', 4), viaGateway(TCP_GATEWAY, 'http', 'example.com', 8, { requestsPerConnection: 4, responseCode: 407 })]) {
      const obs = observe(m, flow);
      expect(obs).toMatchObject({ kind: 'tcp', destination: { service: 'gw.vendor-a.example', serviceName: 'gw.vendor-a.example', serviceNamespace: 'crawlers' } });
      expect(obs.path).toBe('listener 0.0.0.0:8000 → gw.vendor-a.example');
    }
    expect(observe(m, viaGateway(TCP_GATEWAY, 'http', 'example.com', 8, { requestsPerConnection: 4 }))).toMatchObject({ connectionsPerSecond: 2 });
  });

  test('an inspected gateway: each request and each tunnel, with the gateway\'s code and the target as host', () => {
    const tunnel = observe(m, viaGateway(INSPECTED_GATEWAY, 'https', 'shop.example.org', 1, { responseCode: 407 }));
    expect(tunnel).toMatchObject({ kind: 'http', responseCode: 407, destination: { service: 'proxy.vendor-b.example' }, perSecond: 1 });
    expect(tunnel.tagValues).toEqual({ destination_host: 'shop.example.org:443' });
    expect(tunnel.path).toBe('0.0.0.0:22225 route proxy-vendor-vendor-b-22225-connect → outbound|22225||proxy.vendor-b.example');
    const request = observe(m, viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 10, { responseCode: 429 }));
    expect(request).toMatchObject({ kind: 'http', responseCode: 429, destination: { service: 'proxy.vendor-b.example' }, perSecond: 10 });
    expect(request.tagValues).toEqual({ destination_host: 'example.com' });
  });

  test('what the model reports equals what the product promises, for every path', () => {
    const intent = { httpPorts: new Set([80]), inspectedGateways: new Set([INSPECTED_GATEWAY]) };
    const flows: CrawlerFlow[] = [site('example.com', 5), site('example.net', 6, { port: 8080, requestsPerConnection: 3 }), tlsSite('www.wikipedia.org', 2),
      tlsSite('10.0.0.1', 2, { sni: false }), viaGateway(TCP_GATEWAY, 'https', 'a.example', 3), viaGateway(TCP_GATEWAY, 'http', 'b.example', 8, { requestsPerConnection: 4 }),
      viaGateway(INSPECTED_GATEWAY, 'https', 'c.example', 3), viaGateway(INSPECTED_GATEWAY, 'http', 'd.example', 7, { responseCode: 404 })];
    for (const flow of flows) {
      const promised = contractView(flow, intent);
      const obs = observe(m, flow);
      const destination = obs.kind === 'tcp'
        ? (obs.tagValues.destination_sni || obs.destination.service)
        : obs.tagValues.destination_host.replace(/:(80|443)$/, '');
      expect({ flow, protocol: obs.kind, destination, perSecond: obs.kind === 'http' ? obs.perSecond : obs.connectionsPerSecond })
        .toEqual({ flow, protocol: promised.protocol, destination: promised.destination, perSecond: promised.perSecond });
    }
  });
});

describe('sidecar model: in-cluster gateways (Kubernetes Services)', () => {
  const service = (name: string, portName: string, port: number): KubeObject => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'proxy-demo' },
    spec: { selector: { app: name }, ports: [{ name: portName, port, targetPort: port }] },
  });
  const objects = [
    ...synthChart(chart => new MeshTelemetry(chart, 'mesh', {
      vendors: new VendorCatalog([
        { name: 'demo-a', endpoints: ['gateway-a.proxy-demo.svc.cluster.local:3128'] },
        { name: 'demo-b', endpoints: ['gateway-b.proxy-demo.svc.cluster.local:3129'], gateway: { inspect: 'http' } },
      ]),
    })),
    service('gateway-a', 'tcp-proxy', 3128), service('gateway-b', 'http-proxy', 3129),
  ];
  const m = SidecarModel.fromObjects(objects, 'crawlers', { podLabels: { 'proxy-vendor': 'demo-b' } });

  test('a TCP gateway Service: its cluster IP\'s listener, connections to the Service', () => {
    const obs = observe(m, viaGateway('gateway-a.proxy-demo.svc.cluster.local:3128', 'https', 'www.example.org', 2));
    expect(obs).toMatchObject({ kind: 'tcp', destination: { service: 'gateway-a.proxy-demo.svc.cluster.local', serviceName: 'gateway-a', serviceNamespace: 'proxy-demo' } });
    expect(obs.path).toMatch(/^listener 10\.96\.1\.\d+:3128 → gateway-a/);
  });

  test('an inspected gateway Service (HTTP port): requests with the gateway\'s codes and the target as host', () => {
    const obs = observe(m, viaGateway('gateway-b.proxy-demo.svc.cluster.local:3129', 'https', 'www.example.org', 2, { responseCode: 429 }));
    expect(obs).toMatchObject({ kind: 'http', responseCode: 429, destination: { service: 'gateway-b.proxy-demo.svc.cluster.local' } });
    expect(obs.tagValues).toEqual({ destination_host: 'www.example.org:443' });
  });

  test('without the Sidecar importing the gateway\'s namespace, the Service is unknown to the sidecar: passthrough to "unknown"', () => {
    const blind = SidecarModel.fromObjects(objects.map(o => o.kind === 'Sidecar' ? { ...o, spec: { ...o.spec, egress: [{ hosts: ['./*', 'istio-system/*'] }] } } : o), 'crawlers',
      { podLabels: { 'proxy-vendor': 'demo-a' } });
    expect(observe(blind, viaGateway('gateway-a.proxy-demo.svc.cluster.local:3128', 'https', 'www.example.org', 2)).destination.service).toBe('unknown');
  });
});

describe('sidecar model: what goes wrong without the product\'s manifests', () => {
  test('no HTTP ServiceEntry on port 80 in a minimal-profile mesh: plain HTTP is TCP to "unknown" (no requests, no Host)', () => {
    const blind = model({ httpPorts: [] });
    expect([...blind.listeners.keys()]).not.toContain('0.0.0.0:80');
    expect(observe(blind, site('example.com', 5))).toMatchObject({ kind: 'tcp', destination: { service: 'unknown' } });
  });

  test('the default profile\'s ingress gateway gives port 80 an HTTP listener by accident: what the minimal profile lacks', () => {
    const lucky = model({ httpPorts: [] }, { profile: 'default' });
    expect(lucky.listenerFor('203.0.113.9', 80)?.kind).toBe('http');
    expect(observe(lucky, site('example.com', 5))).toMatchObject({ kind: 'http', destination: { service: 'example.com' } });
  });

  test('no TLS inspector (neither the TLS ServiceEntry\'s listener nor one on virtualOutbound): direct TLS has an empty server name', () => {
    const blind = model({}, { edit: withoutObject('ServiceEntry', 'proxy-telemetry-tls-443') });
    expect(blind.virtualOutbound.tlsInspector).toBe(false);
    expect(blind.listenerFor('203.0.113.9', 443)).toBeUndefined();
    expect(observe(blind, tlsSite('www.wikipedia.org', 2))).toMatchObject({ tagValues: { destination_sni: '' }, path: 'virtualOutbound → virtualOutbound-catchall-tcp' });
  });

  test('one ServiceEntry with two hosts and two ports: the first host takes both ports, the other gateway\'s traffic is misrouted', () => {
    const crossProduct = model({}, {
      edit: objects => [
        ...objects.filter(o => !(o.kind === 'ServiceEntry' && o.metadata.name.startsWith('proxy-vendor-vendor-a'))),
        {
          apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'proxy-vendor-vendor-a', namespace: 'crawlers' },
          spec: { hosts: ['gw1.vendor-a.example', 'gw2.vendor-a.example'], exportTo: ['.'], location: 'MESH_EXTERNAL', resolution: 'DNS',
            ports: [{ number: 8000, name: 'tcp-8000', protocol: 'TCP' }, { number: 8001, name: 'tcp-8001', protocol: 'TCP' }] },
        },
      ],
    });
    const obs = observe(crossProduct, viaGateway('gw2.vendor-a.example:8001', 'https', 'a.example', 1));
    expect(obs.destination.service).toBe('gw1.vendor-a.example');
    expect(obs.path).toBe('listener 0.0.0.0:8001 → gw1.vendor-a.example (dropped: gw2.vendor-a.example)');
  });

  test('an HTTP gateway port without the routes: CONNECT gets the sidecar\'s 404 NR, absolute-form requests arrive in origin form (400)', () => {
    const unpatched = model({}, { edit: withoutObject('EnvoyFilter', 'proxy-vendor-vendor-b-22225') });
    const tunnel = observe(unpatched, viaGateway(INSPECTED_GATEWAY, 'https', 'shop.example.org', 1));
    expect(tunnel).toMatchObject({ kind: 'http', responseCode: 404, responseFlags: 'NR', destination: { service: 'shop.example.org:443' } });
    const request = observe(unpatched, viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 1));
    expect(request).toMatchObject({ kind: 'http', responseCode: 400, destination: { service: 'example.com', serviceName: 'PassthroughCluster' } });
  });

  test('the routes without send_fully_qualified_url: absolute-form requests reach the gateway in origin form (400)', () => {
    const noFqdn = model({}, {
      edit: objects => objects.map(o => o.kind === 'EnvoyFilter' && o.metadata.name === 'proxy-vendor-vendor-b-22225'
        ? { ...o, spec: { configPatches: o.spec.configPatches.filter((p: any) => p.applyTo !== 'CLUSTER') } } : o),
    });
    expect(observe(noFqdn, viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 1))).toMatchObject({ responseCode: 400, destination: { service: 'proxy.vendor-b.example' } });
    expect(observe(noFqdn, viaGateway(INSPECTED_GATEWAY, 'https', 'example.com', 1))).toMatchObject({ responseCode: 200 });
  });

  test('the model refuses what it does not understand instead of ignoring it', () => {
    const add = (o: KubeObject) => (objects: KubeObject[]) => [...objects, o];
    expect(() => model({}, { edit: add({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'x', namespace: 'crawlers' },
      spec: { configPatches: [{ applyTo: 'NETWORK_FILTER', match: { context: 'SIDECAR_OUTBOUND' }, patch: { operation: 'MERGE', value: {} } }] } }) })).toThrow('applyTo NETWORK_FILTER MERGE is not modelled');
    expect(() => model({ sniExpression: 'connection.sni' }).tags('TCP_CLOSED_CONNECTIONS', { sni: 'x' })).toThrow("Telemetry expression 'connection.sni' is not modelled");
    expect(() => model({}, { edit: add({ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'other', namespace: 'crawlers' }, spec: {} }) }))
      .toThrow('namespace crawlers has 2 Telemetry resources without selector; Istio uses only one');
    // The model is for one pod: an EnvoyFilter that selects pods by label needs the pod's labels.
    const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors: catalog() }));
    expect(() => SidecarModel.fromObjects(objects, 'crawlers')).toThrow('EnvoyFilter crawlers/proxy-vendor-vendor-b-22225 selects pods by labels {"proxy-vendor":"vendor-b"}');
    expect(() => model({}, { edit: add({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'x', namespace: 'crawlers' },
      spec: { configPatches: [{ applyTo: 'VIRTUAL_HOST', match: { context: 'SIDECAR_OUTBOUND', routeConfiguration: { portNumber: 80, vhost: { name: 'allow_any' } } },
        patch: { operation: 'MERGE', value: { request_headers_to_add: [{ header: { key: 'a', value: 'b' } }] } } }] } }) })).toThrow('virtual host fields request_headers_to_add are not modelled');
    expect(() => model({}, { edit: add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }) }).deliver({ kind: 'server-first', host: 'db', port: 3306, perSecond: 1, upBytes: 1, downBytes: 1 })).not.toThrow();
    expect(() => SidecarModel.fromObjects(objects, 'crawlers', { podLabels: {}, podAnnotations: { 'proxy.istio.io/config': 'proxyMetadata: {ISTIO_META_DNS_CAPTURE: "true"}' } }))
      .toThrow('proxy.istio.io/config: proxyMetadata.ISTIO_META_DNS_CAPTURE not modelled');
  });
});
