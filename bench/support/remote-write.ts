import * as protobuf from 'protobufjs';
import { compressSync } from 'snappy';

/**
 * Prometheus remote-write 1.0 (protobuf WriteRequest, snappy block compression) into a Prometheus started with
 * --web.enable-remote-write-receiver. Label bytes are encoded once per series; each request carries a run of
 * samples per series, so one hour of history costs a few label encodings per series, not one per sample.
 */

export interface Series { labels: Record<string, string> }

/** A series' labels as the repeated `Label labels = 1` fields of a TimeSeries (sorted by name, as required). */
export function encodeLabels(labels: Record<string, string>): Uint8Array {
  const w = protobuf.Writer.create();
  for (const name of Object.keys(labels).sort()) {
    w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string(name).uint32((2 << 3) | 2).string(labels[name]).ldelim();
  }
  return w.finish();
}

/** A WriteRequest.timeseries field (= 1) from pre-encoded labels and samples (ms timestamps, ascending). */
function encodeTimeSeries(chunks: Uint8Array[], labels: Uint8Array, timestamps: number[], values: number[]): void {
  const samples = protobuf.Writer.create();
  for (let i = 0; i < timestamps.length; i++) {
    samples.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 1).double(values[i]).uint32((2 << 3) | 0).int64(timestamps[i]).ldelim();
  }
  const sampleBytes = samples.finish();
  chunks.push(protobuf.Writer.create().uint32((1 << 3) | 2).uint32(labels.length + sampleBytes.length).finish(), labels, sampleBytes);
}

export class RemoteWriter {
  public samples = 0;
  public requests = 0;
  public bytes = 0;

  constructor(private readonly url: string) {}

  /**
   * Sends `series` with samples at `timestamps`; `value(i, t)` gives series i's value at t. Batches of
   * `batchSeries` series per request; requests run `concurrency` at a time.
   */
  public async write(labels: Uint8Array[], timestamps: number[], value: (i: number, t: number) => number, batchSeries = 2000, concurrency = 2): Promise<void> {
    const batches: Array<[number, number]> = [];
    for (let start = 0; start < labels.length; start += batchSeries) batches.push([start, Math.min(labels.length, start + batchSeries)]);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const b = batches[next++];
        if (!b) return;
        const chunks: Uint8Array[] = [];
        for (let i = b[0]; i < b[1]; i++) encodeTimeSeries(chunks, labels[i], timestamps, timestamps.map(t => value(i, t)));
        await this.post(Buffer.concat(chunks));
        this.samples += (b[1] - b[0]) * timestamps.length;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  private async post(body: Uint8Array): Promise<void> {
    const compressed = compressSync(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
      body: compressed,
    });
    this.requests++;
    this.bytes += compressed.length;
    if (!res.ok) throw new Error(`remote write: HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
  }
}
