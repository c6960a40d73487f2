/** One `URL` or `URL=weight` entry of TARGETS. */
export interface TargetSpec {
  url: URL;
  weight: number;
}

export class TargetSyntaxError extends Error {}

/** Text after the last '=' that looks like a number is a weight. */
const WEIGHT_SUFFIX = /=\s*([-+]?[0-9]*\.?[0-9]+)\s*$/;

/**
 * Parses the comma-separated TARGETS list. The weight is whatever follows
 * the last `=` when that text is a number; a URL whose query ends in
 * `=<number>` therefore needs an explicit weight (`...?page=2=1`).
 */
export function parseTargets(raw: string): TargetSpec[] {
  const specs: TargetSpec[] = [];
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const match = WEIGHT_SUFFIX.exec(entry);
    const urlText = match ? entry.slice(0, match.index).trim() : entry;
    const weight = match ? Number(match[1]) : 1;
    if (!Number.isInteger(weight) || weight <= 0) {
      throw new TargetSyntaxError(`weight ${JSON.stringify(match?.[1])} of entry ${JSON.stringify(entry)} must be a positive integer`);
    }
    let url: URL;
    try {
      url = new URL(urlText);
    } catch {
      throw new TargetSyntaxError(`entry ${JSON.stringify(entry)} is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TargetSyntaxError(`entry ${JSON.stringify(entry)} must use http:// or https://`);
    }
    if (!url.hostname) {
      throw new TargetSyntaxError(`entry ${JSON.stringify(entry)} has no host`);
    }
    specs.push({ url, weight });
  }
  if (specs.length === 0) throw new TargetSyntaxError('no targets given');
  return specs;
}
