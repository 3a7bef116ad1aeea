/**
 * `dagwood privacy policy` (show and set in dagwood.json, comments kept,
 * audited) and `dagwood privacy retention` (the local log's older entries
 * deleted now, with a dry run), with their bad inputs.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerTestVersion } from "../deploy/testing";
import { SqliteMetadataStore } from "../store/metadata";
import { runDagwood } from "./testing";

const DAY = 86_400_000;
let dir: string;

const SETTINGS = `{
  // the team's project
  "datasets": {},
  "privacy": {
    "inferenceLog": { "tagged": "hash" } // hashed by default
  }
}
`;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-privlog-"));
  writeFileSync(join(dir, "dagwood.json"), SETTINGS);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function audit() {
  const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
  try {
    return store.registry.audit({ actions: ["privacy.policy"] });
  } finally {
    store.close();
  }
}

/** A log file of entries at these times (epoch ms), as the server writes them. */
function writeLog(model: string, file: string, times: number[], firstSeq = 1) {
  const folder = join(dir, ".dagwood", "serving", model);
  mkdirSync(folder, { recursive: true });
  const lines = times.map(
    (t, i) =>
      `${JSON.stringify({ seq: firstSeq + i, time: new Date(t).toISOString(), requestId: `r${firstSeq + i}`, model, version: 1, role: "primary", latencyMs: 1, inputs: [], outputs: [] })}\n`,
  );
  writeFileSync(join(folder, file), lines.join(""));
}

describe("dagwood privacy policy", () => {
  it("shows the default, sets a model's override and the default in place (comments kept), audited", async () => {
    const shown = await runDagwood("privacy", "policy", "--project", dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("Default (privacy.inferenceLog): tagged inputs hashed");

    const set = await runDagwood(
      "privacy",
      "policy",
      "churn",
      "--tagged",
      "drop",
      "--retention-days",
      "30",
      "--project",
      dir,
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/model churn: \(the default\) → tagged inputs dropped · kept 30 days/);
    expect(set.stdout).toMatch(/next deploy of churn/);
    const text = readFileSync(join(dir, "dagwood.json"), "utf8");
    expect(text).toContain("// the team's project");
    expect(text).toContain("// hashed by default");
    const json = JSON.parse(text.replace(/\/\/.*$/gm, ""));
    expect(json.privacy.models.churn).toEqual({ tagged: "drop", retentionDays: 30 });
    expect(json.privacy.inferenceLog).toEqual({ tagged: "hash" });

    const def = await runDagwood("privacy", "policy", "--retention-days", "14", "--project", dir);
    expect(def.code, def.stderr).toBe(0);
    const after = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8").replace(/\/\/.*$/gm, ""));
    expect(after.privacy.inferenceLog).toEqual({ tagged: "hash", retentionDays: 14 });
    expect(after.privacy.models.churn).toEqual({ tagged: "drop", retentionDays: 30 });

    const entries = audit();
    expect(entries).toHaveLength(2);
    const byModel = Object.fromEntries(entries.map((e) => [e.model, e]));
    expect(byModel.churn!.details).toEqual({
      scope: "model",
      before: null,
      after: { tagged: "drop", retentionDays: 30 },
    });
    expect(byModel["*"]!.details).toEqual({
      scope: "default",
      before: { tagged: "hash" },
      after: { tagged: "hash", retentionDays: 14 },
    });

    // The same again changes nothing and audits nothing; off removes the retention.
    const again = await runDagwood("privacy", "policy", "churn", "--tagged", "drop", "--project", dir);
    expect(again.stdout).toContain("Nothing changed.");
    expect(audit()).toHaveLength(2);
    await runDagwood("privacy", "policy", "churn", "--retention-days", "off", "--project", dir);
    const off = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8").replace(/\/\/.*$/gm, ""));
    expect(off.privacy.models.churn).toEqual({ tagged: "drop" });

    const json2 = await runDagwood("privacy", "policy", "--json", "--project", dir);
    expect(JSON.parse(json2.stdout).models[0]).toMatchObject({ model: "churn", override: true });
  });

  it("lists each registered model with what its latest version's log keeps", async () => {
    mkdirSync(join(dir, ".dagwood"));
    const metadata = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      const tag = { tag: "pii", origin: { dataset: "customers", column: "email" }, via: [] };
      await registerTestVersion(
        { metadata, registry: metadata.registry },
        { name: "churn", personalData: [{ input: "color", tags: [tag] }] },
      );
      await registerTestVersion({ metadata, registry: metadata.registry }, { name: "plain" });
    } finally {
      metadata.close();
    }
    await runDagwood("privacy", "policy", "churn", "--tagged", "clear", "--project", dir);
    const shown = await runDagwood("privacy", "policy", "--project", dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/churn\s+own\s+personal inputs: color logged IN CLEAR/);
    expect(shown.stdout).toMatch(/plain\s+default\s+no personal inputs/);
    expect(shown.stdout).toContain("Warning: a policy of clear logs personal inputs as sent.");
  });

  it("warns plainly about clear", async () => {
    const r = await runDagwood("privacy", "policy", "m", "--tagged", "clear", "--project", dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Warning: personal inputs will be logged as sent.");
  });

  it("refuses bad values: a retention of 0 or negative, an unknown action, an unknown policy in dagwood.json", async () => {
    for (const days of ["0", "-3", "1.5", "soon"]) {
      const r = await runDagwood("privacy", "policy", `--retention-days=${days}`, "--project", dir);
      expect(r.code, days).toBe(2);
      expect(r.stderr).toMatch(/--retention-days must be/);
    }
    const bad = await runDagwood("privacy", "policy", "--tagged", "scramble", "--project", dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--tagged must be hash, drop or clear, not "scramble"');
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toBe(SETTINGS);

    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({
        privacy: { inferenceLog: { tagged: "scramble" }, models: { m: { retentionDays: 0 } } },
      }),
    );
    const broken = await runDagwood("privacy", "policy", "--project", dir);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("privacy.inferenceLog.tagged");
    expect(broken.stderr).toContain("privacy.models.m.retentionDays");
    const retention = await runDagwood("privacy", "retention", "--project", dir);
    expect(retention.code).toBe(2);
    expect(retention.stderr).toContain("privacy.inferenceLog.tagged");
  });
});

describe("dagwood privacy retention", () => {
  it("deletes entries older than each model's retention, prints what went, and a dry run changes nothing", async () => {
    await runDagwood("privacy", "policy", "churn", "--retention-days", "30", "--project", dir);
    const now = Date.now();
    // A segment all older than 30 days, and the current file with 2 older and 3 newer entries.
    writeLog("churn", "inference-log.1.jsonl", [now - 60 * DAY, now - 50 * DAY], 1);
    writeLog(
      "churn",
      "inference-log.jsonl",
      [now - 40 * DAY, now - 31 * DAY, now - 29 * DAY, now - DAY, now],
      3,
    );
    writeLog("plain", "inference-log.jsonl", [now - 400 * DAY], 1);
    const before = readFileSync(join(dir, ".dagwood", "serving", "churn", "inference-log.jsonl"), "utf8");

    const dry = await runDagwood("privacy", "retention", "--dry-run", "--project", dir);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/churn\s+30 days\s+4 entries/);
    expect(dry.stdout).toMatch(/plain\s+none set/);
    expect(dry.stdout).toContain("Dry run: nothing was changed; 4 entries are past their retention.");
    expect(readFileSync(join(dir, ".dagwood", "serving", "churn", "inference-log.jsonl"), "utf8")).toBe(
      before,
    );
    expect(existsSync(join(dir, ".dagwood", "serving", "churn", "inference-log.1.jsonl"))).toBe(true);

    const run = await runDagwood("privacy", "retention", "--json", "--project", dir);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const churn = report.models.find((m: { model: string }) => m.model === "churn");
    expect(churn).toMatchObject({
      retentionDays: 30,
      entries: 4,
      deletedFiles: ["inference-log.1.jsonl"],
      rewrittenFiles: ["inference-log.jsonl"],
    });
    expect(existsSync(join(dir, ".dagwood", "serving", "churn", "inference-log.1.jsonl"))).toBe(false);
    const kept = readFileSync(join(dir, ".dagwood", "serving", "churn", "inference-log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).seq);
    expect(kept).toEqual([5, 6, 7]);
    // The model without a retention keeps its entries.
    expect(readFileSync(join(dir, ".dagwood", "serving", "plain", "inference-log.jsonl"), "utf8")).toContain(
      '"seq":1',
    );
    const second = await runDagwood("privacy", "retention", "--model", "churn", "--project", dir);
    expect(second.stdout).toContain("Removed 0 entries past their retention.");
  });

  it("refuses while the project's server runs, and names an unknown model", async () => {
    writeLog("churn", "inference-log.jsonl", [Date.now()], 1);
    const unknown = await runDagwood("privacy", "retention", "--model", "nope", "--project", dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no model "nope"; it has churn');
    writeFileSync(join(dir, ".dagwood", "serving", ".lock"), JSON.stringify({ pid: process.pid, url: null }));
    const busy = await runDagwood("privacy", "retention", "--project", dir);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain("model server is running");
    const dry = await runDagwood("privacy", "retention", "--dry-run", "--project", dir);
    expect(dry.code).toBe(0);
  });
});
