import { isIP } from 'net';
import { loadConfig } from '../../crawler/src/config';
import { CrawlerFlow } from '../../harness/crawler-flows';
import { KubeObject } from '../../harness/kube-object';

/**
 * What a synthetic crawler pod of a synthesized Deployment does on the network: its targets, rate and proxy
 * routing come from the Deployment's environment through the crawler's own configuration parser (TARGETS,
 * REQUESTS_PER_SECOND, HTTP(S)_PROXY, NO_PROXY, HTTP_VERSION, H2C); how many requests share a connection and how
 * big pages are come from `traffic`, the one part the manifests cannot tell.
 */
export interface TrafficModel {
  /** Requests per plain-HTTP connection (the crawler's keep-alive agents). */
  requestsPerHttpConnection: number;
  /** Requests per TLS connection or tunnel (one HTTP/2 session or keep-alive connection per origin). */
  requestsPerTlsConnection: number;
  /** Request and response wire bytes of one HTTP exchange, headers included. */
  requestBytes: number;
  responseBytes: number;
  /** TLS handshake bytes per connection, client to server and back. */
  handshakeUpBytes: number;
  handshakeDownBytes: number;
  /** A CONNECT request and its 200 answer. */
  connectUpBytes: number;
  connectDownBytes: number;
  durationMs: number;
}

export const DEFAULT_TRAFFIC: TrafficModel = {
  requestsPerHttpConnection: 20, requestsPerTlsConnection: 100, requestBytes: 260, responseBytes: 16_400,
  handshakeUpBytes: 600, handshakeDownBytes: 4_200, connectUpBytes: 160, connectDownBytes: 40, durationMs: 120,
};

/** The Deployment's container environment, with `$(VAR)` references expanded as the kubelet does. */
export function containerEnv(deployment: KubeObject, container = 0): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of deployment.spec.template.spec.containers[container].env ?? []) {
    if (e.value === undefined) continue;
    env[e.name] = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m: string, name: string) => env[name] ?? m);
  }
  return env;
}

/**
 * How a demo gateway answers a crawler, from the manifests: a share of 429s (RATE_LIMIT_SHARE), and 407 for every
 * request when the crawler's credentials come from another Secret than the gateway's (gateway/README.md).
 */
export interface GatewayAnswers {
  /** Share of absolute-form requests and CONNECTs answered 429. */
  readonly rateLimitShare: number;
  /** The crawler's proxy credentials are not the gateway's. */
  readonly refused: boolean;
}

/** The gateways of demo gateway Deployments and Services, by `host:port`, and how each answers a crawler Deployment. */
export function demoGatewayAnswers(objects: KubeObject[]): (crawler: KubeObject, gateway: string) => GatewayAnswers | undefined {
  const gateways = new Map<string, { rateLimitShare: number; secret?: string }>();
  for (const svc of objects.filter(o => o.kind === 'Service' && o.spec.ports.some((p: any) => /-proxy$/.test(p.name)))) {
    const deployment = objects.find(o => o.kind === 'Deployment' && o.metadata.namespace === svc.metadata.namespace
      && Object.entries(svc.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
    if (!deployment) continue;
    const env = deployment.spec.template.spec.containers[0].env as any[];
    const port = svc.spec.ports.find((p: any) => /-proxy$/.test(p.name)).port;
    gateways.set(`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:${port}`, {
      rateLimitShare: Number(env.find(e => e.name === 'RATE_LIMIT_SHARE')?.value ?? 0),
      secret: env.find(e => e.name === 'PROXY_PASSWORD')?.valueFrom?.secretKeyRef?.name,
    });
  }
  return (crawler, gateway) => {
    const g = gateways.get(gateway);
    if (!g) return undefined;
    const secret = (crawler.spec.template.spec.containers[0].env as any[]).find(e => e.name === 'PROXY_PASSWORD')?.valueFrom?.secretKeyRef?.name;
    return { rateLimitShare: g.rateLimitShare, refused: g.secret !== undefined && secret !== g.secret };
  };
}

/** The head of a 407 or 429 answer and the few bytes around it. */
const REFUSAL_UP_BYTES = 180;
const REFUSAL_DOWN_BYTES = 220;

export function syntheticCrawlerFlows(deployment: KubeObject, traffic: TrafficModel = DEFAULT_TRAFFIC,
  answers: (crawler: KubeObject, gateway: string) => GatewayAnswers | undefined = () => undefined): CrawlerFlow[] {
  return baseFlows(deployment, traffic).flatMap(flow => {
    if (flow.kind !== 'gateway') return [flow];
    const a = answers(deployment, flow.gateway);
    if (!a) return [flow];
    // A refused request or CONNECT carries no page: the crawler's next one opens a new connection.
    const refused = (perSecond: number, responseCode: number): CrawlerFlow => ({
      ...flow, perSecond, responseCode, requestsPerConnection: 1, upBytes: REFUSAL_UP_BYTES, downBytes: REFUSAL_DOWN_BYTES,
    });
    if (a.refused) return [refused(flow.perSecond, 407)];
    if (a.rateLimitShare === 0) return [flow];
    return [{ ...flow, perSecond: flow.perSecond * (1 - a.rateLimitShare) }, refused(flow.perSecond * a.rateLimitShare, 429)];
  });
}

function baseFlows(deployment: KubeObject, traffic: TrafficModel): CrawlerFlow[] {
  // The CA file is mounted in the pod, not here; which CAs a crawler trusts changes nothing on the network.
  const { CA_FILE: _mounted, ...env } = containerEnv(deployment);
  const config = loadConfig(env);
  const totalWeight = config.targets.reduce((n, t) => n + t.weight, 0);
  const t = traffic;
  return config.targets.map((target): CrawlerFlow => {
    const requests = config.requestsPerSecond * target.weight / totalWeight;
    const perTls = t.requestsPerTlsConnection;
    const tlsUp = t.handshakeUpBytes + perTls * t.requestBytes;
    const tlsDown = t.handshakeDownBytes + perTls * t.responseBytes;
    if (target.proxy) {
      const gateway = `${target.proxy.host}:${target.proxy.port}`;
      return target.scheme === 'http'
        ? {
          kind: 'gateway', gateway, scheme: 'http', target: target.host, perSecond: requests, requestsPerConnection: t.requestsPerHttpConnection,
          responseCode: 200, upBytes: t.requestBytes + target.host.length + 7, downBytes: t.responseBytes, durationMs: t.durationMs,
        }
        : {
          kind: 'gateway', gateway, scheme: 'https', target: target.host, perSecond: requests / perTls, requestsPerConnection: perTls,
          responseCode: 200, upBytes: t.connectUpBytes + tlsUp, downBytes: t.connectDownBytes + tlsDown, durationMs: t.durationMs,
        };
    }
    return target.scheme === 'http'
      ? {
        kind: 'http', host: target.hostname, port: target.port, perSecond: requests, requestsPerConnection: t.requestsPerHttpConnection,
        responseCode: 200, upBytes: t.requestBytes, downBytes: t.responseBytes, durationMs: t.durationMs, httpVersion: target.mode === 'h2c' ? '2' : '1.1',
      }
      : {
        kind: 'tls', host: target.hostname, port: target.port, sni: isIP(target.hostname) === 0, perSecond: requests / perTls,
        requestsPerConnection: perTls, upBytes: tlsUp, downBytes: tlsDown,
      };
  });
}
