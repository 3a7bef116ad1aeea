import type { MetadataStore, MetricRecord } from "./types";

export interface MetricWriterOptions {
  /** How long a point may wait in the buffer before it is written; default 50 ms. */
  intervalMs?: number;
  /** Write as soon as this many points wait; default 1000. */
  maxBuffered?: number;
}

/**
 * Buffers the metric points a run logs and writes them with `store.logMetrics`, one transaction per
 * batch: a training loop that logs a point per step then costs a few transactions, not one per point.
 * A batch is written when the timer fires (it never keeps the process alive), when `maxBuffered`
 * points wait, and on `flush()` and `close()`. Each point's `ts` is taken in `add()`, so buffering does
 * not shift when a point was logged. A write that fails on the timer is reported by the next call.
 */
export class MetricWriter {
  private readonly intervalMs: number;
  private readonly maxBuffered: number;
  private buffer: MetricRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private closed = false;
  /** The ISO text of `stampMs`: points logged within one millisecond share it (formatting is the cost). */
  private stampMs = Number.NaN;
  private stamp = "";

  constructor(
    private readonly store: MetadataStore,
    opts: MetricWriterOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 50;
    this.maxBuffered = opts.maxBuffered ?? 1000;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs < 0) {
      throw new Error(`A metric writer's intervalMs must be 0 or more milliseconds; got ${this.intervalMs}.`);
    }
    if (!Number.isInteger(this.maxBuffered) || this.maxBuffered < 1) {
      throw new Error(
        `A metric writer's maxBuffered must be a whole number, 1 or more; got ${this.maxBuffered}.`,
      );
    }
  }

  add(m: MetricRecord): void {
    if (this.closed) {
      throw new Error(
        `Cannot log metric "${m.nodeId}.${m.name}" for run "${m.runId}": its metric writer is closed (the run has finished).`,
      );
    }
    // A copy, so a caller reusing its object does not change a buffered point.
    this.buffer.push({
      runId: m.runId,
      nodeId: m.nodeId,
      name: m.name,
      value: m.value,
      step: m.step,
      ts: m.ts ?? this.now(),
    });
    if (this.buffer.length >= this.maxBuffered) this.flush();
    else {
      this.throwFailure();
      if (this.timer === undefined) {
        this.timer = setTimeout(() => this.flushFromTimer(), this.intervalMs);
        this.timer.unref();
      }
    }
  }

  /** Writes every buffered point now, in one transaction. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const earlier = this.failure;
    this.failure = undefined;
    try {
      this.writeBuffered();
    } catch (e) {
      throw earlier ?? e;
    }
    if (earlier !== undefined) throw earlier;
  }

  /** Writes what is buffered; later `add` calls are refused. Closing twice is harmless. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
  }

  private now(): string {
    const ms = Date.now();
    if (ms !== this.stampMs) {
      this.stampMs = ms;
      this.stamp = new Date(ms).toISOString();
    }
    return this.stamp;
  }

  private flushFromTimer(): void {
    this.timer = undefined;
    try {
      this.writeBuffered();
    } catch (e) {
      // Thrown from a timer it would end the process; the next add, flush or close reports it instead.
      this.failure ??= e as Error;
    }
  }

  private writeBuffered(): void {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.store.logMetrics(batch);
    } catch (e) {
      const runs = [...new Set(batch.map((m) => `"${m.runId}"`))].join(", ");
      throw new Error(
        `Writing ${batch.length} metric point(s) of run ${runs} failed, so they were not recorded: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  private throwFailure(): void {
    const failure = this.failure;
    if (failure === undefined) return;
    this.failure = undefined;
    throw failure;
  }
}
