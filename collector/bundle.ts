import { readProgramBundle } from '../crawler/bundle';

/**
 * The whole collector as one CommonJS file (under 230 KB) for a ConfigMap:
 * collector/dist/collector.js, built by `npm run build -w collector`.
 */
export function bundleCollector(): string {
  return readProgramBundle('collector', 'collector.js');
}
