/** The demo gateway, packaged for a ConfigMap in a stock Node image, and its demo CA. */
import { CRAWLER_IMAGE } from '../crawler';

export { bundleGateway } from './bundle';
export { DEMO_CA_ORGANIZATION, generateDemoCa } from './src/ca';
export type { DemoCa, DemoCaOptions } from './src/ca';
export {
  GATEWAY_ENV_VARIABLES,
  GATEWAY_VERSION,
  DEFAULT_METRICS_PORT as GATEWAY_METRICS_PORT,
  DEFAULT_PROXY_PORT as GATEWAY_PROXY_PORT,
  USAGE_PATH as GATEWAY_USAGE_PATH,
} from './src/defaults';

/** Pinned public image the bundle runs in: the crawler's (non-root, read-only root filesystem). */
export const GATEWAY_IMAGE = CRAWLER_IMAGE;

/** Where the bundle is mounted; the container runs `node GATEWAY_SCRIPT_PATH`. */
export const GATEWAY_SCRIPT_PATH = '/opt/gateway/gateway.js';

/** uid of the `node` user in the official image. */
export const GATEWAY_RUN_AS_USER = 1000;

/** Path of the gateway's own Prometheus metrics (on GATEWAY_METRICS_PORT). */
export const GATEWAY_METRICS_PATH = '/metrics';

/** Path of the CA certificate (public part only) on GATEWAY_METRICS_PORT. */
export const GATEWAY_CA_PATH = '/ca.pem';
