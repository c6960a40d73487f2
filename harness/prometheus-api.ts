/**
 * The Prometheus HTTP query API as both engines the tests run serve it (Prometheus, and VictoriaMetrics'
 * Prometheus-compatible API), with Node's global fetch: the same checks run on either.
 */

export interface InstantSample { metric: Record<string, string>; value: number }
export interface RangeSeries { metric: Record<string, string>; values: Array<[number, number]> }

/** Seconds since the epoch, as the API expects, from a ms timestamp or Date. */
export function apiTime(t: number | Date): string {
  return String((t instanceof Date ? t.getTime() : t) / 1000);
}

export abstract class PrometheusApi {
  /** Base URL of the server, e.g. `http://127.0.0.1:9090`. */
  public abstract readonly url: string;

  /** Instant query; `time` in ms since the epoch (default: now); `extra` adds query parameters (e.g. `stats`). */
  public async query(expr: string, time?: number | Date, extra: Record<string, string> = {}): Promise<InstantSample[]> {
    const params: Record<string, string> = { query: expr, ...extra };
    if (time !== undefined) params.time = apiTime(time);
    const data = await this.api('/api/v1/query', params);
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
    if (data.resultType !== 'vector') throw new Error(`query '${expr}' returned a ${data.resultType}, not a vector`);
    return data.result.map((r: any) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Range query; times in ms since the epoch, step in seconds. Sample times come back in ms. */
  public async queryRange(expr: string, startMs: number, endMs: number, stepSeconds: number): Promise<RangeSeries[]> {
    const data = await this.api('/api/v1/query_range', { query: expr, start: apiTime(startMs), end: apiTime(endMs), step: String(stepSeconds) });
    return data.result.map((r: any) => ({ metric: r.metric, values: r.values.map(([t, v]: [number, string]) => [t * 1000, Number(v)]) }));
  }

  /** /api/v1/label/<label>/values of the series matching `match` with samples in [start, end]; times in ms. */
  public async labelValues(label: string, match: string, startMs: number, endMs: number): Promise<string[]> {
    return this.api(`/api/v1/label/${encodeURIComponent(label)}/values`, { 'match[]': match, start: apiTime(startMs), end: apiTime(endMs) });
  }

  /** /api/v1/series: the label sets of the series matching `match` with samples in [start, end]; times in ms. */
  public async series(match: string, startMs: number, endMs: number): Promise<Array<Record<string, string>>> {
    return this.api('/api/v1/series', { 'match[]': match, start: apiTime(startMs), end: apiTime(endMs) });
  }

  /** Polls `check` until it returns a truthy value, which is returned; fails after timeoutMs with the last value. */
  public async waitFor<T>(check: () => Promise<T> | T, timeoutMs: number, description = 'condition', intervalMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        last = await check();
        if (last) return last as T;
      } catch (err) {
        last = err;
      }
      const exited = this.exitedWith();
      if (exited !== undefined) throw new Error(`${exited} while waiting for ${description}`);
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}; last result: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
      }
      await new Promise(r => setTimeout(r, intervalMs));
    }
  }

  /** Why the server's process is gone (with its log), or undefined while it runs. */
  protected abstract exitedWith(): string | undefined;

  /** GET `endpoint` with `params`; the `data` of a successful answer, else an error naming the server and the call. */
  protected async api(endpoint: string, params: Record<string, string>): Promise<any> {
    const res = await fetch(`${this.url}${endpoint}?${new URLSearchParams(params)}`);
    const body: any = await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}` }));
    if (body.status !== 'success') throw new Error(`${this.url}${endpoint} ${JSON.stringify(params)}: ${body.errorType ?? ''} ${body.error}`);
    return body.data;
  }
}
