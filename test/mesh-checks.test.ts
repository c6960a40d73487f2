import { MeshTelemetry } from '../lib/mesh-telemetry';
import { VendorCatalog } from '../core/vendor';
import { checkConfigDump, meshExpectations } from '../bin/mesh-checks';
import { configDump } from './support/envoy-config-dump';
import { synthChart } from './support/synth';

/** The sidecar checks of `npm run deploy`, on config dumps of a sidecar with and without what the manifests ask for. */

const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', {
  vendors: new VendorCatalog([
    { name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'] },
    { name: 'vendor-b', endpoints: ['proxy.vendor-b.example:22225'], gateway: { inspect: 'http' } },
  ]),
  httpPorts: [80, 8080],
}));
const expected = meshExpectations(objects);
const POD = 'crawler-vendor-b-6b8f9-p0.crawlers';

const fullDump = (edit: { dropRoute?: string; fqdn?: boolean; inspector?: boolean } = {}) => configDump({
  listeners: [
    { name: 'virtualOutbound', listener_filters: edit.inspector === false ? [] : [{ name: 'envoy.filters.listener.tls_inspector', typed_config: {} }] },
    { name: '0.0.0.0_80' }, { name: '0.0.0.0_8080' }, { name: '0.0.0.0_22225' },
  ],
  routes: [{
    name: '22225',
    virtual_hosts: [
      { name: 'proxy.vendor-b.example:22225', domains: ['proxy.vendor-b.example', 'proxy.vendor-b.example:22225'], routes: [{ name: 'default' }] },
      { name: 'allow_any', domains: ['*'], routes: ['proxy-vendor-vendor-b-22225-connect', 'proxy-vendor-vendor-b-22225-forward', 'allow_any'].filter(n => n !== edit.dropRoute).map(name => ({ name })) },
    ],
  }],
  clusters: [{
    name: 'outbound|22225||proxy.vendor-b.example',
    typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { explicit_http_config: { http_protocol_options: { send_fully_qualified_url: edit.fqdn ?? true } } } },
  }],
});

test('expectations come from the synthesized objects', () => {
  expect(expected).toEqual({
    crawlerNamespaces: ['crawlers'], httpPorts: [80, 8080], sniInspection: true,
    inspectedGateways: [{ host: 'proxy.vendor-b.example', port: 22225, routePrefix: 'proxy-vendor-vendor-b-22225' }],
  });
});

test('a sidecar with everything passes', () => {
  expect(checkConfigDump(fullDump(), expected, POD)).toEqual([]);
});

test('each missing piece is named, with the istioctl command that shows it', () => {
  expect(checkConfigDump(fullDump({ dropRoute: 'proxy-vendor-vendor-b-22225-connect' }), expected, POD)).toEqual([
    `route proxy-vendor-vendor-b-22225-connect is missing from route configuration 22225: CONNECT through the gateway gets 404 NR from the sidecar (\`istioctl proxy-config routes ${POD} --name 22225 -o json\`)`,
  ]);
  expect(checkConfigDump(fullDump({ fqdn: false }), expected, POD)).toEqual([
    `cluster outbound|22225||proxy.vendor-b.example does not send absolute-form URLs: the gateway receives origin-form requests (\`istioctl proxy-config clusters ${POD} --fqdn proxy.vendor-b.example --port 22225 -o json\`)`,
  ]);
  expect(checkConfigDump(fullDump({ inspector: false }), expected, POD)).toEqual([
    `virtualOutbound has no tls_inspector: direct HTTPS has no server name (\`istioctl proxy-config listeners ${POD} --port 15001 -o json | grep tls_inspector\`)`,
  ]);
  expect(checkConfigDump(configDump({}), expected, POD)).toHaveLength(6);
});
