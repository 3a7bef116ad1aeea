/**
 * Runs dagwood.json's monitors on their cron schedules while the app is open
 * (app/api/core.ts starts one scheduler per open project; `dagwood monitor
 * run` is the same work started by the system's cron instead).
 *
 *   const scheduler = createMonitorScheduler({
 *     monitors: () => readProjectSettings(dir).monitors,
 *     tick: (names, now) => runMonitors(project, { names, now }),
 *   });
 *   scheduler.start();
 *   …
 *   await scheduler.stop();
 *
 * Schedules are read in the machine's local time zone, as cron(8) reads a
 * crontab; to the minute, as cron examines its entries once a minute.
 */
import { cronProblem, type MonitorSettings } from "../project/project";

/** A cron schedule that is not valid, or names a time that never comes (30 February). */
export class CronError extends Error {
  override name = "CronError";
}

interface CronFields {
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Day of month and day of week both restricted (neither contains "*"): a day matches when either does. */
  either: boolean;
  /**
   * The minute or the hour field starts with "*": cron(8) runs such a job by
   * the clock as it reads across a daylight-saving change (a time skipped is
   * not run, a time repeated runs again); a job at fixed times is run once
   * right after clocks spring past its time, and not again when they fall back.
   */
  wild: boolean;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** The values one field stands for; cronProblem has checked its syntax. */
function fieldValues(field: string, min: number, max: number, names: string[] = []): number[] {
  const value = (t: string): number => {
    const named = names.indexOf(t.toLowerCase());
    return named >= 0 ? named + min : Number(t);
  };
  const out = new Set<number>();
  for (const part of field.split(",")) {
    const [range = "", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo = min;
    let hi = max;
    if (range !== "*") {
      const [a = "", b] = range.split("-");
      lo = value(a);
      // "a/n" (no upper bound) runs from a to the field's end, as cronie and croniter read it.
      hi = b !== undefined ? value(b) : stepText !== undefined ? max : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((x, y) => x - y);
}

function parseCron(expr: string): CronFields {
  const problem = cronProblem(expr);
  if (problem) throw new CronError(problem);
  const [minute = "", hour = "", dom = "", month = "", dow = ""] = expr.trim().split(/\s+/);
  // Day names count from 0 (Sunday): fieldValues adds `min` to a name's index, so pass min 0 there.
  const weekdays = new Set(fieldValues(dow, 0, 7, WEEKDAYS).map((d) => d % 7)); // 7 is Sunday too
  return {
    minutes: fieldValues(minute, 0, 59),
    hours: fieldValues(hour, 0, 23),
    days: new Set(fieldValues(dom, 1, 31)),
    months: new Set(fieldValues(month, 1, 12, MONTHS)),
    weekdays,
    either: !dom.includes("*") && !dow.includes("*"),
    wild: minute.startsWith("*") || hour.startsWith("*"),
  };
}

/** A local time as a number that orders like the clock's reading (its fields taken as UTC). */
const wallOf = (t: Date) =>
  Date.UTC(
    t.getFullYear(),
    t.getMonth(),
    t.getDate(),
    t.getHours(),
    t.getMinutes(),
    t.getSeconds(),
    t.getMilliseconds(),
  );

/** Daylight-saving changes are shorter than this (cron(8) treats a longer jump as a correction of the clock). */
const DST_MS = 3 * 3_600_000;

/**
 * The instant clocks sprang forward past the wall time `wall` (wallOf
 * units); `shifted` is the Date the missing time resolves to, later than it
 * (ECMAScript reads a missing local time with the offset before the change).
 */
function springInstant(shifted: Date, wall: number): number {
  let lo = shifted.getTime() - DST_MS; // reads before `wall`
  let hi = shifted.getTime(); // reads after it
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallOf(new Date(mid)) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** When the wall time `t` reads comes again as clocks fall back (ECMAScript resolves it to the first); null if it does not. */
function secondComing(t: Date): number | null {
  const later = new Date(t.getTime() + DST_MS);
  const shift = (later.getTimezoneOffset() - t.getTimezoneOffset()) * 60_000;
  if (shift <= 0) return null;
  const twin = new Date(t.getTime() + shift);
  return wallOf(twin) === wallOf(t) ? twin.getTime() : null;
}

/** How far ahead a time is looked for: past the longest gap between two 29 Februaries (2096 to 2104). */
const SEARCH_DAYS = 366 * 9;

/**
 * The first time strictly after `after` (ms since the epoch) that the cron
 * schedule `expr` names, in the machine's local time zone — crontab(5)'s
 * five fields (minute hour day-of-month month day-of-week), with its rule
 * that "if both fields are restricted (i.e., do not contain the "*"
 * character), the command will be run when either field matches the current
 * time" (day of month or day of week); otherwise both must match. Names
 * (jan, mon) and 7 for Sunday are read as crontab(5) reads them; "a/n" runs
 * from a to the field's end. Across a daylight-saving change it does what
 * cron(8) does ("Daylight Saving Time and other time changes", cronie's
 * cron(8)): a job at fixed times whose time clocks spring past runs at the
 * instant they do, and runs once when its time happens twice as they fall
 * back; a job with "*" in its minute or hour field runs by the clock as it
 * reads (a time skipped does not come, a time repeated comes twice).
 * Throws CronError for a schedule that is not valid or never comes (0 0 30 2 *).
 */
export function nextCronTime(expr: string, after: number): number {
  const c = parseCron(expr);
  const from = new Date(after);
  const [y0, m0, d0] = [from.getFullYear(), from.getMonth(), from.getDate()];
  for (let i = 0; i <= SEARCH_DAYS; i++) {
    // Noon: a day's fields are right even where clocks change at midnight.
    const day = new Date(y0, m0, d0 + i, 12);
    const [y, m, d] = [day.getFullYear(), day.getMonth(), day.getDate()];
    if (!c.months.has(m + 1)) continue;
    const dom = c.days.has(d);
    const dow = c.weekdays.has(day.getDay());
    if (!(c.either ? dom || dow : dom && dow)) continue;
    // The second coming of a wall time clocks fell back over (wild jobs): it may come before the next time's first.
    let again = Number.POSITIVE_INFINITY;
    for (const h of c.hours)
      for (const min of c.minutes) {
        const t = new Date(y, m, d, h, min);
        let at = t.getTime();
        if (t.getDate() !== d || t.getHours() !== h || t.getMinutes() !== min) {
          // Not a time of that day: clocks sprang forward over it.
          if (c.wild) continue;
          at = springInstant(t, Date.UTC(y, m, d, h, min));
        }
        if (at > after) return Math.min(at, again);
        if (c.wild) {
          const twin = secondComing(t);
          if (twin !== null && twin > after) again = Math.min(again, twin);
        }
      }
    if (again !== Number.POSITIVE_INFINITY) return again;
  }
  throw new CronError(`the cron schedule "${expr}" never comes (no such day in ${SEARCH_DAYS / 366} years)`);
}

/** Time as the scheduler sees it; tests pass a fake one. */
export interface SchedulerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface MonitorSchedulerOptions {
  /** The monitors as dagwood.json declares them now: read again at every planning, so edits are picked up. */
  monitors: () => Record<string, Pick<MonitorSettings, "schedule">>;
  /** Checks the monitors that are due (and advances their loops); `now` is the time they were due at or after. */
  tick: (names: string[], now: number) => Promise<unknown>;
  clock?: SchedulerClock;
  /**
   * A tick that threw (names: its monitors), or settings that could not be
   * read (names empty) or a schedule that never comes; the scheduler goes
   * on. Default: console.error.
   */
  onError?: (error: unknown, names: string[]) => void;
  /** The longest wait before the monitors are read again when nothing is due sooner (default 60 s). */
  replanMs?: number;
}

export interface MonitorScheduler {
  start(): void;
  /** No tick starts after this; resolves once the ticks in flight have ended. */
  stop(): Promise<void>;
  /** Per monitor, when it runs next (ms since the epoch); null for one with no schedule (or not running). */
  nextRuns(): Record<string, number | null>;
  running(): boolean;
}

const systemClock: SchedulerClock = {
  now: () => Date.now(),
  // Unref'd: a scheduler alone does not keep the process alive (the app's server does).
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Runs each monitor that has a `schedule` at the times it names. Planning
 * reads `monitors()` again each time the scheduler wakes (at the next due
 * time, or after `replanMs`); a monitor added or whose schedule changed
 * counts from then. Monitors due together run in one tick. A monitor whose
 * previous tick is still running when it is due again is not run again: that
 * time is skipped (never two ticks of one monitor at once). Times missed
 * while the process slept run once, when it wakes.
 */
export function createMonitorScheduler(opts: MonitorSchedulerOptions): MonitorScheduler {
  const clock = opts.clock ?? systemClock;
  const replanMs = opts.replanMs ?? 60_000;
  const onError =
    opts.onError ?? ((e: unknown) => console.error(`monitor scheduler: ${(e as Error).message}`));
  // A reporter that throws must not stop the scheduler (its timer would never be armed again).
  const report = (e: unknown, names: string[]) => {
    try {
      onError(e, names);
    } catch {
      // nothing else to tell it to
    }
  };
  /** Monitors with a schedule: it, and when it runs next (null: never comes). */
  const planned = new Map<string, { schedule: string; next: number | null }>();
  let known: string[] = [];
  const inFlight = new Set<string>();
  const ticks = new Set<Promise<void>>();
  let timer: unknown = null;
  let started = false;
  let stopped = false;
  let lastProblem: string | null = null;

  const nextOf = (name: string, schedule: string, after: number): number | null => {
    try {
      return nextCronTime(schedule, after);
    } catch (e) {
      report(e instanceof Error ? new Error(`monitor ${name}: ${e.message}`) : e, [name]);
      return null;
    }
  };

  const plan = (now: number) => {
    let monitors: Record<string, Pick<MonitorSettings, "schedule">>;
    try {
      monitors = opts.monitors();
      lastProblem = null;
    } catch (e) {
      // Settings that cannot be read (dagwood.json being edited): nothing runs until they can; said once.
      const message = (e as Error).message;
      if (message !== lastProblem) report(e, []);
      lastProblem = message;
      monitors = {};
    }
    known = Object.keys(monitors);
    for (const name of [...planned.keys()]) if (monitors[name]?.schedule === undefined) planned.delete(name);
    for (const [name, m] of Object.entries(monitors)) {
      if (m.schedule === undefined) continue;
      const was = planned.get(name);
      if (!was || was.schedule !== m.schedule)
        planned.set(name, { schedule: m.schedule, next: nextOf(name, m.schedule, now) });
    }
  };

  const arm = (now: number) => {
    if (stopped) return;
    let wait = replanMs;
    for (const p of planned.values()) if (p.next !== null) wait = Math.min(wait, p.next - now);
    timer = clock.setTimeout(wake, Math.max(0, wait));
  };

  const wake = () => {
    timer = null;
    if (stopped) return;
    const now = clock.now();
    plan(now);
    const due: string[] = [];
    for (const [name, p] of planned) {
      if (p.next === null || p.next > now) continue;
      p.next = nextOf(name, p.schedule, now);
      if (!inFlight.has(name)) due.push(name);
    }
    if (due.length) {
      for (const n of due) inFlight.add(n);
      const t: Promise<void> = Promise.resolve()
        // stop() came before this turn: no tick starts after it.
        .then(() => (stopped ? undefined : opts.tick(due, now)))
        .then(
          () => {},
          (e) => report(e, due),
        )
        .finally(() => {
          for (const n of due) inFlight.delete(n);
          ticks.delete(t);
        });
      ticks.add(t);
    }
    arm(now);
  };

  return {
    start() {
      if (started) return;
      started = true;
      const now = clock.now();
      plan(now);
      arm(now);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      while (ticks.size) await Promise.all([...ticks]);
    },
    nextRuns() {
      const live = started && !stopped;
      return Object.fromEntries(known.map((n) => [n, live ? (planned.get(n)?.next ?? null) : null]));
    },
    running: () => started && !stopped,
  };
}
