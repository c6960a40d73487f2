/** The Prometheus side of our programs: a private registry and the server that exposes it. */
import * as http from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';

/** What a cached counter child or a labelled counter offers. */
export interface Increment {
  inc(value?: number): void;
}

/** A private registry with prom-client's process metrics, named `<prefix>_process_*` and `<prefix>_nodejs_*`. */
export function programRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `${prefix}_` });
  return registry;
}

/** A fixed answer on the metrics port, such as the gateway's CA certificate. */
export interface StaticPage {
  contentType: string;
  body: string;
}

/**
 * Serves /metrics, /healthz (for probes) and the `pages` by path; 404
 * otherwise. Resolves once listening.
 */
export function startMetricsServer(registry: Registry, port: number, host?: string, pages: Record<string, StaticPage> = {}): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const page = Object.hasOwn(pages, path) ? pages[path] : undefined;
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err.message);
        },
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (page) {
      res.writeHead(200, { 'content-type': page.contentType });
      res.end(page.body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}
