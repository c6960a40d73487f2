/** Shared by the crawler itself and the packaging exports in crawler/index.ts. */
export const CRAWLER_VERSION = '0.1.0';
export const DEFAULT_METRICS_PORT = 9102;
