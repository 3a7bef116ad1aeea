/**
 * Whether the process that started a run still runs, so that a run whose
 * process was killed (`kill -9`, a crash, a power cut) is shown as
 * interrupted by whoever reads it next, not "running" for ever.
 *
 * A run records its owner: the host name, the process id and, on Linux,
 * what tells this process apart from a later one with the same id — the boot
 * id (`/proc/sys/kernel/random/boot_id`), the pid namespace
 * (`/proc/self/ns/pid`) and the process's start time in clock ticks since
 * boot (field 22 of `/proc/<pid>/stat`, proc(5)). A reader judges only runs
 * of its own host: a project on a shared folder may be run from another
 * machine, whose processes this one cannot see.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

export interface ProcessOwner {
  host: string;
  pid: number;
  /** Linux: the machine (`/etc/machine-id`): two machines may share a host name. */
  machine?: string;
  /** Linux: the boot the process ran in. */
  boot?: string;
  /** Linux: the pid namespace its pid is counted in. */
  pidns?: string;
  /** Linux: its start time, in clock ticks since boot (proc(5) `starttime`). */
  start?: string;
}

/** "gone": the process ended (or its pid now names another one); "unknown": it cannot be told from here. */
export type OwnerState = "alive" | "gone" | "unknown";

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/**
 * State and start time of a process from `/proc/<pid>/stat`. The command
 * name (field 2) is in parentheses and may hold spaces or parentheses: the
 * fields are counted after the last ")" (field 3, the state, comes first).
 */
export function parseProcStat(text: string): { state: string; start: string } | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const state = fields[0];
  const start = fields[22 - 3];
  return state && start && /^\d+$/.test(start) ? { state, start } : undefined;
}

function linuxIdentity(pid: number): Pick<ProcessOwner, "machine" | "boot" | "pidns" | "start"> {
  if (process.platform !== "linux") return {};
  const machine = readText("/etc/machine-id")?.trim();
  const boot = readText("/proc/sys/kernel/random/boot_id")?.trim();
  let pidns: string | undefined;
  try {
    pidns = readlinkSync("/proc/self/ns/pid");
  } catch {
    pidns = undefined;
  }
  const stat = readText(`/proc/${pid}/stat`);
  const start = stat === undefined ? undefined : parseProcStat(stat)?.start;
  return {
    ...(machine ? { machine } : {}),
    ...(boot ? { boot } : {}),
    ...(pidns ? { pidns } : {}),
    ...(start ? { start } : {}),
  };
}

let self: ProcessOwner | undefined;

/** This process, as a run it starts records its owner. */
export function currentProcess(): ProcessOwner {
  self ??= { host: hostname(), pid: process.pid, ...linuxIdentity(process.pid) };
  return self;
}

export interface LivenessProbe {
  /** The text of `/proc/<pid>/stat` (undefined: no such process, or no /proc). */
  procStat?: (pid: number) => string | undefined;
  /** `process.kill(pid, 0)`: throws ESRCH when no such process exists. */
  signal0?: (pid: number) => void;
}

/**
 * Whether `owner` still runs, as seen from `viewer` (default: this process).
 * Another host, another pid namespace, or an owner record this code cannot
 * read is "unknown": such a run is left as it is.
 */
export function ownerState(
  owner: unknown,
  viewer: ProcessOwner = currentProcess(),
  probe: LivenessProbe = {},
): OwnerState {
  if (!isOwner(owner) || owner.host !== viewer.host) return "unknown";
  if (owner.pid === viewer.pid && owner.start === viewer.start && owner.boot === viewer.boot) return "alive";
  const signal0 = () => {
    try {
      (probe.signal0 ?? ((pid) => process.kill(pid, 0)))(owner.pid);
      return "alive";
    } catch (e) {
      // EPERM: it exists but is another user's.
      return (e as NodeJS.ErrnoException).code === "ESRCH" ? "gone" : "alive";
    }
  };
  if (viewer.boot !== undefined && owner.boot !== undefined) {
    if (owner.boot !== viewer.boot) {
      // Rebooted since, on this very machine: no process of that boot runs any more. Another
      // machine of the same host name (a cloned VM on a shared folder) cannot be judged from here.
      return owner.machine !== undefined && owner.machine === viewer.machine ? "gone" : "unknown";
    }
    if (owner.pidns !== viewer.pidns) return "unknown";
    const stat = (probe.procStat ?? ((pid) => readText(`/proc/${pid}/stat`)))(owner.pid);
    // Unreadable (e.g. /proc mounted hidepid=2: another user's processes are hidden): ask the kernel.
    if (stat === undefined) return signal0();
    const parsed = parseProcStat(stat);
    if (!parsed) return "unknown";
    // A zombie (Z) or dead (X) process runs no more code; another start time is another process.
    if (parsed.state === "Z" || parsed.state === "X") return "gone";
    if (owner.start !== undefined && parsed.start !== owner.start) return "gone";
    return "alive";
  }
  // No /proc (macOS, Windows): the pid alone. A reused pid keeps the run "running" (the safe side).
  return signal0();
}

function isOwner(v: unknown): v is ProcessOwner {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  const optionalText = (k: string) => o[k] === undefined || typeof o[k] === "string";
  return (
    typeof o.host === "string" &&
    Number.isSafeInteger(o.pid) &&
    (o.pid as number) > 0 &&
    optionalText("machine") &&
    optionalText("boot") &&
    optionalText("pidns") &&
    optionalText("start")
  );
}
