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
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "../cli/args";
import { serverLockFile } from "../deploy/embedded";
import { SqliteMetadataStore } from "../store/metadata";
import {
  duck,
  erasedState,
  pythonHash,
  readLog,
  runCli,
  snapshot,
  sqliteRows,
  storeState,
} from "./fixtures/erase-checks";
import { seedEraseProject } from "./fixtures/erase-project";

const HASH = pythonHash(["123", "456"]);

describe("dagwood privacy erase", () => {
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-erase-"));
    await seedEraseProject(dir, (v) => HASH[v]!);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("plans in a dry run and changes nothing", async () => {
    const settings = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8"));
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({ ...settings, targets: { prod: { url: "https://serve.example:8000" } } }),
    );
    const before = snapshot(dir);
    const online = sqliteRows(dir);
    const r = await runCli([
      "--project",
      dir,
      "--column",
      "customer_id",
      "--value",
      "123",
      "--dry-run",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.dryRun).toBe(true);
    const found = Object.fromEntries(plan.steps.map((s: { id: string; found: number }) => [s.id, s.found]));
    expect(found).toEqual({
      "log:.dagwood/serving/churn/inference-log.1.jsonl": 1,
      "log:.dagwood/serving/churn/inference-log.jsonl": 3,
      "online:customer_stats": 1,
      "online:orders": 2,
      "offline:.dagwood/features/customer_stats/data.parquet": 1,
      "offline:.dagwood/features/customer_stats/pushed/20260102-a.parquet": 1,
      "heldout:churn:1": 2,
      "cache:t_aaa": 1,
    });
    expect(plan.notErased).toEqual([
      expect.objectContaining({
        store: "feature source",
        target: "data/customer_stats.parquet (view customer_stats)",
        found: 1,
      }),
      expect.objectContaining({ target: "table mine", found: 1 }),
      expect.objectContaining({
        store: "inference log on target",
        target: "prod (https://serve.example:8000)",
      }),
    ]);
    expect(plan.models).toEqual([
      { name: "churn", version: 1, why: ["held-out rows"] },
      { name: "churn", version: 2, why: ["dataset data/customers.csv"] },
    ]);
    expect(plan.valueHash).toBe(HASH["123"]);
    expect(JSON.stringify(plan)).not.toContain("sealed");
    expect(snapshot(dir)).toEqual(before);
    expect(sqliteRows(dir)).toEqual(online);
    expect(existsSync(join(dir, ".dagwood", "privacy"))).toBe(false);
    // The text form says what it would do.
    const text = await runCli(["--project", dir, "--column", "customer_id", "--value", "123", "--dry-run"]);
    expect(text.stdout).toContain("Would remove the subject (customer_id = 123)");
    expect(text.stdout).toContain("retrain to remove the subject's influence");
    expect(text.stdout).toContain("Dry run: nothing was changed");
  });

  it("removes only the subject's rows from every store, audits it and lists the models", async () => {
    const otherLog = join(dir, ".dagwood", "serving", "other", "inference-log.jsonl");
    const otherBytes = readFileSync(otherLog);
    const pushedOther = join(dir, ".dagwood", "features", "customer_stats", "pushed", "20260103-b.parquet");
    const pushedOtherBytes = readFileSync(pushedOther);
    const heldout2 = readFileSync(join(dir, ".dagwood", "registry", "churn", "2", "heldout.json"));
    const r = await runCli(["--project", dir, "--column", "customer_id", "--value", "123"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Erased 12 rows from 8 places");
    expect(r.stdout).toMatch(/churn v2 {2}\(dataset data\/customers\.csv\)/);
    const source = join(dir, "data", "customer_stats.parquet");
    expect(await duck(`SELECT count(*)::INT AS n FROM read_parquet('${source}')`)).toEqual([{ n: 1 }]);

    // The log: the row of 123 gone from the batch (every tensor), entries of 123 and its hash gone.
    const churn = join(dir, ".dagwood", "serving", "churn");
    const current = readLog(join(churn, "inference-log.jsonl"));
    expect(current.map((e) => e.seq)).toEqual([3, 6, 7]);
    expect(current[0]!.inputs).toEqual([
      { name: "customer_id", datatype: "INT64", shape: [2, 1], data: [456, 789] },
      { name: "tenure", datatype: "FP64", shape: [2, 1], data: [2, 3] },
    ]);
    expect(current[0]!.outputs[0]!.data).toEqual(["b", "c"]);
    expect(current[2]!.inputs[0]!.data).toEqual([HASH["456"]]);
    expect(readLog(join(churn, "inference-log.1.jsonl")).map((e) => e.seq)).toEqual([2]);
    expect(readFileSync(otherLog)).toEqual(otherBytes);
    expect(readdirSync(churn).filter((f) => f.startsWith("."))).toEqual([]);

    // The online store, read with SQLite directly.
    expect(sqliteRows(dir).map((r) => [r.view, r.key])).toEqual([
      ["customer_stats", "[456]"],
      ["customer_stats", "[789]"],
      ["orders", "[2]"],
    ]);

    // SQLite's secure delete: the erased rows' bytes are gone from the file, not just unlinked from the table.
    const raw = ["", "-wal"]
      .map((x) => join(dir, ".dagwood", `online.sqlite${x}`))
      .filter(existsSync)
      .map((f) => readFileSync(f).toString("latin1"))
      .join("");
    expect(raw).toContain('"amount":2.5');
    expect(raw).not.toContain('"amount":1.5');
    expect(raw).not.toContain('"amount":3.5');

    // Offline files, read with a DuckDB of our own.
    const stats = join(dir, ".dagwood", "features", "customer_stats");
    expect(
      await duck(
        `SELECT customer_id::INT AS id, spend FROM read_parquet('${join(stats, "data.parquet")}') ORDER BY 1`,
      ),
    ).toEqual([
      { id: 456, spend: 20 },
      { id: 789, spend: 30 },
    ]);
    expect(
      await duck(
        `SELECT customer_id::INT AS id FROM read_parquet('${join(stats, "pushed", "20260102-a.parquet")}')`,
      ),
    ).toEqual([{ id: 999 }]);
    expect(readFileSync(pushedOther)).toEqual(pushedOtherBytes);
    expect(readdirSync(join(stats, "pushed")).sort()).toEqual(["20260102-a.parquet", "20260103-b.parquet"]);

    // Held-out rows: rows 0 and 2 gone with their expected labels and probabilities; v2 untouched.
    const h1 = JSON.parse(
      readFileSync(join(dir, ".dagwood", "registry", "churn", "1", "heldout.json"), "utf8"),
    );
    expect(h1.rows).toBe(2);
    expect(h1.inputs[0]).toEqual({ name: "customer_id", datatype: "INT64", shape: [2, 1], data: [456, 789] });
    expect(h1.inputs[1].data).toEqual([2, 4]);
    expect(h1.expected).toEqual({ label: ["b", "d"], probabilities: [0.2, 0.8, 0.4, 0.6] });
    expect(readFileSync(join(dir, ".dagwood", "registry", "churn", "2", "heldout.json"))).toEqual(heldout2);

    // The workspace: t_aaa and its entry gone; the others kept; `mine` reported, not touched.
    const ws = join(dir, ".dagwood", "workspace.duckdb");
    expect(
      (
        await duck<{ t: string }>(
          `ATTACH '${ws}' AS w (READ_ONLY); SELECT table_name AS t FROM duckdb_tables() WHERE database_name = 'w' ORDER BY 1`,
        )
      ).map((r) => r.t),
    ).toEqual(["mine", "t_bbb", "t_ccc"]);
    const index = join(dir, ".dagwood", "workspace-index.duckdb");
    expect(
      (
        await duck<{ key: string }>(
          `ATTACH '${index}' AS i (READ_ONLY); SELECT key FROM i.dagwood_cache ORDER BY 1`,
        )
      ).map((r) => r.key),
    ).toEqual(["k2", "k3"]);

    // The audit: one project entry with the hash and counts, never the value; one for the version.
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      const project = store.registry.audit({ model: "*", actions: ["privacy.erased"] });
      expect(project).toHaveLength(1);
      const d = project[0]!.details as Record<string, unknown>;
      expect(d.column).toBe("customer_id");
      expect(d.valueHash).toBe(HASH["123"]);
      expect(d.stores).toEqual({
        log: { found: 4, removed: 4, places: 2 },
        online: { found: 3, removed: 3, places: 2 },
        offline: { found: 2, removed: 2, places: 2 },
        heldout: { found: 2, removed: 2, places: 1 },
        cache: { found: 1, removed: 1, places: 1 },
      });
      expect(JSON.stringify(d)).not.toMatch(/"123"|:123[,}]/);
      const version = store.registry.audit({ model: "churn", actions: ["privacy.erased"] });
      expect(version.map((e) => [e.version, e.details.rowsRemoved, e.details.rowsLeft])).toEqual([[1, 2, 2]]);
    } finally {
      store.close();
    }

    // The plan is finished, and no longer holds the value even sealed.
    const plans = readdirSync(join(dir, ".dagwood", "privacy"));
    expect(plans).toHaveLength(1);
    const plan = JSON.parse(readFileSync(join(dir, ".dagwood", "privacy", plans[0]!), "utf8"));
    expect(plan.finishedAt).not.toBeNull();
    expect(plan.sealed).toBeUndefined();
    expect(plan.steps.every((s: { done: boolean }) => s.done)).toBe(true);

    // Erasing again finds nothing to remove (still audited), and the models are still listed.
    const again = await runCli(["--project", dir, "--column", "customer_id", "--value", "123", "--json"]);
    expect(again.code).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.steps).toEqual([]);
    expect(second.models.map((m: { version: number }) => m.version)).toEqual([2]);
  });

  it("matches a value given as text against numbers and numbers against text", async () => {
    // "456" matches the INT64 456s and the BYTES hash of "456" alike.
    const r = await runCli([
      "--project",
      dir,
      "--column",
      "customer_id",
      "--value",
      "456",
      "--dry-run",
      "--json",
    ]);
    const found = Object.fromEntries(
      JSON.parse(r.stdout).steps.map((s: { id: string; found: number }) => [s.id, s.found]),
    );
    expect(found["log:.dagwood/serving/churn/inference-log.jsonl"]).toBe(3);
    expect(found["cache:t_aaa"]).toBe(1);
    expect(found["cache:t_bbb"]).toBe(1);
    expect(found["heldout:churn:2"]).toBe(1);
    // A number's other spellings are other values.
    const padded = await runCli(["--project", dir, "--column", "customer_id", "--value", "0456", "--json"]);
    expect(padded.code).toBe(0);
    expect(JSON.parse(padded.stdout).nothing).toBe(true);
  });

  it("refuses a column no store holds, and says when nothing held the value", async () => {
    const before = snapshot(dir);
    const missing = await runCli(["--project", dir, "--column", "customer_idd", "--value", "123"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no store holds a column customer_idd");
    expect(missing.stderr).toContain("nothing was removed");
    expect(snapshot(dir)).toEqual(before);

    const nobody = await runCli(["--project", dir, "--column", "customer_id", "--value", "31337"]);
    expect(nobody.code).toBe(0);
    expect(nobody.stdout).toContain("Nothing held 31337 in customer_id");
    const after = snapshot(dir);
    // Only the audit (metadata.sqlite) records the request.
    expect(Object.keys(after).filter((k) => after[k] !== before[k])).toEqual([".dagwood/metadata.sqlite"]);

    await expect(runCli(["--project", dir, "--value", "123"])).rejects.toThrow(UsageError);
    await expect(runCli(["--project", dir, "--column", "customer_id"])).rejects.toThrow(
      /--value is required/,
    );
    await expect(runCli(["--project", dir, "--resume", "--value", "1"])).rejects.toThrow(UsageError);
  });

  it("will not rewrite the log while the project's model server runs, and resumes once it stopped", async () => {
    const lock = serverLockFile(dir);
    mkdirSync(dirname(lock), { recursive: true });
    // This test's own process stands for the server: alive, so the lock is held.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, url: "http://127.0.0.1:9", id: "x" }));
    const log = readFileSync(join(dir, ".dagwood", "serving", "churn", "inference-log.jsonl"));
    const refused = await runCli(["--project", dir, "--column", "customer_id", "--value", "123"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`model server (pid ${process.pid}, http://127.0.0.1:9) is running`);
    expect(readFileSync(join(dir, ".dagwood", "serving", "churn", "inference-log.jsonl"))).toEqual(log);
    expect((await storeState(dir)).audits).toEqual([]);
    rmSync(lock);
    const resumed = await runCli(["--project", dir, "--resume"]);
    expect(resumed.code).toBe(0);
    expect(await storeState(dir)).toEqual(erasedState(HASH["456"]!));
  });

  it("makes nothing, not even the project's key, for a request it refuses", async () => {
    const empty = mkdtempSync(join(tmpdir(), "dagwood-erase-empty-"));
    try {
      writeFileSync(join(empty, "dagwood.json"), "{}");
      const r = await runCli(["--project", empty, "--column", "customer_id", "--value", "1"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("no store holds a column customer_id");
      expect(readdirSync(empty)).toEqual(["dagwood.json"]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
