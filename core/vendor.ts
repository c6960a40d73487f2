import { PropertyError, checkDnsLabel, checkDnsName, checkNonEmpty, checkNumber, checkUnique } from './validation';

/** One proxy vendor, as configured by the user. */
export interface VendorProps {
  /** Vendor name: the value of the pod label `proxy-vendor` and the metric label `proxy_vendor`. A DNS label. */
  readonly name: string;
  /**
   * Share of synthetic crawler traffic, relative to the other vendors' weights.
   * @default DEFAULT_VENDOR_WEIGHT (1)
   */
  readonly weight?: number;
  /**
   * Gateway endpoints of the vendor, as `host:port`. Each becomes a ServiceEntry of its own, and crawlers send
   * through the first one as HTTP(S)_PROXY. An in-cluster gateway is named as Istio knows its Service,
   * `<service>.<namespace>.svc.cluster.local:<port>`: it gets no ServiceEntry (Istio's registry has the Service, whose
   * port name must then say TCP, e.g. `tcp-proxy`, or HTTP, `http-proxy`, for `gateway.inspect: 'http'`).
   * @default - none: crawlers of this vendor connect directly
   */
  readonly endpoints?: string[];
  /**
   * How crawler sidecars handle traffic to this vendor's gateways.
   * @default - `{ inspect: DEFAULT_GATEWAY_INSPECTION }` ('tcp'): connections and bytes to the gateway host
   */
  readonly gateway?: GatewayOptions;
  /**
   * Price per GiB transferred (upload + download), in the billing currency.
   * @default - no per-GiB cost
   */
  readonly pricePerGiB?: number;
  /**
   * Price per 1,000 requests, in the billing currency.
   * @default - no per-request cost
   */
  readonly pricePer1kRequests?: number;
  /**
   * Monthly budget in the billing currency; alerts and the Cost dashboard compare spend with it.
   * @default - no budget
   */
  readonly monthlyBudget?: number;
  /**
   * Monthly traffic budget (upload + download) in GiB; an alert fires when the projection exceeds it.
   * @default - no traffic budget
   */
  readonly monthlyTrafficBudgetGiB?: number;
  /**
   * Which of the bytes the sidecars measure to the vendor's gateways the vendor bills, for the comparison with what its
   * usage source reports (`VendorUsage`).
   * @default DEFAULT_BILLED_BYTES ('upload-and-download')
   */
  readonly billedBytes?: BilledBytes;
}

/**
 * What a vendor counts as billed traffic: `'upload-and-download'` (most vendors: every byte through the gateway, both
 * ways), `'download'` (responses only) or `'upload'`.
 */
export type BilledBytes = 'upload-and-download' | 'download' | 'upload';

/** What a vendor bills when `billedBytes` is not set. */
export const DEFAULT_BILLED_BYTES: BilledBytes = 'upload-and-download';
const BILLED_BYTES: readonly BilledBytes[] = ['upload-and-download', 'download', 'upload'];

/**
 * What a crawler sidecar parses of the traffic to a vendor gateway.
 * - `'tcp'`: the gateway port is TCP. The sidecar reports connections and bytes to the gateway host: one
 *   connection carries many absolute-form requests (keep-alive) or one CONNECT tunnel, no response code, no
 *   target host. Works on every Istio version.
 * - `'http'`: the gateway port is HTTP and EnvoyFilters route absolute-form requests and CONNECT to the gateway
 *   unchanged. The sidecar then reports every proxied request and every tunnel (as one request, recorded when
 *   it closes), the gateway's response code (407, 429, ...) and the target host. Needs Envoy >= 1.30
 *   (Istio >= 1.22); not verified on a live mesh by this project: roll it out to one vendor first and check it
 *   with the commands in the README.
 */
export type GatewayInspection = 'tcp' | 'http';

/** Relative share of a vendor's synthetic crawler traffic when `weight` is not set. */
export const DEFAULT_VENDOR_WEIGHT = 1;
/** What crawler sidecars parse of a vendor's gateway traffic when `gateway.inspect` is not set. */
export const DEFAULT_GATEWAY_INSPECTION: GatewayInspection = 'tcp';

/** Per-vendor gateway settings. */
export interface GatewayOptions {
  /**
   * What the sidecar parses of traffic to the gateways.
   * @default DEFAULT_GATEWAY_INSPECTION ('tcp')
   */
  readonly inspect?: GatewayInspection;
}

/** A vendor gateway endpoint. */
export interface VendorEndpoint {
  readonly host: string;
  readonly port: number;
  /**
   * The namespace of an in-cluster gateway: the host is a Kubernetes Service's name as Istio knows it,
   * `<service>.<namespace>.svc.<cluster domain>`. Istio's own registry has it, so no ServiceEntry is made for it.
   */
  readonly serviceNamespace?: string;
}

/** A validated vendor. */
export class Vendor {
  public readonly name: string;
  public readonly weight: number;
  public readonly endpoints: readonly VendorEndpoint[];
  /** What crawler sidecars parse of traffic to the gateways. */
  public readonly inspect: GatewayInspection;
  public readonly pricePerGiB?: number;
  public readonly pricePer1kRequests?: number;
  public readonly monthlyBudget?: number;
  public readonly monthlyTrafficBudgetGiB?: number;
  public readonly billedBytes: BilledBytes;

  /** @param path property path used in error messages, e.g. `vendors[2]` */
  constructor(props: VendorProps, path = 'vendor') {
    this.name = checkDnsLabel(`${path}.name`, props.name);
    this.weight = checkNumber(`${path}.weight`, props.weight ?? DEFAULT_VENDOR_WEIGHT, { minExclusive: 0 });
    this.endpoints = (props.endpoints ?? []).map((e, i) => parseEndpoint(`${path}.endpoints[${i}]`, e));
    checkUnique(`${path}.endpoints`, this.endpoints.map(e => `${e.host}:${e.port}`));
    this.inspect = props.gateway?.inspect ?? DEFAULT_GATEWAY_INSPECTION;
    if (this.inspect !== 'tcp' && this.inspect !== 'http') {
      throw new PropertyError(`${path}.gateway.inspect`, this.inspect, 'must be \'tcp\' or \'http\'');
    }
    if (props.gateway !== undefined && this.endpoints.length === 0) {
      throw new PropertyError(`${path}.gateway`, props.gateway, 'is set but the vendor has no endpoints');
    }
    if (props.pricePerGiB !== undefined) this.pricePerGiB = checkNumber(`${path}.pricePerGiB`, props.pricePerGiB, { min: 0 });
    if (props.pricePer1kRequests !== undefined) this.pricePer1kRequests = checkNumber(`${path}.pricePer1kRequests`, props.pricePer1kRequests, { min: 0 });
    if (props.monthlyBudget !== undefined) this.monthlyBudget = checkNumber(`${path}.monthlyBudget`, props.monthlyBudget, { min: 0 });
    if (props.monthlyTrafficBudgetGiB !== undefined) {
      this.monthlyTrafficBudgetGiB = checkNumber(`${path}.monthlyTrafficBudgetGiB`, props.monthlyTrafficBudgetGiB, { min: 0 });
    }
    this.billedBytes = props.billedBytes ?? DEFAULT_BILLED_BYTES;
    if (!BILLED_BYTES.includes(this.billedBytes)) {
      throw new PropertyError(`${path}.billedBytes`, this.billedBytes, `must be one of ${BILLED_BYTES.map(b => `'${b}'`).join(', ')}`);
    }
  }

  /** Distinct gateway host names. */
  public get gatewayHosts(): string[] {
    return [...new Set(this.endpoints.map(e => e.host))];
  }

  /** Whether crawler sidecars parse this vendor's gateway traffic as HTTP (requests, codes, target hosts). */
  public get inspected(): boolean {
    return this.inspect === 'http' && this.endpoints.length > 0;
  }
}

/** Parses `host:port`. IP literals are refused: a ServiceEntry needs a DNS host to attribute traffic. */
export function parseEndpoint(property: string, value: string): VendorEndpoint {
  const m = typeof value === 'string' ? /^([^:\s]+):(\d{1,5})$/.exec(value) : null;
  if (!m) {
    throw new PropertyError(property, value, 'must be \'host:port\'');
  }
  const [, host, portText] = m;
  const port = Number(portText);
  if (port < 1 || port > 65535) {
    throw new PropertyError(property, value, 'must have a port from 1 to 65535');
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) {
    throw new PropertyError(property, value, 'must name the gateway by DNS host, not by IP address');
  }
  checkDnsName(property, host);
  const service = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc\.(.+)$/.exec(host);
  if (!service && /\.svc$/.test(host)) {
    throw new PropertyError(property, value, 'names an in-cluster Service without the cluster domain: use the name Istio knows it by, e.g. \'gateway.proxy-demo.svc.cluster.local\'');
  }
  return service ? { host, port, serviceNamespace: service[1] } : { host, port };
}

/**
 * Ports a gateway ServiceEntry must not take: without `addresses`, a ServiceEntry claims its port for every
 * destination, so 80 or 443 would swallow the crawlers' direct web traffic. The others are the sidecar's own
 * (istio/istio `pkg/config/constants`: 15000 admin, 15001 outbound, 15004 debug, 15006 inbound, 15008 HBONE,
 * 15020 merged metrics, 15021 health, 15053 DNS, 15090 Envoy metrics).
 */
export const RESERVED_PORTS: ReadonlyMap<number, string> = new Map([
  [80, 'the crawlers\' direct plain-HTTP port'],
  [443, 'the crawlers\' direct HTTPS port'],
  ...[15000, 15001, 15004, 15006, 15008, 15020, 15021, 15053, 15090].map(p => [p, 'a port of the istio-proxy sidecar itself'] as [number, string]),
]);

/** The vendor model shared by MeshTelemetry, VendorCrawler and MetricsStack. */
export class VendorCatalog {
  public readonly vendors: readonly Vendor[];

  constructor(vendors: VendorProps[]) {
    checkNonEmpty('vendors', vendors);
    this.vendors = vendors.map((v, i) => new Vendor(v, `vendors[${i}]`));
    checkUnique('vendors.name', this.vendors.map(v => v.name));

    // A TCP ServiceEntry without addresses owns its port mesh-wide: one port, one gateway.
    const portOwner = new Map<number, string>();
    this.vendors.forEach((v, i) => v.endpoints.forEach((e, j) => {
      const property = `vendors[${i}].endpoints[${j}]`;
      const value = `${e.host}:${e.port}`;
      const reserved = RESERVED_PORTS.get(e.port);
      if (reserved !== undefined) {
        throw new PropertyError(property, value, `uses port ${e.port}, ${reserved}, which a gateway ServiceEntry would claim for all crawler traffic; vendor gateways must listen on another port`);
      }
      const owner = portOwner.get(e.port);
      if (owner !== undefined && owner !== `${v.name}/${e.host}`) {
        throw new PropertyError(property, value, `uses port ${e.port}, already taken by ${owner}; a ServiceEntry without addresses claims its port for every destination (one filter chain per port: the first host would win), so each gateway port must belong to one host`);
      }
      portOwner.set(e.port, `${v.name}/${e.host}`);
    }));
  }

  public get names(): string[] {
    return this.vendors.map(v => v.name);
  }

  /** Looks a vendor up by name; `property` names the prop that referred to it. */
  public get(name: string, property = 'vendor'): Vendor {
    const vendor = this.vendors.find(v => v.name === name);
    if (!vendor) {
      throw new PropertyError(property, name, `is not a known vendor (known: ${this.names.join(', ')})`);
    }
    return vendor;
  }

  /** Fraction of synthetic traffic assigned to a vendor. */
  public share(name: string): number {
    const total = this.vendors.reduce((s, v) => s + v.weight, 0);
    return this.get(name).weight / total;
  }
}
