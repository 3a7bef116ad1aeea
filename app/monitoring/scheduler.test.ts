/**
 * nextCronTime against Python's croniter (Debian's python3-croniter) and
 * against hand-worked crontab(5) cases where croniter reads the day rule
 * differently; the scheduler on a fake clock.
 */
import { execFileSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CronError, createMonitorScheduler, nextCronTime, type SchedulerClock } from "./scheduler";

const savedTz = process.env.TZ;
beforeEach(() => {
  process.env.TZ = "UTC";
});
afterEach(() => {
  process.env.TZ = savedTz;
});

const utc = (iso: string) => Date.parse(`${iso}Z`);
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
/** The first `k` times after `start`. */
const nexts = (expr: string, start: number, k: number) => {
  const out: number[] = [];
  let t = start;
  while (out.length < k) {
    t = nextCronTime(expr, t);
    out.push(t);
  }
  return out;
};

/** Debian's python3-croniter (1.3.5 on bookworm); .ci/run installs it. */
function croniter(cases: [string, number, number][]): number[][] {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import croniter"], { stdio: "ignore" });
  } catch {
    throw new Error("Python's croniter is missing: apt-get install python3-croniter");
  }
  const code = `
import json, sys
from datetime import datetime, timezone
from croniter import croniter
out = []
for expr, start, k in json.load(sys.stdin):
    it = croniter(expr, datetime.fromtimestamp(start / 1000, timezone.utc))
    out.append([int(it.get_next(float) * 1000) for _ in range(k)])
print(json.dumps(out))`;
  return JSON.parse(
    execFileSync("/usr/bin/python3", ["-c", code], {
      input: JSON.stringify(cases),
      maxBuffer: 1 << 24,
    }).toString(),
  );
}

describe("nextCronTime", () => {
  it("matches croniter on steps, ranges, names, lists, 7 = Sunday and the day OR rule", () => {
    const exprs = [
      "* * * * *",
      "*/15 * * * *",
      "5/15 * * * *",
      "0 * * * *",
      "30 2 * * *",
      "0 0 1 * *",
      "0 0 31 * *",
      "0 0 30 * *",
      "0 0 29 2 *",
      "0 12 * * 7",
      "0 12 * * 0",
      "0 12 * * sun",
      "0 9-17/4 * * mon-fri",
      "*/10 9-17/4 * jan-mar/2 MON-Fri",
      "15,45 8,20 * * 1,3,5",
      "0 0 13 * 5",
      "0 0 1-7 * mon",
      "0 6 15 * sat,sun",
      "0 0 1 jan,jul *",
      "59 23 31 dec *",
      "0 0 * feb *",
      "7-9 1-3 2-4 3-5 *",
      "0 0 * * 5-7",
      "1-59/20 */5 */3 */4 *",
    ];
    // Seeded: a few hundred more of the shapes croniter and crontab(5) agree on.
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const field = (min: number, max: number, star: boolean) => {
      const kind = rnd(star ? 5 : 4);
      const a = min + rnd(max - min + 1);
      const b = a + rnd(max - a + 1);
      if (kind === 0) return String(a);
      if (kind === 1) return `${a}-${b}`;
      if (kind === 2) return `${a}-${b}/${1 + rnd(5)}`;
      if (kind === 3) return `${a},${min + rnd(max - min + 1)}`;
      return rnd(2) ? "*" : `*/${1 + rnd(7)}`;
    };
    for (let i = 0; i < 300; i++) {
      // Day of month and day of week: "*" or free of "*" (croniter reads "*/2" as restricted; crontab(5) does not).
      const dom = rnd(2) ? "*" : field(1, 28, false);
      const dow = rnd(2) ? "*" : field(0, 7, false);
      exprs.push(`${field(0, 59, true)} ${field(0, 23, true)} ${dom} ${field(1, 12, true)} ${dow}`);
    }
    const starts = [utc("2026-01-01T00:00:00"), utc("2027-12-31T23:59:30"), utc("2028-02-28T12:34:56.789")];
    const cases: [string, number, number][] = exprs.flatMap((e) =>
      starts.map((s): [string, number, number] => [e, s, 6]),
    );
    const want = croniter(cases);
    for (const [i, [expr, start, k]] of cases.entries())
      expect(nexts(expr, start, k).map(iso), `${expr} after ${iso(start)}`).toEqual(want[i]!.map(iso));
  });

  it("ANDs the day fields when either contains a star, ORs them when both are restricted (crontab(5))", () => {
    const start = utc("2026-01-01T00:00:00");
    // "*/2" contains "*": odd days that are Mondays (croniter would take either).
    expect(nexts("0 0 */2 * 1", start, 4).map(iso)).toEqual([
      "2026-01-05T00:00:00Z",
      "2026-01-19T00:00:00Z",
      "2026-02-09T00:00:00Z",
      "2026-02-23T00:00:00Z",
    ]);
    // Both restricted: the 13th or any Friday.
    expect(nexts("0 0 13 * fri", start, 3).map(iso)).toEqual([
      "2026-01-02T00:00:00Z",
      "2026-01-09T00:00:00Z",
      "2026-01-13T00:00:00Z",
    ]);
    // Only the day of week restricted: every Monday.
    expect(nexts("0 0 * * mon", start, 2).map(iso)).toEqual(["2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"]);
  });

  it("skips short months and non-leap Februaries; 7 and sun are Sunday", () => {
    expect(nexts("0 0 31 * *", utc("2026-01-31T00:00:00"), 3).map(iso)).toEqual([
      "2026-03-31T00:00:00Z",
      "2026-05-31T00:00:00Z",
      "2026-07-31T00:00:00Z",
    ]);
    expect(nexts("0 0 29 2 *", utc("2026-01-01T00:00:00"), 2).map(iso)).toEqual([
      "2028-02-29T00:00:00Z",
      "2032-02-29T00:00:00Z",
    ]);
    // 2100 is not a leap year: 2096 is followed by 2104.
    expect(iso(nextCronTime("0 0 29 2 *", utc("2096-03-01T00:00:00")))).toBe("2104-02-29T00:00:00Z");
    const sunday = iso(nextCronTime("0 12 * * 7", utc("2026-01-01T00:00:00")));
    expect(sunday).toBe("2026-01-04T12:00:00Z");
    expect(iso(nextCronTime("0 12 * * sun", utc("2026-01-01T00:00:00")))).toBe(sunday);
    expect(iso(nextCronTime("0 12 * * 0", utc("2026-01-01T00:00:00")))).toBe(sunday);
  });

  it("answers the first time strictly after, to the minute", () => {
    expect(iso(nextCronTime("*/15 * * * *", utc("2026-01-01T12:15:00")))).toBe("2026-01-01T12:30:00Z");
    expect(iso(nextCronTime("*/15 * * * *", utc("2026-01-01T12:14:59.999")))).toBe("2026-01-01T12:15:00Z");
    expect(iso(nextCronTime("59 23 31 12 *", utc("2026-12-31T23:59:00")))).toBe("2027-12-31T23:59:00Z");
  });

  it("reads the schedule in the local time zone, across clock changes", () => {
    process.env.TZ = "Europe/Berlin";
    // 09:00 in Berlin is 08:00 UTC in winter, 07:00 in summer.
    expect(iso(nextCronTime("0 9 * * *", utc("2026-01-01T00:00:00")))).toBe("2026-01-01T08:00:00Z");
    expect(iso(nextCronTime("0 9 * * *", utc("2026-07-01T00:00:00")))).toBe("2026-07-01T07:00:00Z");
    // 25 October 2026: 02:30 happens twice (CEST, then CET); it comes once.
    const first = nextCronTime("30 2 * * *", utc("2026-10-24T12:00:00"));
    expect(iso(first)).toBe("2026-10-25T00:30:00Z");
    expect(iso(nextCronTime("30 2 * * *", first))).toBe("2026-10-26T01:30:00Z");
  });

  // cron(8) (cronie), "Daylight Saving Time and other time changes": jobs at fixed times whose
  // time is skipped "will be run immediately", and are not run twice when time moves back; jobs
  // with "*" in the minute or hour field ("that run more frequently") are "scheduled normally".
  it("across daylight-saving changes does what cron(8) does: fixed times caught up once, wildcards by the clock", () => {
    process.env.TZ = "Europe/Berlin";
    // 29 March 2026, 01:00 UTC: clocks spring from 02:00 CET to 03:00 CEST; 02:00–02:59 never reads.
    expect(nexts("30 2 * * *", utc("2026-03-28T12:00:00"), 2).map(iso)).toEqual([
      "2026-03-29T01:00:00Z", // at the change (03:00 CEST)
      "2026-03-30T00:30:00Z", // 02:30 CEST
    ]);
    // Two skipped times of one job: it runs once at the change.
    expect(nexts("0,30 2 * * *", utc("2026-03-29T00:00:00"), 2).map(iso)).toEqual([
      "2026-03-29T01:00:00Z",
      "2026-03-30T00:00:00Z",
    ]);
    // A wildcard job runs at the times the clock reads: 02:xx did not come that night.
    expect(nexts("*/30 * * * *", utc("2026-03-29T00:00:00"), 3).map(iso)).toEqual([
      "2026-03-29T00:30:00Z", // 01:30 CET
      "2026-03-29T01:00:00Z", // 03:00 CEST
      "2026-03-29T01:30:00Z",
    ]);
    expect(iso(nextCronTime("30 * * * *", utc("2026-03-29T00:30:00")))).toBe("2026-03-29T01:30:00Z");
    // 25 October 2026, 01:00 UTC: clocks fall from 03:00 CEST to 02:00 CET; 02:00–02:59 reads twice.
    expect(nexts("*/30 * * * *", utc("2026-10-25T00:00:00"), 4).map(iso)).toEqual([
      "2026-10-25T00:30:00Z", // 02:30 CEST
      "2026-10-25T01:00:00Z", // 02:00 CET
      "2026-10-25T01:30:00Z", // 02:30 CET
      "2026-10-25T02:00:00Z", // 03:00 CET
    ]);
    expect(nexts("0 2 * * *", utc("2026-10-24T12:00:00"), 2).map(iso)).toEqual([
      "2026-10-25T00:00:00Z", // 02:00 CEST, once
      "2026-10-26T01:00:00Z",
    ]);
    // New York, 8 March 2026 at 07:00 UTC: 02:00 EST becomes 03:00 EDT.
    process.env.TZ = "America/New_York";
    expect(nexts("30 2 * * *", utc("2026-03-07T12:00:00"), 2).map(iso)).toEqual([
      "2026-03-08T07:00:00Z",
      "2026-03-09T06:30:00Z",
    ]);
    // 1 November 2026 at 06:00 UTC: 02:00 EDT becomes 01:00 EST.
    expect(nexts("15 1 * * *", utc("2026-10-31T12:00:00"), 2).map(iso)).toEqual([
      "2026-11-01T05:15:00Z", // 01:15 EDT, once
      "2026-11-02T06:15:00Z",
    ]);
    expect(nexts("15 * * * *", utc("2026-11-01T04:30:00"), 3).map(iso)).toEqual([
      "2026-11-01T05:15:00Z", // 01:15 EDT
      "2026-11-01T06:15:00Z", // 01:15 EST
      "2026-11-01T07:15:00Z", // 02:15 EST
    ]);
  });

  it("refuses a schedule that is not valid or never comes", () => {
    expect(() => nextCronTime("* * * *", 0)).toThrow(CronError);
    expect(() => nextCronTime("* * * *", 0)).toThrow(/5 fields/);
    expect(() => nextCronTime("61 * * * *", 0)).toThrow(/minute field "61" is not valid/);
    expect(() => nextCronTime("0 0 30 2 *", 0)).toThrow(/never comes/);
  });
});

/** A clock whose time moves only when the test says; timers fire in order as it passes them. */
function fakeClock(start: number) {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const clock: SchedulerClock & {
    advanceTo(t: number): Promise<void>;
    fireNow(t: number): void;
    sleepUntil(t: number): void;
    timers: () => number;
  } = {
    now: () => now,
    setTimeout(fn, ms) {
      timers.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => void timers.delete(h as number),
    async advanceTo(t) {
      for (;;) {
        await flush();
        const due = [...timers.entries()].filter(([, x]) => x.at <= t).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = t;
      await flush();
    },
    /** Moves to `t` and fires the timers due by then at once, letting no promise settle in between. */
    fireNow(t: number) {
      now = t;
      for (const [id, x] of [...timers.entries()].sort((a, b) => a[1].at - b[1].at))
        if (x.at <= t) {
          timers.delete(id);
          x.fn();
        }
    },
    /** Time passes with no timer firing (a machine asleep); they fire late, at the next advanceTo. */
    sleepUntil(t) {
      now = t;
    },
    timers: () => timers.size,
  };
  return clock;
}

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("createMonitorScheduler", () => {
  const T0 = utc("2026-12-06T12:10:30");

  it("runs a monitor due at 12:15 once at 12:15, and none without a schedule", async () => {
    const clock = fakeClock(T0);
    const ticks: [string[], string][] = [];
    const s = createMonitorScheduler({
      monitors: () => ({ a: { schedule: "*/15 * * * *" }, b: {} }),
      tick: async (names, now) => void ticks.push([names, iso(now)]),
      clock,
    });
    s.start();
    expect(s.running()).toBe(true);
    expect(s.nextRuns()).toEqual({ a: utc("2026-12-06T12:15:00"), b: null });
    await clock.advanceTo(utc("2026-12-06T12:29:59"));
    expect(ticks).toEqual([[["a"], "2026-12-06T12:15:00Z"]]);
    expect(s.nextRuns().a).toBe(utc("2026-12-06T12:30:00"));
    await clock.advanceTo(utc("2026-12-06T13:00:00"));
    expect(ticks.map((t) => t[1])).toEqual([
      "2026-12-06T12:15:00Z",
      "2026-12-06T12:30:00Z",
      "2026-12-06T12:45:00Z",
      "2026-12-06T13:00:00Z",
    ]);
    await s.stop();
    expect(s.running()).toBe(false);
    expect(clock.timers()).toBe(0);
  });

  it("runs monitors due together in one tick, and times missed while asleep once", async () => {
    const clock = fakeClock(T0);
    const ticks: [string[], string][] = [];
    const s = createMonitorScheduler({
      monitors: () => ({ a: { schedule: "*/5 * * * *" }, b: { schedule: "15 12 * * *" } }),
      tick: async (names, now) => void ticks.push([names, iso(now)]),
      clock,
      // A machine asleep: the scheduler's timer fires late, only when the test moves the clock on.
      replanMs: 3_600_000,
    });
    s.start();
    await clock.advanceTo(utc("2026-12-06T12:15:00"));
    expect(ticks).toEqual([[["a", "b"], "2026-12-06T12:15:00Z"]]);
    // Asleep from 12:16 to 12:47: a (due at 12:20 … 12:45) runs once on waking, then at 12:50.
    clock.sleepUntil(utc("2026-12-06T12:47:10"));
    await clock.advanceTo(utc("2026-12-06T12:50:00"));
    expect(ticks.slice(1)).toEqual([
      [["a"], "2026-12-06T12:47:10Z"],
      [["a"], "2026-12-06T12:50:00Z"],
    ]);
    await s.stop();
  });

  it("never overlaps a slow tick with itself: a time due while it runs is skipped", async () => {
    const clock = fakeClock(T0);
    const gates: ReturnType<typeof deferred>[] = [];
    let inFlight = 0;
    let most = 0;
    const s = createMonitorScheduler({
      monitors: () => ({ a: { schedule: "* * * * *" } }),
      tick: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        const g = deferred();
        gates.push(g);
        await g.promise.finally(() => inFlight--);
      },
      clock,
    });
    s.start();
    await clock.advanceTo(utc("2026-12-06T12:14:30"));
    // Due at 12:11, 12:12, 12:13, 12:14: the first tick is still running, so only it ran.
    expect(gates).toHaveLength(1);
    gates[0]!.resolve();
    await clock.advanceTo(utc("2026-12-06T12:15:00"));
    expect(gates).toHaveLength(2);
    expect(most).toBe(1);
    gates[1]!.resolve();
    await s.stop();
  });

  it("reports a tick that throws and runs the next one", async () => {
    const clock = fakeClock(T0);
    const errors: [string, string[]][] = [];
    let calls = 0;
    const s = createMonitorScheduler({
      monitors: () => ({ a: { schedule: "* * * * *" } }),
      tick: async () => {
        calls++;
        if (calls === 1) throw new Error("the log could not be read");
      },
      clock,
      onError: (e, names) => errors.push([(e as Error).message, names]),
    });
    s.start();
    await clock.advanceTo(utc("2026-12-06T12:12:00"));
    expect(calls).toBe(2);
    expect(errors).toEqual([["the log could not be read", ["a"]]]);
    await s.stop();
  });

  it("stop() waits for the tick in flight and starts no other", async () => {
    const clock = fakeClock(T0);
    const gate = deferred();
    let calls = 0;
    const s = createMonitorScheduler({
      monitors: () => ({ a: { schedule: "* * * * *" } }),
      tick: async () => {
        calls++;
        await gate.promise;
      },
      clock,
    });
    s.start();
    await clock.advanceTo(utc("2026-12-06T12:11:00"));
    expect(calls).toBe(1);
    let stopped = false;
    const stopping = s.stop().then(() => {
      stopped = true;
    });
    await clock.advanceTo(utc("2026-12-06T12:20:00"));
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(stopped).toBe(true);
    expect(calls).toBe(1);
    expect(s.nextRuns()).toEqual({ a: null });
  });

  it("a stop() in the same turn as the timer that made a monitor due: that tick does not start", async () => {
    const clock = fakeClock(T0);
    let calls = 0;
    const s = createMonitorScheduler({
      monitors: () => ({ a: { schedule: "* * * * *" } }),
      tick: async () => {
        calls++;
      },
      clock,
    });
    s.start();
    clock.fireNow(utc("2026-12-06T12:11:00"));
    await s.stop();
    await clock.advanceTo(utc("2026-12-06T12:15:00"));
    expect(calls).toBe(0);
    expect(clock.timers()).toBe(0);
  });

  it("goes on when its error reporter throws", async () => {
    const clock = fakeClock(T0);
    let broken = true;
    const ticks: string[] = [];
    const s = createMonitorScheduler({
      monitors: () => {
        if (broken) throw new Error("dagwood.json is not valid JSON");
        return { a: { schedule: "* * * * *" } };
      },
      tick: async (_names, now) => {
        ticks.push(iso(now));
        throw new Error("the log could not be read");
      },
      clock,
      onError: () => {
        throw new Error("the reporter failed");
      },
    });
    s.start();
    await clock.advanceTo(utc("2026-12-06T12:12:00"));
    broken = false;
    await clock.advanceTo(utc("2026-12-06T12:15:00"));
    // Read again within a minute of the fix (12:12:30), then due every minute: the reporter's failures stopped nothing.
    expect(ticks).toEqual(["2026-12-06T12:13:00Z", "2026-12-06T12:14:00Z", "2026-12-06T12:15:00Z"]);
    await s.stop();
  });

  it("picks up edited settings at the next planning; unreadable settings run nothing and are said once", async () => {
    const clock = fakeClock(T0);
    let monitors: Record<string, { schedule?: string }> = { a: { schedule: "0 * * * *" } };
    let broken: Error | null = null;
    const ticks: [string[], string][] = [];
    const errors: [string, string[]][] = [];
    const s = createMonitorScheduler({
      monitors: () => {
        if (broken) throw broken;
        return monitors;
      },
      tick: async (names, now) => void ticks.push([names, iso(now)]),
      clock,
      onError: (e, names) => errors.push([(e as Error).message, names]),
    });
    s.start();
    expect(s.nextRuns()).toEqual({ a: utc("2026-12-06T13:00:00") });
    // Edited: a every 5 minutes from now, b added. Read again within a minute.
    monitors = { a: { schedule: "*/5 * * * *" }, b: { schedule: "*/20 * * * *" } };
    await clock.advanceTo(utc("2026-12-06T12:20:00"));
    expect(ticks).toEqual([
      [["a"], "2026-12-06T12:15:00Z"],
      [["a", "b"], "2026-12-06T12:20:00Z"],
    ]);
    // Settings that cannot be read: said once, nothing runs until they are fixed.
    broken = new Error("dagwood.json has invalid settings: monitors.a.window: a duration");
    await clock.advanceTo(utc("2026-12-06T12:40:30"));
    expect(ticks).toHaveLength(2);
    expect(errors).toEqual([["dagwood.json has invalid settings: monitors.a.window: a duration", []]]);
    expect(s.nextRuns()).toEqual({});
    // Fixed, with a's schedule removed: only b runs.
    broken = null;
    monitors = { a: {}, b: { schedule: "*/20 * * * *" } };
    await clock.advanceTo(utc("2026-12-06T13:00:00"));
    expect(ticks.slice(2)).toEqual([[["b"], "2026-12-06T13:00:00Z"]]);
    expect(s.nextRuns()).toEqual({ a: null, b: utc("2026-12-06T13:20:00") });
    await s.stop();
  });

  it("reports a schedule that never comes and plans it as never", async () => {
    const clock = fakeClock(T0);
    const errors: string[] = [];
    const s = createMonitorScheduler({
      monitors: () => ({ feb30: { schedule: "0 0 30 2 *" } }),
      tick: async () => {},
      clock,
      onError: (e) => errors.push((e as Error).message),
    });
    s.start();
    expect(s.nextRuns()).toEqual({ feb30: null });
    expect(errors).toEqual([
      expect.stringMatching(/^monitor feb30: the cron schedule "0 0 30 2 \*" never comes/),
    ]);
    await s.stop();
  });
});
