import { WeightedPicker } from '../../runtime/src/weighted-picker';

/** One `bytes=weight` entry of PAGE_SIZES. */
export interface PageSize {
  bytes: number;
  weight: number;
}

/** Largest page: pages are kept in memory, and a demo needs no more. */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;

export class PageSizeSyntaxError extends Error {}

/** Parses PAGE_SIZES: comma-separated `bytes` or `bytes=weight` (weight default 1). */
export function parsePageSizes(raw: string): PageSize[] {
  const sizes: PageSize[] = [];
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const match = /^([0-9]+)\s*(?:=\s*([0-9]+))?$/.exec(entry);
    if (!match) throw new PageSizeSyntaxError(`entry ${JSON.stringify(entry)} must be bytes or bytes=weight (integers)`);
    const bytes = Number(match[1]);
    const weight = match[2] === undefined ? 1 : Number(match[2]);
    if (bytes > MAX_PAGE_BYTES) throw new PageSizeSyntaxError(`entry ${JSON.stringify(entry)}: size must be at most ${MAX_PAGE_BYTES} bytes`);
    if (weight < 1) throw new PageSizeSyntaxError(`entry ${JSON.stringify(entry)}: weight must be a positive integer`);
    sizes.push({ bytes, weight });
  }
  if (sizes.length === 0) throw new PageSizeSyntaxError('no sizes given');
  return sizes;
}

const LINE = ' Synthetic text: the demo gateway made this page itself.\n';

/** `bytes` of filler: numbered 64-byte lines, the same on every run. */
function filler(bytes: number): Buffer {
  const lineBytes = 6 + LINE.length;
  const lines = Math.ceil(bytes / lineBytes);
  const buffer = Buffer.alloc(lines * lineBytes);
  for (let i = 0; i < lines; i++) buffer.write(`${String(i % 1_000_000).padStart(6, '0')}${LINE}`, i * lineBytes, 'latin1');
  return buffer.subarray(0, bytes);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** A page body as chunks to write in order (the filler is shared, not copied). */
export interface Page {
  bytes: number;
  chunks: Buffer[];
}

/**
 * Synthetic pages. Sizes follow the PAGE_SIZES mix by smooth weighted
 * round-robin over all requests, so any run of sum(weights) pages has the
 * exact mix; the content depends only on host, path and size.
 */
export class PageMaker {
  private readonly picker: WeightedPicker<PageSize>;
  private readonly filler: Buffer;

  constructor(sizes: readonly PageSize[]) {
    this.picker = new WeightedPicker(sizes);
    this.filler = filler(Math.max(...sizes.map((s) => s.bytes)));
  }

  /** The next page of the mix. */
  next(host: string, path: string): Page {
    return this.page(host, path, this.picker.next().bytes);
  }

  /** The page for host and path, exactly `bytes` long. */
  page(host: string, path: string, bytes: number): Page {
    const title = escapeHtml(`${host}${path}`);
    const head = Buffer.from(
      `<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n<body><h1>${escapeHtml(host)}</h1>\n` +
        `<p>Synthetic page for ${title}, served by the proxy-telemetry demo gateway: no request leaves the gateway.</p>\n<pre>\n`,
    );
    const tail = Buffer.from('</pre></body></html>\n');
    const fill = bytes - head.length - tail.length;
    if (fill < 0) return { bytes, chunks: [Buffer.concat([head, tail]).subarray(0, bytes)] };
    return { bytes, chunks: [head, this.filler.subarray(0, fill), tail] };
  }
}
