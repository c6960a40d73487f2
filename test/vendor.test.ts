import { VendorCatalog } from '../core/vendor';

describe('VendorCatalog', () => {
  test('resolves defaults, endpoints and shares', () => {
    // GIVEN
    const catalog = new VendorCatalog([
      { name: 'vendor-a', weight: 40, endpoints: ['gw.a.example:8000'], pricePerGiB: 3.5, pricePer1kRequests: 0.1, monthlyBudget: 500 },
      { name: 'vendor-b', weight: 60 },
      { name: 'vendor-c' },
    ]);

    // THEN
    expect(catalog.names).toEqual(['vendor-a', 'vendor-b', 'vendor-c']);
    expect(catalog.get('vendor-a').endpoints).toEqual([{ host: 'gw.a.example', port: 8000 }]);
    expect(catalog.get('vendor-c').weight).toBe(1);
    expect(catalog.share('vendor-b')).toBeCloseTo(60 / 101);
    expect(catalog.get('vendor-a').monthlyBudget).toBe(500);
  });

  test.each([
    [[], '\'vendors\' ([]) must list at least one entry'],
    [[{ name: 'Vendor_A' }], '\'vendors[0].name\' ("Vendor_A") must be a DNS label'],
    [[{ name: 'a' }, { name: 'a' }], '\'vendors.name[1]\' ("a") is a duplicate'],
    [[{ name: 'a', weight: 0 }], '\'vendors[0].weight\' (0) must be > 0'],
    [[{ name: 'a', weight: -5 }], '\'vendors[0].weight\' (-5) must be > 0'],
    [[{ name: 'a', weight: Number.NaN }], '\'vendors[0].weight\' (null) must be a finite number'],
    [[{ name: 'a', endpoints: ['gw.example'] }], '\'vendors[0].endpoints[0]\' ("gw.example") must be \'host:port\''],
    [[{ name: 'a', endpoints: ['gw.example:0'] }], '\'vendors[0].endpoints[0]\' ("gw.example:0") must have a port from 1 to 65535'],
    [[{ name: 'a', endpoints: ['gw.example:65536'] }], '\'vendors[0].endpoints[0]\' ("gw.example:65536") must have a port from 1 to 65535'],
    [[{ name: 'a', endpoints: ['10.1.2.3:8000'] }], '\'vendors[0].endpoints[0]\' ("10.1.2.3:8000") must name the gateway by DNS host'],
    [[{ name: 'a', endpoints: ['GW_bad:8000'] }], '\'vendors[0].endpoints[0]\' ("GW_bad") must be a DNS name'],
    [[{ name: 'a', endpoints: ['gw.example:443'] }], '\'vendors[0].endpoints[0]\' ("gw.example:443") uses port 443, the crawlers\' direct HTTPS port, which a gateway ServiceEntry would claim for all crawler traffic'],
    [[{ name: 'a', endpoints: ['gw.example:15001'] }], 'uses port 15001, a port of the istio-proxy sidecar itself'],
    [[{ name: 'a', endpoints: ['gateway.proxy-demo.svc:3128'] }], '\'vendors[0].endpoints[0]\' ("gateway.proxy-demo.svc:3128") names an in-cluster Service without the cluster domain'],
    // Two hosts of one vendor on one port: an address-less port has one filter chain, the first host would take it all.
    [[{ name: 'a', endpoints: ['gw1.a.example:8000', 'gw2.a.example:8000'] }], '\'vendors[0].endpoints[1]\' ("gw2.a.example:8000") uses port 8000, already taken by a/gw1.a.example'],
    [[{ name: 'a', gateway: { inspect: 'http' } }], '\'vendors[0].gateway\' ({"inspect":"http"}) is set but the vendor has no endpoints'],
    [[{ name: 'a', endpoints: ['gw.a.example:8000'], gateway: { inspect: 'full' as any } }], '\'vendors[0].gateway.inspect\' ("full") must be \'tcp\' or \'http\''],
    [[{ name: 'a', endpoints: ['gw.a.example:8000'] }, { name: 'b', endpoints: ['gw.b.example:8000'] }], '\'vendors[1].endpoints[0]\' ("gw.b.example:8000") uses port 8000, already taken by a/gw.a.example'],
    [[{ name: 'a', pricePerGiB: -1 }], '\'vendors[0].pricePerGiB\' (-1) must be >= 0'],
    [[{ name: 'a', pricePer1kRequests: -0.5 }], '\'vendors[0].pricePer1kRequests\' (-0.5) must be >= 0'],
    [[{ name: 'a', monthlyBudget: -100 }], '\'vendors[0].monthlyBudget\' (-100) must be >= 0'],
  ])('rejects %j', (vendors, message) => {
    expect(() => new VendorCatalog(vendors as any)).toThrow(message);
  });

  test('an unknown vendor name is reported with the known ones', () => {
    const catalog = new VendorCatalog([{ name: 'vendor-a' }]);
    expect(() => catalog.get('vendor-z', 'vendor')).toThrow('\'vendor\' ("vendor-z") is not a known vendor (known: vendor-a)');
  });
});
