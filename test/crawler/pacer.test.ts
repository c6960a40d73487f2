import { Pacer, PacerOptions } from '../../crawler/src/pacer';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A pacer whose launches stay in flight until released. */
function harness(opts: Omit<PacerOptions, 'now'>, now: () => number = () => Date.now()) {
  const releases: Array<() => void> = [];
  const counts = { started: 0, skipped: 0, launched: 0, maxInFlight: 0 };
  const pacer = new Pacer(
    { ...opts, now },
    {
      launch: () => {
        counts.launched++;
        return new Promise<void>((resolve) => releases.push(resolve));
      },
      onSlots: (started, skipped) => {
        counts.started += started;
        counts.skipped += skipped;
      },
      onInFlight: (n) => {
        counts.maxInFlight = Math.max(counts.maxInFlight, n);
      },
    },
  );
  const releaseAll = async (): Promise<void> => {
    releases.splice(0).forEach((r) => r());
    await jest.advanceTimersByTimeAsync(0);
  };
  return { pacer, counts, releaseAll };
}

describe('Pacer', () => {
  test('starts slots on a fixed timetable from the start, whatever the responses do (open loop)', async () => {
    const { pacer, counts, releaseAll } = harness({ requestsPerSecond: 10, concurrency: 1000 });
    pacer.start();
    expect(counts.launched).toBe(1);
    await jest.advanceTimersByTimeAsync(999);
    // Nothing has completed, yet every slot at 0, 100, ..., 900 ms started.
    expect(counts.launched).toBe(10);
    await jest.advanceTimersByTimeAsync(1);
    expect(counts.launched).toBe(11);
    await jest.advanceTimersByTimeAsync(9000);
    expect(counts).toMatchObject({ launched: 101, started: 101, skipped: 0 });
    const done = pacer.stop();
    await releaseAll();
    await done;
  });

  test('skips (and counts) slots while CONCURRENCY requests are in flight; never queues them', async () => {
    const { pacer, counts, releaseAll } = harness({ requestsPerSecond: 100, concurrency: 3 });
    pacer.start();
    await jest.advanceTimersByTimeAsync(995);
    expect(counts).toMatchObject({ launched: 3, started: 3, skipped: 97, maxInFlight: 3 });
    await releaseAll();
    // Freed capacity is used by the next due slot, not by a backlog.
    await jest.advanceTimersByTimeAsync(10);
    expect(counts.launched).toBe(4);
    expect(counts.started + counts.skipped).toBe(101);
    const done = pacer.stop();
    await releaseAll();
    await done;
  });

  test('a stalled event loop makes the due slots burst up to the free capacity, the rest skipped', async () => {
    let clock = 0;
    const { pacer, counts } = harness({ requestsPerSecond: 10, concurrency: 4 }, () => clock);
    pacer.start();
    expect(counts.launched).toBe(1);
    clock = 1000; // 10 more slots due at once
    await jest.advanceTimersByTimeAsync(100);
    expect(counts).toMatchObject({ launched: 4, started: 4, skipped: 7 });
  });

  test('DURATION: exactly duration x rate slots, then done once in-flight requests finish', async () => {
    const { pacer, counts, releaseAll } = harness({ requestsPerSecond: 20, concurrency: 100, durationMs: 1000 });
    let finished = false;
    void pacer.done.then(() => {
      finished = true;
    });
    pacer.start();
    await jest.advanceTimersByTimeAsync(5000);
    expect(counts.launched).toBe(20);
    expect(finished).toBe(false);
    await releaseAll();
    expect(finished).toBe(true);
  });

  test('stop(): no new requests; resolves when the in-flight ones finish', async () => {
    const { pacer, counts, releaseAll } = harness({ requestsPerSecond: 10, concurrency: 10 });
    pacer.start();
    await jest.advanceTimersByTimeAsync(250);
    expect(counts.launched).toBe(3);
    let stopped = false;
    void pacer.stop().then(() => {
      stopped = true;
    });
    await jest.advanceTimersByTimeAsync(1000);
    expect(counts.launched).toBe(3);
    expect(pacer.inFlightCount).toBe(3);
    expect(stopped).toBe(false);
    await releaseAll();
    expect(stopped).toBe(true);
    expect(pacer.inFlightCount).toBe(0);
  });
});
