/** The synthetic crawler, packaged for a ConfigMap in a stock Node image. */
export { bundleCrawler } from './bundle';
export { CRAWLER_VERSION, DEFAULT_METRICS_PORT as CRAWLER_METRICS_PORT } from './src/defaults';

/** Pinned public image the bundle runs in (non-root, read-only root filesystem). */
export const CRAWLER_IMAGE = 'docker.io/library/node:20.18.1-alpine3.20';

/** Where the bundle is mounted; the container runs `node CRAWLER_SCRIPT_PATH`. */
export const CRAWLER_SCRIPT_PATH = '/opt/crawler/crawler.js';

/** uid of the `node` user in the official image. */
export const CRAWLER_RUN_AS_USER = 1000;

/** Path of the crawler's own Prometheus metrics. */
export const CRAWLER_METRICS_PATH = '/metrics';
