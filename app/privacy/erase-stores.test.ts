/** The stores' erasure methods (each tested on its own), and erasure with Redis and a shared artifact location. */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openArtifactLocation } from "../artifacts/location";
import { ensureProjectVersionFiles, stageVersionFiles } from "../artifacts/version-files";
import { RedisOnlineStore } from "../features/online/redis";
import { SqliteOnlineStore } from "../features/online/sqlite";
import { startTestRedis, type TestRedis } from "../features/online/testing";
import { InferenceLog, rewriteLogFile } from "../serving/observability";
import { writeServedPrivacy } from "../serving/privacy";
import { SqliteMetadataStore } from "../store/metadata";
import { pythonHash, runCli } from "./fixtures/erase-checks";
import { seedEraseProject, TEST_KEY_HEX } from "./fixtures/erase-project";

const HASH = pythonHash(["123", "456"]);
const T = Date.UTC(2026, 0, 1);
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("rewriteLogFile", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-logrw-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps unchanged lines byte for byte, rewrites changed ones, drops removed ones, keeps a cut line", async () => {
    const file = join(dir, "inference-log.jsonl");
    // Spacing our JSON.stringify would not write: a kept line must keep it.
    const kept = '{"seq":1, "time":"2026-01-01T00:00:00.000Z","requestId":"a","inputs":[],"outputs":[]}';
    const cut = '{"seq":4,"time":"2026-01-01T00:00:03.000Z","requ';
    writeFileSync(
      file,
      `${kept}\n{"seq":2,"requestId":"b","inputs":[],"outputs":[]}\n{"seq":3,"requestId":"c","inputs":[],"outputs":[]}\n${cut}\n`,
    );
    const r = await rewriteLogFile(file, (e) =>
      e.seq === 2 ? null : e.seq === 3 ? { ...e, requestId: "C" } : e,
    );
    expect(r).toEqual({ entries: 3, changed: 1, removed: 1 });
    expect(readFileSync(file, "utf8")).toBe(
      `${kept}\n{"seq":3,"requestId":"C","inputs":[],"outputs":[]}\n${cut}\n`,
    );
  });

  it("leaves a file nothing changed in alone (the same inode)", async () => {
    const file = join(dir, "inference-log.jsonl");
    writeFileSync(file, '{"seq":1,"inputs":[],"outputs":[]}\n');
    const before = statSync(file).ino;
    expect(await rewriteLogFile(file, (e) => e)).toEqual({ entries: 1, changed: 0, removed: 0 });
    expect(statSync(file).ino).toBe(before);
  });
});

describe("SqliteOnlineStore erasure methods", () => {
  let dir: string;
  let store: SqliteOnlineStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-online-erase-"));
    store = new SqliteOnlineStore(join(dir, "online.sqlite"));
    await store.push("a", [
      { key: "[1]", eventTs: T, values: { c: 5 } },
      { key: "[2]", eventTs: T, values: { c: 6 } },
    ]);
    await store.push("b", [{ key: '["x"]', eventTs: T, values: { c: 5 } }]);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists views, finds rows by key or features, deletes only those", async () => {
    expect(await store.views()).toEqual(["a", "b"]);
    const seen: [string, string][] = [];
    const keys = await store.findRows("a", (key, vals) => {
      seen.push([key, vals]);
      return JSON.parse(vals).c === 5;
    });
    expect(seen).toEqual([
      ["[1]", '{"c":5}'],
      ["[2]", '{"c":6}'],
    ]);
    expect(keys).toEqual(["[1]"]);
    expect(await store.deleteRows("a", [...keys, "[9]"])).toBe(1);
    expect(await store.deleteRows("a", keys)).toBe(0);
    expect(await store.get("a", ["[1]", "[2]"], ["c"])).toEqual([null, { eventTs: T, values: { c: 6 } }]);
    expect(await store.get("b", ['["x"]'], ["c"])).toEqual([{ eventTs: T, values: { c: 5 } }]);
  });
});

describe("Redis online store erasure", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis({ appendOnly: false });
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const cli = (...args: string[]) =>
    execFileSync("redis-cli", ["-p", String(redis.port), ...args], { encoding: "utf8" }).trim();

  it("finds and deletes rows in the current generation, in a pushed-only view too", async () => {
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: "t1" });
    try {
      await store.materialize(
        "m",
        [
          { key: "[1]", eventTs: T, values: { c: 5 } },
          { key: "[2]", eventTs: T, values: { c: 6 } },
        ],
        { view: "m", version: 1, start: "", end: "" },
      );
      await store.push("p", [
        { key: "[1]", eventTs: T, values: { c: 5 } },
        { key: "[3]", eventTs: T, values: { c: 5 } },
      ]);
      expect(await store.views()).toEqual(["m", "p"]);
      const five = (_k: string, vals: string) => JSON.parse(vals).c === 5;
      expect(await store.findRows("m", five)).toEqual(["[1]"]);
      expect((await store.findRows("p", five)).sort()).toEqual(["[1]", "[3]"]);
      expect(await store.deleteRows("m", ["[1]"])).toBe(1);
      expect(await store.deleteRows("p", ["[3]"])).toBe(1);
      const generation = cli("GET", "t1:gen:m");
      expect(cli("HKEYS", `t1:view:m:${generation}`)).toBe("[2]");
      expect(cli("HKEYS", "t1:view:p")).toBe("[1]");
    } finally {
      await store.close();
    }
  });

  it("dagwood privacy erase removes the subject from a Redis online store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-erase-redis-"));
    try {
      await seedEraseProject(dir, (v) => HASH[v]!, { redisUrl: redis.url });
      const store = new RedisOnlineStore({ url: redis.url, keyPrefix: "erase" });
      await store.materialize(
        "customer_stats",
        [
          { key: "[123]", eventTs: T, values: { spend: 1 } },
          { key: "[456]", eventTs: T, values: { spend: 2 } },
        ],
        { view: "customer_stats", version: 1, start: "", end: "" },
      );
      await store.push("orders", [
        { key: "[1]", eventTs: T, values: { customer_id: 123, amount: 1 } },
        { key: "[2]", eventTs: T, values: { customer_id: 456, amount: 2 } },
      ]);
      await store.close();
      const before = cli("HGETALL", "erase:view:orders");
      const r = await runCli(["--project", dir, "--column", "customer_id", "--value", "123", "--json"]);
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout);
      expect(plan.stores.online).toEqual({ found: 2, removed: 2, places: 2 });
      const generation = cli("GET", "erase:gen:customer_stats");
      expect(cli("HKEYS", `erase:view:customer_stats:${generation}`)).toBe("[456]");
      expect(cli("HGETALL", "erase:view:orders")).toBe(before.split("\n").slice(2).join("\n"));
      expect(cli("HKEYS", "erase:view:orders")).toBe("[2]");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("held-out rows kept in a shared artifact location", () => {
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-erase-shared-"));
    await seedEraseProject(dir, (v) => HASH[v]!);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("uploads the erased file and records its sha256 with the version's audit entry, so readers keep it", async () => {
    const shared = join(dir, "shared");
    mkdirSync(shared);
    const settings = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8"));
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({ ...settings, artifacts: { kind: "folder", path: shared } }),
    );
    const location = openArtifactLocation({ kind: "folder", path: shared }, dir);
    const files = {
      native: join(dir, "out", "model.json"),
      onnx: join(dir, "out", "model.onnx"),
      heldout: join(dir, "out", "heldout1.json"),
    };
    const artifacts = await stageVersionFiles(location, files);
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    const before = store.registry.getVersion("churn", 1)!;
    const { version } = store.registry.registerVersion({
      name: "shared",
      runId: "run1",
      nodeId: "train",
      modelFingerprint: "s1",
      estimator: "gbdt",
      task: "classification",
      signature: { inputs: [], outputs: [] },
      metrics: {},
      parity: null,
      files,
      artifacts,
      lineage: { ...before.lineage, datasets: [] },
      actor: "tester",
    });
    store.close();
    const oldSha = artifacts.files["heldout.json"]!.sha256;

    const r = await runCli(["--project", dir, "--column", "customer_id", "--value", "123"]);
    expect(r.code).toBe(0);
    // The object first uploaded is left in the location, and the report says so.
    expect(r.stdout).toContain(`shared location folder ${shared} ${artifacts.files["heldout.json"]!.key}`);
    const local = join(dir, ".dagwood", "registry", "shared", String(version.version), "heldout.json");
    expect(JSON.parse(readFileSync(local, "utf8")).inputs[0].data).toEqual([456, 789]);
    const reopened = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      const v = reopened.registry.getVersion("shared", version.version)!;
      const stored = v.artifacts!.files["heldout.json"]!;
      expect(stored.sha256).toBe(sha256(local));
      expect(stored.sha256).not.toBe(oldSha);
      // The location holds the erased bytes under their key: another machine fetches those.
      expect(sha256(join(shared, stored.key))).toBe(stored.sha256);
      // A reader of the version finds its files as recorded: nothing is fetched back over the erasure.
      expect(await ensureProjectVersionFiles(dir, v)).toEqual([]);
      const [entry] = reopened.registry.audit({ model: "shared", actions: ["privacy.erased"] });
      expect(entry!.details).toMatchObject({ sha256: stored.sha256, previousSha256: oldSha, rowsRemoved: 2 });
    } finally {
      reopened.close();
    }
  });
});

describe("the registry's project audit entries and recordErasedFile", () => {
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-erase-registry-"));
    await seedEraseProject(dir, (v) => HASH[v]!);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("takes model * for entries about the project, and still refuses a bad model name", () => {
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      const e = store.registry.appendAudit({
        actor: "a",
        action: "privacy.erased",
        model: "*",
        version: null,
        details: { n: 1 },
      });
      expect(store.registry.audit({ model: "*" }).map((x) => x.id)).toEqual([e.id]);
      expect(() =>
        store.registry.appendAudit({
          actor: "a",
          action: "privacy.erased",
          model: "a b",
          version: null,
          details: {},
        }),
      ).toThrow(/Invalid model name/);
      expect(() =>
        store.registry.recordErasedFile("churn", 9, "heldout.json", null, { actor: null, details: {} }),
      ).toThrow(/has no version 9/);
      // A version without a manifest: only the audit entry.
      const entry = store.registry.recordErasedFile("churn", 1, "heldout.json", null, {
        actor: "a",
        details: { rowsRemoved: 1 },
      });
      expect(entry).toMatchObject({ action: "privacy.erased", model: "churn", version: 1 });
      expect(store.registry.getVersion("churn", 1)!.artifacts).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe("erasure of entries the inference log's hash policy wrote", () => {
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-erase-hashed-"));
    await seedEraseProject(dir, (v) => HASH[v]!);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the subject's hashed rows (numbers hashed by their text) and keeps the entry's privacy record", async () => {
    const repository = join(dir, ".dagwood", "serving");
    const modelDir = join(repository, "hashed");
    mkdirSync(modelDir);
    // The server's own path: the policy a deploy leaves in privacy.json, applied by the log as it adds.
    await writeServedPrivacy(modelDir, {
      policy: { tagged: "hash" },
      key: TEST_KEY_HEX,
      tagged: { "1": ["customer_id"] },
    });
    const log = new InferenceLog({ repository });
    await log.init();
    log.add({
      time: new Date(T).toISOString(),
      requestId: "h1",
      model: "hashed",
      version: 1,
      role: "primary",
      latencyMs: 1,
      inputs: [
        { name: "customer_id", datatype: "INT64", shape: [3, 1], data: [123, 456, 123] },
        { name: "tenure", datatype: "FP64", shape: [3, 1], data: [1, 2, 3] },
      ],
      outputs: [{ name: "p", datatype: "FP64", shape: [3], data: [0.1, 0.2, 0.3] }],
    });
    await log.close();
    const r = await runCli(["--project", dir, "--column", "customer_id", "--value", "123", "--json"]);
    expect(r.code).toBe(0);
    const step = JSON.parse(r.stdout).steps.find((s: { id: string }) => s.id.includes("/hashed/"));
    expect(step).toMatchObject({ found: 2, removed: 2 });
    const [entry] = readFileSync(join(modelDir, "inference-log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // Python's hmac of "456": the one row left, its other tensors cut alike.
    expect(entry.inputs).toEqual([
      { name: "customer_id", datatype: "BYTES", shape: [1, 1], data: [HASH["456"]] },
      { name: "tenure", datatype: "FP64", shape: [1, 1], data: [2] },
    ]);
    expect(entry.outputs).toEqual([{ name: "p", datatype: "FP64", shape: [1], data: [0.2] }]);
    expect(entry.privacy).toEqual({ hashed: ["customer_id"] });
  });
});
