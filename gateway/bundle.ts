import { readProgramBundle } from '../crawler/bundle';

/**
 * The whole gateway as one CommonJS file (under 230 KB) for a ConfigMap:
 * gateway/dist/gateway.js, built by `npm run build -w gateway`.
 */
export function bundleGateway(): string {
  return readProgramBundle('gateway', 'gateway.js');
}
