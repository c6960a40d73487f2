import { CRAWLER_IMAGE, CRAWLER_METRICS_PORT, CRAWLER_SCRIPT_PATH, CRAWLER_VERSION, bundleCrawler } from '../../crawler';
import { describeProgramBundle } from '../support/program-process';

describe('bundleCrawler', () => {
  // The 256 KiB annotation a ConfigMap applied with `kubectl apply` keeps a copy in.
  const sizeLimit = { bytes: 256 * 1024, title: 'small enough for a ConfigMap applied with kubectl apply' };
  const { buildCrawler } = require('../../crawler/build') as { buildCrawler(): string };
  describeProgramBundle({ folder: 'crawler', banner: '/*! proxy-telemetry synthetic crawler', sizeLimit, version: CRAWLER_VERSION, read: bundleCrawler, build: buildCrawler });

  test('packaging constants', () => {
    expect(CRAWLER_IMAGE).toBe('docker.io/library/node:20.18.1-alpine3.20');
    expect(CRAWLER_SCRIPT_PATH).toBe('/opt/crawler/crawler.js');
    expect(CRAWLER_METRICS_PORT).toBe(9102);
  });
});
