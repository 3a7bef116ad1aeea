/**
 * The inference log's policy as values (what an entry keeps, how a policy
 * reads) and retention on a model's log folder, including a retention
 * killed (SIGKILL) in the middle of rewriting a file: the file is then the
 * old one or the new one, whole, and the next run completes the work.
 */
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
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
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  applyLogPolicy,
  applyRetention,
  checkLogPolicy,
  describeLogPolicy,
  RETENTION_FILE,
  retentionCutoff,
  taggedInputsOf,
} from "./log-policy";

const ROOT = resolve(import.meta.dirname, "..", "..");
const DAY = 86_400_000;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "dagwood-logpolicy-"));
  dirs.push(d);
  return d;
}

describe("what an entry keeps", () => {
  const key = randomBytes(32);
  const inputs = [
    { name: "email", datatype: "BYTES", shape: [4, 1], data: ["a@x.org", "", null, "a@x.org"] },
    { name: "age", datatype: "INT64", shape: [4, 1], data: [41, 7, 41, null] },
    { name: "x", datatype: "FP64", shape: [4, 1], data: [1, 2, 3, 4] },
  ];

  it("hashes tagged inputs (numbers as their text; '' and null kept), and says which", () => {
    const out = applyLogPolicy(inputs, new Set(["email", "age"]), "hash", key);
    const h = (v: string) => `hmac:${createHmac("sha256", key).update(v).digest("hex").slice(0, 32)}`;
    expect(out.inputs[0]).toEqual({ ...inputs[0], data: [h("a@x.org"), "", null, h("a@x.org")] });
    expect(out.inputs[1]).toEqual({
      ...inputs[1],
      datatype: "BYTES",
      data: [h("41"), h("7"), h("41"), null],
    });
    expect(out.inputs[2]).toBe(inputs[2]);
    expect(out.privacy).toEqual({ hashed: ["email", "age"] });
  });

  it("drops or keeps them, and leaves an entry without tagged inputs untouched", () => {
    const dropped = applyLogPolicy(inputs, new Set(["email"]), "drop", undefined);
    expect(dropped.inputs.map((t) => t.name)).toEqual(["age", "x"]);
    expect(dropped.privacy).toEqual({ dropped: ["email"] });
    const clear = applyLogPolicy(inputs, new Set(["email"]), "clear", undefined);
    expect(clear.inputs).toEqual(inputs);
    expect(clear.privacy).toEqual({ clear: ["email"] });
    const none = applyLogPolicy(inputs, new Set(["phone"]), "hash", key);
    expect(none.privacy).toBeUndefined();
    expect(none.inputs).toEqual(inputs);
    expect(() => applyLogPolicy(inputs, new Set(["email"]), "hash", undefined)).toThrow(/privacy key/);
  });

  it("reads the tagged inputs from a version's lineage, and says a policy in one line", () => {
    const tag = { tag: "pii", origin: { dataset: "c", column: "email" }, via: [] };
    expect(taggedInputsOf(undefined)).toEqual([]);
    expect(taggedInputsOf({ personalData: [] })).toEqual([]);
    expect(
      taggedInputsOf({
        personalData: [
          { input: "email_domain", tags: [tag] },
          { input: "age", tags: [tag] },
        ],
      }),
    ).toEqual(["age", "email_domain"]);
    expect(describeLogPolicy({ tagged: "hash", retentionDays: 30 }, ["email_domain"])).toBe(
      "personal inputs: email_domain hashed · kept 30 days",
    );
    expect(describeLogPolicy({ tagged: "drop", retentionDays: 1 }, ["a", "b"])).toBe(
      "personal inputs: a, b dropped · kept 1 day",
    );
    expect(describeLogPolicy({ tagged: "clear" }, [])).toBe(
      "no personal inputs · kept until the log's size budget deletes them",
    );
    expect(describeLogPolicy({ tagged: "clear" }, ["email"])).toMatch(/email logged IN CLEAR/);
  });

  it("refuses a policy that is not one, naming the key", () => {
    expect(() => checkLogPolicy({ tagged: "scramble" }, "privacy.models.m")).toThrow(
      /privacy\.models\.m\.tagged: .*one of hash, drop, clear/,
    );
    expect(() => checkLogPolicy({ retentionDays: 0 }, "p")).toThrow(/p\.retentionDays/);
    expect(() => checkLogPolicy({ retentionDays: 2.5 }, "p")).toThrow(/p\.retentionDays/);
    expect(() => checkLogPolicy({ tagged: "hash", extra: 1 }, "p")).toThrow(/p/);
    expect(checkLogPolicy({}, "p")).toEqual({ tagged: "hash" });
    expect(() => retentionCutoff(0, Date.now())).toThrow(/from 1/);
    expect(() => retentionCutoff(-1, Date.now())).toThrow(/from 1/);
  });
});

/** Lines as the server writes them, one per time. */
function lines(times: number[], firstSeq: number, pad = 0): string {
  return times
    .map(
      (t, i) =>
        `${JSON.stringify({ seq: firstSeq + i, time: new Date(t).toISOString(), requestId: `r${firstSeq + i}`, inputs: [{ name: "p", data: ["x".repeat(pad)] }] })}\n`,
    )
    .join("");
}

describe("retention on a model's log folder", () => {
  it("keeps entries after the cutoff, counts what went, and records the highest seq removed", async () => {
    const dir = tempDir();
    const now = Date.parse("2026-03-01T00:00:00Z");
    writeFileSync(join(dir, "inference-log.3.jsonl"), lines([now - 9 * DAY, now - 8 * DAY], 1));
    writeFileSync(join(dir, "inference-log.4.jsonl"), lines([now - 8 * DAY, now - 2 * DAY], 3));
    writeFileSync(join(dir, "inference-log.jsonl"), lines([now - DAY, now], 5));
    const cutoff = retentionCutoff(7, now);
    const dry = await applyRetention(dir, cutoff, { dryRun: true });
    expect(dry).toMatchObject({
      entries: 3,
      deletedFiles: ["inference-log.3.jsonl"],
      rewrittenFiles: ["inference-log.4.jsonl"],
    });
    expect(existsSync(join(dir, "inference-log.3.jsonl"))).toBe(true);
    const done = await applyRetention(dir, cutoff);
    expect(done).toEqual(dry);
    expect(readdirSync(dir).sort()).toEqual(
      [RETENTION_FILE, "inference-log.4.jsonl", "inference-log.jsonl"].sort(),
    );
    expect(readFileSync(join(dir, "inference-log.4.jsonl"), "utf8")).toBe(lines([now - 2 * DAY], 4));
    expect(readFileSync(join(dir, "inference-log.jsonl"), "utf8")).toBe(lines([now - DAY, now], 5));
    expect(JSON.parse(readFileSync(join(dir, RETENTION_FILE), "utf8"))).toMatchObject({
      entries: 3,
      throughSeq: 3,
    });
    // Again: nothing is left to remove.
    expect((await applyRetention(dir, cutoff)).entries).toBe(0);
  });

  it("a retention killed mid-rewrite leaves the old file or the new one, whole; running it again completes it", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "m"));
    const model = join(dir, "m");
    const now = Date.now();
    // ~60 MB: 150,000 entries, the older third past the cutoff.
    const n = 150_000;
    const times = Array.from({ length: n }, (_, i) => now - 30 * DAY + i * ((29 * DAY) / n));
    const original = lines(times, 1, 360);
    writeFileSync(join(model, "inference-log.jsonl"), original);
    const cutoff = retentionCutoff(20, now);
    const expected = lines(
      times.filter((t) => t > cutoff),
      times.findIndex((t) => t > cutoff) + 1,
      360,
    );
    const script = `import(${JSON.stringify(join(ROOT, "app/privacy/log-policy.ts"))}).then((m) => m.applyRetention(${JSON.stringify(model)}, ${cutoff}))`;
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT, stdio: "ignore" });
    const exited = new Promise<void>((done) => child.on("exit", () => done()));
    // Kill it as soon as its temp file exists (the rewrite under way).
    let caught = false;
    for (let i = 0; i < 3000 && child.exitCode === null; i++) {
      if (readdirSync(model).some((f) => f.endsWith(".tmp"))) {
        child.kill("SIGKILL");
        caught = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await exited;
    const after = readFileSync(join(model, "inference-log.jsonl"), "utf8");
    expect(after === original || after === expected).toBe(true);
    if (caught) expect(after).toBe(original);
    // The next run removes the litter and completes the work.
    const again = await applyRetention(model, cutoff);
    expect(readFileSync(join(model, "inference-log.jsonl"), "utf8")).toBe(expected);
    expect(readdirSync(model).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    if (caught) expect(again.entries).toBe(n - expected.split("\n").length + 1);
    expect(caught, "the child was killed during its rewrite").toBe(true);
  }, 60_000);
});
