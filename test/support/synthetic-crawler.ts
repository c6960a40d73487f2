import { isIP } from 'net';
import { loadConfig } from '../../crawler/src/config';
import { CrawlerFlow } from './crawler-flows';
import { KubeObject } from './schemas';

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

export function syntheticCrawlerFlows(deployment: KubeObject, traffic: TrafficModel = DEFAULT_TRAFFIC): CrawlerFlow[] {
  const config = loadConfig(containerEnv(deployment));
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
