import * as kplus from 'cdk8s-plus-27';
import { Size, Testing } from 'cdk8s';
import { VendorCatalog } from '../core/vendor';
import { PUBLIC_TEST_TARGETS, VendorCrawler, VendorCrawlerProps } from '../lib/vendor-crawler';
import { TRANSPARENT_PROXY_HEADERS, makeSidecarTransparent, sidecarHeaderGaps, transparentProxyConfig } from '../lib/mesh/proxy-config';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart } from './support/synth';

const vendors = () => new VendorCatalog([
  { name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000', 'gw2.vendor-a.example:8001'] },
  { name: 'vendor-b' },
]);

const TARGETS = [{ url: 'https://shop.example/', weight: 3 }, { url: 'http://news.example/' }];

function crawler(props: Partial<VendorCrawlerProps> = {}): KubeObject[] {
  return synthChart(chart => new VendorCrawler(chart, 'crawler', { vendors: vendors(), vendor: 'vendor-a', ...(props.image ? {} : { targets: TARGETS }), ...props }));
}

const podSpec = (objects: KubeObject[], name = 'crawler-vendor-a') => findObject(objects, 'Deployment', name).spec.template;
const envOf = (objects: KubeObject[], name?: string) => podSpec(objects, name).spec.containers[0].env as Array<{ name: string; value?: string; valueFrom?: any }>;

describe('VendorCrawler', () => {
  test('defaults: the synthetic crawler through the vendor gateway, labelled for the metric contract', () => {
    // GIVEN / WHEN
    const objects = crawler();

    // THEN
    expect(objects.map(o => ({ ...o, data: o.data ? Object.keys(o.data) : undefined }))).toMatchSnapshot();
    expectValidObjects(objects);
    const template = podSpec(objects);
    expect(template.metadata.labels).toMatchObject({ 'proxy-vendor': 'vendor-a', 'sidecar.istio.io/inject': 'true' });
    // The sidecar holds the crawler until it runs, and adds no header to what the crawler sends.
    expect(JSON.parse(template.metadata.annotations['proxy.istio.io/config'])).toEqual({
      holdApplicationUntilProxyStarts: true,
      proxyHeaders: {
        server: { disabled: true }, requestId: { disabled: true }, attemptCount: { disabled: true }, envoyDebugHeaders: { disabled: true },
        metadataExchangeHeaders: { mode: 'IN_MESH' }, preserveHttp1HeaderCase: true,
      },
    });
    expect(sidecarHeaderGaps(template.metadata.annotations)).toEqual([]);
    const deployment = findObject(objects, 'Deployment', 'crawler-vendor-a');
    expect(deployment.metadata.namespace).toBe('crawlers');
    expect(deployment.spec.replicas).toBe(1);
    const env = Object.fromEntries(envOf(objects).map(e => [e.name, e.value]));
    expect(env).toMatchObject({
      PROXY_VENDOR: 'vendor-a',
      HTTP_PROXY: 'http://gw.vendor-a.example:8000',
      HTTPS_PROXY: 'http://gw.vendor-a.example:8000',
      // Polite unless told otherwise: real sites pay for every request.
      REQUESTS_PER_SECOND: '1',
      CONCURRENCY: '100',
      TARGETS: 'https://shop.example/=3,http://news.example/=1',
    });
    expect(env.CA_FILE).toBeUndefined();
    // The bundle is mounted from a ConfigMap into the pinned Node image.
    const container = template.spec.containers[0];
    expect(container.image).toBe('docker.io/library/node:20.18.1-alpine3.20');
    expect(container.command).toEqual(['node', '/opt/crawler/crawler.js']);
    const script: string = findObject(objects, 'ConfigMap', 'proxy-telemetry-crawler').data['crawler.js'];
    expect(/x-proxy-vendor/i.test(script)).toBe(true);
    expect(Buffer.byteLength(script)).toBeLessThan(1024 * 1024);
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
    });
    expect(template.spec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(template.spec.automountServiceAccountToken).toBe(false);
  });

  test('proxy credentials come from a Secret and are expanded into the proxy URL by Kubernetes', () => {
    // GIVEN / WHEN
    const objects = crawler({ proxyCredentials: { secretName: 'vendor-a-credentials' }, gateway: 'gw2.vendor-a.example:8001' });

    // THEN
    const env = envOf(objects);
    const names = env.map(e => e.name);
    // $(VAR) only expands variables defined earlier in the list.
    expect(names.indexOf('PROXY_PASSWORD')).toBeLessThan(names.indexOf('HTTPS_PROXY'));
    expect(env.find(e => e.name === 'PROXY_PASSWORD')!.valueFrom.secretKeyRef).toEqual({ name: 'vendor-a-credentials', key: 'password' });
    expect(env.find(e => e.name === 'HTTPS_PROXY')!.value).toBe('http://$(PROXY_USERNAME):$(PROXY_PASSWORD)@gw2.vendor-a.example:8001');
    expect(JSON.stringify(objects)).not.toMatch(/password"?\s*:\s*"[^$]/i);
  });

  test('a CA to trust: its ConfigMap key mounted read-only, CA_FILE pointing at it', () => {
    // GIVEN / WHEN
    const objects = crawler({ caCertificate: { configMapName: 'proxy-telemetry-demo-ca' } });

    // THEN
    const template = podSpec(objects);
    const volume = template.spec.volumes.find((v: any) => v.configMap?.name === 'proxy-telemetry-demo-ca');
    expect(volume.configMap.items).toEqual([{ key: 'ca.crt', path: 'ca.crt' }]);
    const mount = template.spec.containers[0].volumeMounts.find((m: any) => m.name === volume.name);
    expect(mount).toMatchObject({ mountPath: '/etc/proxy-telemetry/ca', readOnly: true });
    expect(envOf(objects).find(e => e.name === 'CA_FILE')!.value).toBe('/etc/proxy-telemetry/ca/ca.crt');
    expectValidObjects(objects);
  });

  test('public test sites are opt-in and crawled at the polite default rate', () => {
    const env = Object.fromEntries(envOf(crawler({ targets: [...PUBLIC_TEST_TARGETS] })).map(e => [e.name, e.value]));
    expect(env.REQUESTS_PER_SECOND).toBe('1');
    expect(env.TARGETS).toBe(PUBLIC_TEST_TARGETS.map(t => `${t.url}=${t.weight}`).join(','));
  });

  test('crawlers of several vendors in one namespace share one ConfigMap with the bundle', () => {
    const objects = synthChart(chart => {
      for (const vendor of ['vendor-a', 'vendor-b']) new VendorCrawler(chart, vendor, { vendors: vendors(), vendor, targets: TARGETS });
    });
    expect(objects.filter(o => o.kind === 'ConfigMap').map(o => o.metadata.name)).toEqual(['proxy-telemetry-crawler']);
    for (const name of ['crawler-vendor-a', 'crawler-vendor-b']) {
      expect(podSpec(objects, name).spec.volumes).toEqual([{ name: 'script', configMap: { name: 'proxy-telemetry-crawler' } }, { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }]);
    }
  });

  test('a vendor without endpoints crawls directly', () => {
    const env = envOf(crawler({ vendor: 'vendor-b' }), 'crawler-vendor-b').map(e => e.name);
    expect(env).not.toContain('HTTPS_PROXY');
    expect(env).toContain('PROXY_VENDOR');
  });

  test('the user\'s own image: no synthetic settings, no script, same labels and proxy settings', () => {
    // GIVEN / WHEN
    const objects = crawler({
      image: 'registry.example.com/crawler:1.4.2', command: ['/crawler'], args: ['--depth', '3'], replicas: 12, namespace: 'crawl-eu',
      name: 'product-crawler', runAsUser: 10001, env: { LOG_LEVEL: 'debug' },
      resources: { cpu: { request: kplus.Cpu.millis(250) }, memory: { request: Size.mebibytes(512), limit: Size.gibibytes(1) } },
    });

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    expect(objects.map(o => o.kind)).toEqual(['Deployment']);
    const deployment = findObject(objects, 'Deployment', 'product-crawler', 'crawl-eu');
    expect(deployment.spec.replicas).toBe(12);
    const container = deployment.spec.template.spec.containers[0];
    expect(container).toMatchObject({ image: 'registry.example.com/crawler:1.4.2', command: ['/crawler'], args: ['--depth', '3'] });
    expect(container.securityContext.runAsUser).toBe(10001);
    expect(container.env.map((e: any) => e.name)).toEqual(['PROXY_VENDOR', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'LOG_LEVEL']);
    expect(deployment.spec.template.metadata.labels['proxy-vendor']).toBe('vendor-a');
  });

  test('sidecar resources and stats eviction for broad crawlers become Istio\'s pod annotations', () => {
    const objects = crawler({ sidecarResources: { cpuRequest: '200m', cpuLimit: '2', memoryRequest: '256Mi', memoryLimit: '1Gi' }, statsEvictionInterval: '1m' });
    expectValidObjects(objects);
    expect(findObject(objects, 'Deployment', 'crawler-vendor-a').spec.template.metadata.annotations).toEqual({
      'proxy.istio.io/config': transparentProxyConfig('{"holdApplicationUntilProxyStarts":true}'),
      'sidecar.istio.io/proxyCPU': '200m', 'sidecar.istio.io/proxyCPULimit': '2',
      'sidecar.istio.io/proxyMemory': '256Mi', 'sidecar.istio.io/proxyMemoryLimit': '1Gi',
      'sidecar.istio.io/statsEvictionInterval': '60s',
    });
  });

  test.each([
    [{ statsEvictionInterval: '7s' }, '\'statsEvictionInterval\' ("7s") must be a multiple of the stats flush interval, 5s'],
    [{ statsEvictionInterval: 'often' }, '\'statsEvictionInterval\' ("often") must be a Prometheus duration'],
    [{ sidecarResources: { memoryLimit: 'lots' } }, '\'sidecarResources.memoryLimit\' ("lots") must be a positive Kubernetes quantity'],
    [{ sidecarResources: { cpuRequest: '0m' } }, '\'sidecarResources.cpuRequest\' ("0m") must be a positive CPU quantity'],
    [{ vendor: 'vendor-z' }, '\'vendor\' ("vendor-z") is not a known vendor (known: vendor-a, vendor-b)'],
    [{ replicas: -1 }, '\'replicas\' (-1) must be >= 0'],
    [{ replicas: 1.5 }, '\'replicas\' (1.5) must be a whole number'],
    [{ namespace: 'Crawlers' }, '\'namespace\' ("Crawlers") must be a DNS label'],
    [{ requestsPerSecond: 0 }, '\'requestsPerSecond\' (0) must be > 0'],
    [{ concurrency: 0 }, '\'concurrency\' (0) must be >= 1'],
    [{ targets: [] }, '\'targets\' ([]) must list at least one entry'],
    [{ targets: undefined }, '\'targets\' (undefined) is required for the synthetic crawler: in-cluster demo sites (DemoGateway), or public sites that welcome test traffic (PUBLIC_TEST_TARGETS) at a polite rate'],
    [{ caCertificate: { configMapName: 'Demo CA' } }, '\'caCertificate.configMapName\' ("Demo CA") must be a DNS name'],
    [{ caCertificate: { configMapName: 'demo-ca', key: 'ca/crt' } }, '\'caCertificate.key\' ("ca/crt") must be a ConfigMap key'],
    [{ image: 'my/crawler:1', caCertificate: { configMapName: 'demo-ca' } }, '\'caCertificate\' ({"configMapName":"demo-ca"}) applies to the synthetic crawler only'],
    [{ targets: [{ url: 'ftp://example.com/' }] }, '\'targets[0].url\' ("ftp://example.com/") must be an http(s) URL'],
    [{ targets: [{ url: 'not a url' }] }, '\'targets[0].url\' ("not a url") must be an http(s) URL'],
    [{ targets: [{ url: 'https://example.com/', weight: 0 }] }, '\'targets[0].weight\' (0) must be >= 1'],
    [{ gateway: 'gw3.vendor-a.example:9000' }, '\'gateway\' ("gw3.vendor-a.example:9000") is not an endpoint of vendor \'vendor-a\''],
    [{ vendor: 'vendor-b', gateway: 'gw.vendor-a.example:8000' }, 'is set but vendor \'vendor-b\' has no endpoints'],
    [{ vendor: 'vendor-b', proxyCredentials: { secretName: 'creds' } }, '\'proxyCredentials\' ("creds") needs a vendor gateway to send them to'],
    [{ image: ' ' }, '\'image\' (" ") must be an image reference'],
    [{ image: 'my/crawler:1', requestsPerSecond: 10 }, '\'requestsPerSecond\' (10) applies to the synthetic crawler only'],
    [{ env: { HTTPS_PROXY: 'http://elsewhere:1' } }, '\'env.HTTPS_PROXY\' ("http://elsewhere:1") would override a variable this construct sets'],
    [{ env: { 'BAD-NAME': 'x' } }, '\'env.BAD-NAME\' ("x") has a name that is not a valid environment variable name'],
  ])('rejects %j', (props, message) => {
    expect(() => crawler(props as Partial<VendorCrawlerProps>)).toThrow(message);
  });
});

describe('crawler pods of your own', () => {
  test('makeSidecarTransparent gives a Deployment the proxy headers and keeps its own ProxyConfig', () => {
    // GIVEN a Deployment with a ProxyConfig of its own
    const chart = Testing.chart();
    const deployment = new kplus.Deployment(chart, 'mine', {
      containers: [{ image: 'registry.example.com/crawler:1', securityContext: { ensureNonRoot: false } }],
      podMetadata: { annotations: { 'proxy.istio.io/config': 'proxyStatsMatcher:\n  inclusionPrefixes: [cluster.outbound]\nproxyHeaders:\n  requestId: {disabled: false}\n' } },
    });

    // WHEN
    makeSidecarTransparent(deployment);

    // THEN
    const template = Testing.synth(chart).find(o => o.kind === 'Deployment').spec.template;
    expect(JSON.parse(template.metadata.annotations['proxy.istio.io/config'])).toEqual({
      proxyStatsMatcher: { inclusionPrefixes: ['cluster.outbound'] },
      proxyHeaders: { ...TRANSPARENT_PROXY_HEADERS },
    });
    expect(sidecarHeaderGaps(template.metadata.annotations)).toEqual([]);
  });

  test('sidecarHeaderGaps names what a pod lacks', () => {
    expect(sidecarHeaderGaps(undefined)).toEqual([
      'proxyHeaders.server.disabled', 'proxyHeaders.requestId.disabled', 'proxyHeaders.attemptCount.disabled',
      'proxyHeaders.envoyDebugHeaders.disabled', 'proxyHeaders.metadataExchangeHeaders.mode', 'proxyHeaders.preserveHttp1HeaderCase',
    ]);
    expect(sidecarHeaderGaps({ 'proxy.istio.io/config': transparentProxyConfig().replace('"IN_MESH"', '"ALL"') })).toEqual(['proxyHeaders.metadataExchangeHeaders.mode']);
    expect(sidecarHeaderGaps({ 'proxy.istio.io/config': 'not: [valid' })).toHaveLength(6);
  });

  test('a ProxyConfig that is not an object is refused with the annotation and its value', () => {
    expect(() => transparentProxyConfig('[1, 2]')).toThrow('\'proxy.istio.io/config\' ([1, 2]) must be a ProxyConfig object');
  });
});
