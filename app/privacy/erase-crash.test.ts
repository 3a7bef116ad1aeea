import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { erasedState, pythonHash, storeState } from "./fixtures/erase-checks";
import { seedEraseProject } from "./fixtures/erase-project";

const ROOT = join(import.meta.dirname, "..", "..");
const CHILD = join(import.meta.dirname, "fixtures", "erase-child.ts");
const HASH = pythonHash(["123", "456"]);
const ERASE = ["--column", "customer_id", "--value", "123"];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DAGWOOD_FAULT: "", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => start(args, env).exit;

function plans(dir: string) {
  const folder = join(dir, ".dagwood", "privacy");
  return existsSync(folder)
    ? readdirSync(folder).map((f) => JSON.parse(readFileSync(join(folder, f), "utf8")))
    : [];
}

describe("an erase killed with SIGKILL", () => {
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-erase-crash-"));
    await seedEraseProject(dir, (v) => HASH[v]!);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is completed by running it again, after a kill in its first step", async () => {
    const killed = await run(["--project", dir, ...ERASE], { DAGWOOD_FAULT: "privacy:mid-erase" });
    expect(killed.signal).toBe("SIGKILL");
    const [plan] = plans(dir);
    expect(plan.finishedAt).toBeNull();
    expect(plan.sealed).toEqual(expect.any(String));
    expect(JSON.stringify(plan)).not.toContain('"123"');
    expect(plan.steps.filter((s: { done: boolean }) => s.done)).toEqual([]);
    // The first step (the log's oldest segment) was rewritten whole; nothing else was touched.
    const half = await storeState(dir);
    expect(half.segment).toEqual([2]);
    expect(half.log.map((e) => e[0])).toEqual([3, 4, 5, 6, 7]);
    expect(half.audits).toEqual([]);
    expect(half.leftovers).toEqual([]);

    // What a kill during a write leaves (a temporary file beside the log) goes with the re-run.
    writeFileSync(join(dir, ".dagwood", "serving", "churn", ".inference-log.jsonl.0a1b2c.tmp"), "{");
    // A later erase reports the unfinished one; running the same erase completes it.
    const other = await run(["--project", dir, "--column", "customer_id", "--value", "789", "--dry-run"]);
    expect(other.stderr).toContain("An erase of customer_id begun");
    const again = await run(["--project", dir, ...ERASE]);
    expect(again.stderr).toContain("An erase of customer_id begun");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Completed an erase of this subject begun");
    expect(await storeState(dir)).toEqual(erasedState(HASH["456"]!));
    expect(plans(dir)[0].finishedAt).not.toBeNull();
    expect(plans(dir)[0].sealed).toBeUndefined();
  });

  it("is completed by --resume after a kill at the held-out rows, auditing the version once", async () => {
    const killed = await run(["--project", dir, ...ERASE], { DAGWOOD_FAULT: "privacy:mid-erase:heldout" });
    expect(killed.signal).toBe("SIGKILL");
    // The held-out file was replaced and its version audited before the kill; the step is not marked done.
    const half = await storeState(dir);
    expect(half.heldout).toEqual([456, 789]);
    expect(half.audits).toEqual([{ model: "churn", version: 1 }]);
    expect(plans(dir)[0].steps.find((s: { store: string }) => s.store === "heldout").done).toBe(false);
    const resumed = await run(["--project", dir, "--resume"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain("Completed the erase of customer_id");
    expect(await storeState(dir)).toEqual(erasedState(HASH["456"]!));
    const nothingLeft = await run(["--project", dir, "--resume"]);
    expect(nothingLeft.stdout).toContain("No erase was left unfinished.");
  });

  it("run again after a kill, also erases the subject's rows that arrived since the plan", async () => {
    const killed = await run(["--project", dir, ...ERASE], { DAGWOOD_FAULT: "privacy:after-plan" });
    expect(killed.signal).toBe("SIGKILL");
    expect(plans(dir)[0].finishedAt).toBeNull();
    // Between the kill and the re-run another model's server logged a request of the subject.
    const churnLog = readFileSync(join(dir, ".dagwood", "serving", "churn", "inference-log.jsonl"), "utf8");
    const late = join(dir, ".dagwood", "serving", "late");
    mkdirSync(late, { recursive: true });
    writeFileSync(join(late, "inference-log.jsonl"), `${churnLog.split("\n")[0]}\n`);
    const again = await run(["--project", dir, ...ERASE]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Its rows found since were erased too");
    const state = await storeState(dir);
    expect({ ...state, audits: [] }).toEqual({ ...erasedState(HASH["456"]!), audits: [] });
    // Two erasures, two project entries: the plan begun, and the rows found after it.
    expect(state.audits.filter((a) => a.model === "*")).toHaveLength(2);
    const ids = readFileSync(join(late, "inference-log.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .flatMap((l) => (JSON.parse(l) as { inputs: { name: string; data: unknown[] }[] }).inputs)
      .filter((t) => t.name === "customer_id")
      .flatMap((t) => t.data);
    expect(ids).toEqual([456, 789]);
  });

  it("leaves nothing half-erased when killed from outside at any point", async () => {
    const { child, exit } = start(["--project", dir, ...ERASE]);
    // Kill as soon as the plan exists: the process is somewhere in its steps (or done, on a fast machine).
    const folder = join(dir, ".dagwood", "privacy");
    for (let i = 0; i < 2000 && !existsSync(folder) && child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGKILL");
    await exit;
    // Every file is whole, the old one or the new (storeState parses each log line and Parquet file).
    await storeState(dir);
    const again = await run(["--project", dir, ...ERASE]);
    expect(again.code).toBe(0);
    const state = await storeState(dir);
    // Whether the kill landed before the audit or after the finish, the end is the same (a finished
    // erase run again finds nothing more and adds one more project entry).
    expect({ ...state, audits: [] }).toEqual({ ...erasedState(HASH["456"]!), audits: [] });
    expect(state.audits.filter((a) => a.model === "churn")).toEqual([{ model: "churn", version: 1 }]);
  });
});
