/**
 * monitoringReport end to end over a real project store: a registered
 * version with its reference profile and metrics, a served model's log and
 * feedback in the project's serving folder (as `dagwood serve` writes them),
 * read through the Api function and through `dagwood monitor report`.
 */

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openArtifactLocation } from "../../artifacts/location";
import { shareTestVersion } from "../../artifacts/testing";
import { startDagwood } from "../../cli/testing";
import { SqlSession } from "../../data/sql";
import { servingRepository } from "../../deploy/embedded";
import { buildModelReferenceProfile, writeReferenceProfile } from "../../monitoring/reference";
import {
  testVersionInput,
  writeServedLog,
  writeStepReferenceProfile,
  writeTestModelFiles,
} from "../../monitoring/testing";
import { createTempStore, SqliteMetadataStore } from "../../store/metadata";
import { MonitoringReport } from "../../values/monitoring";
import { ApiError, parseApiArgs } from "../api";
import { driftDistributionFor, monitoringReportFor } from "./monitoring";

const START = Date.parse("2026-12-06T00:00:00Z");
let temp: ReturnType<typeof createTempStore>;

/** 60 one-row requests a minute apart; x = i mod 10, doubled from minute 30; the model says "high" for x ≥ 5. */
const entries = Array.from({ length: 60 }, (_, i) => {
  const x = i < 30 ? i % 10 : (i % 10) * 2;
  return {
    seq: i + 1,
    time: new Date(START + i * 60e3 + 1000).toISOString(),
    requestId: `r${i}`,
    model: "m",
    version: 1,
    role: "primary",
    latencyMs: 1,
    inputs: [{ name: "x", datatype: "FP64", shape: [1, 1], data: [x] }],
    outputs: [
      { name: "label", datatype: "BYTES", shape: [1], data: [x >= 5 ? "high" : "low"] },
      // Probability 0.8 for its answer, in the model's class order (high, low).
      { name: "probabilities", datatype: "FP64", shape: [1, 2], data: x >= 5 ? [0.8, 0.2] : [0.2, 0.8] },
    ],
  };
});

beforeAll(async () => {
  temp = createTempStore();
  const { dir, store } = temp;
  // The version: trained on x = 0…9 (ten times each), its predictions "high" from 5; accuracy 1 at registration.
  mkdirSync(join(dir, "out"));
  await writeStepReferenceProfile(dir, join(dir, "out"));
  const files = writeTestModelFiles(join(dir, "out"), { classes: ["high", "low"] }, "onnx-bytes");
  const register = (name: string, withProfile: boolean) =>
    store.registry.registerVersion(
      testVersionInput({
        name,
        metrics: { accuracy: 1, f1_macro: 1, roc_auc: 1 },
        files: withProfile ? files : { native: files.native, onnx: files.onnx },
      }),
    );
  register("m", true);
  register("old", false);
  // "wide": x over 0…24.75 in quarters (100 distinct values, so binned on Sturges edges), and a colour the
  // served model is never sent; its profile in out/wide.
  const instance2 = await DuckDBInstance.create(":memory:");
  const sql2 = new SqlSession(await instance2.connect());
  await sql2.run(
    "CREATE TABLE train AS SELECT (range / 4)::DOUBLE AS x, CASE WHEN range % 4 = 0 THEN 'red' ELSE 'blue' END AS colour, 'c' || (range % 40) AS code FROM range(100)",
  );
  const wideProfile = await buildModelReferenceProfile(
    sql2,
    {
      name: "train",
      columns: [
        { name: "x", type: "DOUBLE" },
        { name: "colour", type: "VARCHAR" },
        { name: "code", type: "VARCHAR" },
      ],
    },
    { target: null },
  );
  sql2.connection.closeSync();
  instance2.closeSync();
  mkdirSync(join(dir, "out", "wide"));
  await writeReferenceProfile(dir, join(dir, "out", "wide"), wideProfile);
  Object.assign(files, { profile: join(dir, "out", "wide", "reference-profile.json") });
  register("wide", true);
  // The served model's log and the feedback it received, as the server writes them; one label for an id never logged.
  const feedback = entries.map((e, i) => ({
    id: e.requestId,
    label: (e.inputs[0]!.data[0] as number) >= 6 ? "high" : "low",
    seq: i + 1,
    time: new Date(START + 3600e3).toISOString(),
  }));
  feedback.push({ id: "ghost", label: "low", seq: 61, time: new Date(START + 3600e3).toISOString() });
  writeServedLog(dir, "m", entries, feedback);
  writeFileSync(
    join(dir, "dagwood.json"),
    JSON.stringify({ targets: { tri: { url: "http://127.0.0.1:9", kind: "triton" } } }),
  );
});
afterAll(() => temp?.cleanup());

const report = (args: Record<string, unknown>) =>
  monitoringReportFor(
    { dir: temp.dir, metadata: temp.store },
    parseApiArgs("monitoringReport", { target: "local", model: "m", window: "30m", minRows: 10, ...args }),
  );

describe("monitoringReport", () => {
  it("reads the log and feedback of the local target against the champion's profile and metrics", async () => {
    const r = await report({});
    expect(MonitoringReport.parse(r)).toEqual(r);
    expect([r.model, r.version, r.task]).toEqual(["m", 1, "binary"]);
    expect(r.rows).toEqual({ reference: 100, current: 60 });
    // x and the model's answer (the log's `label`, the profile's `prediction`) are tested.
    expect(r.columns).toEqual(["x", "prediction"]);
    expect(r.windows.map((w) => [w.rows, w.drift.x!.drifted])).toEqual([
      [30, false],
      [30, true],
    ]);
    expect(r.windows[0]!.drift.prediction!.tested).toBe(true);
    expect(r.windows[0]!.prediction).toEqual({ kind: "classes", rows: 30, shares: { high: 0.5, low: 0.5 } });
    // The model errs at x = 5 (truth "high" from 6): three of the first 30 rows; none after (x even).
    expect(r.windows[0]!.performance!.accuracy).toMatchObject({ value: 0.9, registered: 1, breached: true });
    expect(r.windows[1]!.performance!.accuracy).toMatchObject({ value: 1, breached: false });
    // Log loss from the logged probabilities, named by the model file's classes: 27 rows at −ln 0.8, 3 at −ln 0.2.
    expect(r.windows[0]!.performance!.log_loss!.value).toBeCloseTo(
      (27 * -Math.log(0.8) + 3 * -Math.log(0.2)) / 30,
      12,
    );
    expect(r.windows[1]!.performance!.log_loss!.value).toBeCloseTo(-Math.log(0.8), 12);
    expect(r.registered).toEqual({ accuracy: 1, f1_macro: 1 });
    expect(r.labels).toEqual({ labelled: 60, unlabelled: 0, unmatched: 1, bad: 0 });
  });

  it("takes a reference file and a labels file instead", async () => {
    const ref = join(temp.dir, "ref.csv");
    writeFileSync(ref, `x\n${Array.from({ length: 50 }, (_, i) => i % 10).join("\n")}\n`);
    const labels = join(temp.dir, "labels.csv");
    writeFileSync(labels, "id,label\nr0,low\nr1,high\n");
    const r = await report({ reference: ref, labels });
    expect(r.columns).toEqual(["x"]);
    expect(r.rows.reference).toBe(50);
    expect(r.labels).toEqual({ labelled: 2, unlabelled: 58, unmatched: 0, bad: 0 });
    // Two labelled rows are fewer than minRows (10): no metrics. With minRows 1, r1 (x = 1, answered
    // "low") labelled "high" gives accuracy 1/2 in window 0; window 1 has no labels.
    expect(r.windows[0]).toMatchObject({ labelled: 2, performance: null, breached: false });
    const few = await report({ reference: ref, labels, minRows: 1 });
    expect(few.windows[0]!.performance!.accuracy!.value).toBe(0.5);
    expect(few.windows[1]).toMatchObject({ labelled: 0, performance: null });
  });

  it("refuses an unknown model, a version without a profile, a Triton target and a bad window", async () => {
    await expect(report({ registeredModel: "nope" })).rejects.toThrow(ApiError);
    await expect(report({ registeredModel: "old" })).rejects.toThrow(/has no reference profile/);
    await expect(report({ target: "tri" })).rejects.toThrow(/Triton server, which keeps no inference log/);
    await expect(report({ target: "elsewhere" })).rejects.toThrow(/No deploy target "elsewhere"/);
    await expect(report({ window: "hourly" })).rejects.toThrow(/not a duration/);
    await expect(report({ reference: join(temp.dir, "none.csv") })).rejects.toThrow(/reference: no file/);
  });
});

describe("dagwood monitor report", () => {
  const dagwood = (...args: string[]) =>
    startDagwood(["monitor", "report", "--project", temp.dir, ...args]).done;

  it("prints a window per line and exits 1 when a window breached; --json gives the report", async () => {
    const r = await dagwood("--log", "local:m", "--window", "30m", "--min-rows", "10");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Monitoring local:m against m v1: 60 rows in 2 windows of 30 min/);
    expect(r.stdout).toMatch(/accuracy \(registered 1 ± 0\.05\)/);
    expect(r.stdout).toMatch(/✗\s+2026-12-06 00:00Z\s+30\s+none\s+0 %\s+high 50 %\s+30\s+0\.9 ✗/);
    expect(r.stdout).toMatch(/2026-12-06 00:30Z\s+30\s+x\s+/);
    expect(r.stdout).toMatch(/Labels: 60 labelled rows, 0 without a label yet, 1 for ids not in the log\./);
    const json = await dagwood("--log", "local:m", "--window", "30m", "--min-rows", "10", "--json");
    const parsed = MonitoringReport.parse(JSON.parse(json.stdout));
    expect(parsed.windows).toHaveLength(2);
  });

  it("says what is wrong (exit 2)", async () => {
    const usage = await dagwood("--log", "m");
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringMatching(/--log takes TARGET:MODEL/)]);
    const unknown = await dagwood("--log", "local:m", "--model", "nope@champion");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/nope/);
    const rows = await dagwood("--log", "local:m", "--min-rows", "0");
    expect(rows.stderr).toMatch(/--min-rows takes a whole number ≥ 1, got "0"/);
  });
});

describe("driftDistribution", () => {
  const W0 = { start: "2026-12-06T00:00:00.000Z", end: "2026-12-06T00:30:00.000Z" };
  const W1 = { start: "2026-12-06T00:30:00.000Z", end: "2026-12-06T01:00:00.000Z" };
  const distribution = (args: Record<string, unknown>) =>
    driftDistributionFor(
      { dir: temp.dir, metadata: temp.store },
      parseApiArgs("driftDistribution", { target: "local", model: "m", column: "x", ...W0, ...args }),
    );

  it("counts a column with few values per value on both sides, in the window only", async () => {
    const tenth = Array.from({ length: 10 }, (_, x) => ({ label: String(x), share: 0.1 }));
    const w0 = await distribution({});
    expect(w0).toEqual({
      column: "x",
      type: "categorical",
      rows: { reference: 100, current: 30 },
      edges: null,
      reference: tenth,
      current: tenth,
    });
    // Window 1 doubles x: 0, 2, …, 18 three times each; the reference has none of 10…18.
    const w1 = await distribution(W1);
    expect(w1.rows).toEqual({ reference: 100, current: 30 });
    expect(w1.reference.map((b) => b.label)).toEqual([
      "0",
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "8",
      "9",
      "10",
      "12",
      "14",
      "16",
      "18",
    ]);
    expect(w1.reference.slice(10).every((b) => b.share === 0)).toBe(true);
    expect(w1.current.map((b) => [b.label, b.share]).filter(([, v]) => v)).toEqual(
      [0, 2, 4, 6, 8, 10, 12, 14, 16, 18].map((x) => [String(x), 0.1]),
    );
  });

  it("reads the model's answer under the profile's prediction name", async () => {
    const p = await distribution({ column: "prediction" });
    expect(p).toMatchObject({
      type: "categorical",
      rows: { reference: 100, current: 30 },
      reference: [
        { label: "high", share: 0.5 },
        { label: "low", share: 0.5 },
      ],
      current: [
        { label: "high", share: 0.5 },
        { label: "low", share: 0.5 },
      ],
    });
  });

  it("bins a numeric column on Sturges edges over both sides, as numpy.histogram does", async () => {
    const d = await distribution({ registeredModel: "wide", ...W1 });
    expect(d.type).toBe("numeric");
    const ref = Array.from({ length: 100 }, (_, i) => i / 4);
    const cur = entries.slice(30).map((e) => e.inputs[0]!.data[0] as number);
    const peer = JSON.parse(
      execFileSync("/usr/bin/python3", [
        "-c",
        `import json, sys, numpy as np
ref, cur = json.loads(sys.argv[1])
edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
print(json.dumps({"edges": edges.tolist(), "ref": (np.histogram(ref, edges)[0] / len(ref)).tolist(), "cur": (np.histogram(cur, edges)[0] / len(cur)).tolist()}))`,
        JSON.stringify([ref, cur]),
      ]).toString(),
    ) as { edges: number[]; ref: number[]; cur: number[] };
    expect(d.edges!.length).toBe(peer.edges.length);
    expect(d.edges).toEqual(peer.edges.map((x) => expect.closeTo(x, 12)));
    expect(d.reference.map((b) => b.share)).toEqual(peer.ref.map((x) => expect.closeTo(x, 12)));
    expect(d.current.map((b) => b.share)).toEqual(peer.cur.map((x) => expect.closeTo(x, 12)));
    expect(d.rows).toEqual({ reference: 100, current: 30 });
    expect(d.reference[0]!.label).toMatch(/^0–\d/);
  });

  it("gives an empty current side for a column the log lacks (schema drift)", async () => {
    const d = await distribution({ registeredModel: "wide", column: "colour" });
    expect(d).toEqual({
      column: "colour",
      type: "categorical",
      rows: { reference: 100, current: 0 },
      edges: null,
      reference: [
        { label: "blue", share: 0.75 },
        { label: "red", share: 0.25 },
      ],
      current: [
        { label: "blue", share: 0 },
        { label: "red", share: 0 },
      ],
    });
  });

  it("shows the 30 most frequent categories and sums the rest into one bar", async () => {
    // 40 codes: c0…c19 three rows each, c20…c39 two; ten of the two-row codes are summed.
    const d = await distribution({ registeredModel: "wide", column: "code" });
    expect(d.reference).toHaveLength(31);
    expect(d.reference.at(-1)).toEqual({ label: "other (10 values)", share: 0.2 });
    expect(d.reference.slice(0, 30).filter((b) => b.share === 0.03)).toHaveLength(20);
    expect(d.reference.reduce((a, b) => a + b.share, 0)).toBeCloseTo(1, 12);
  });

  it("gives an empty current side for a window with no rows", async () => {
    const d = await distribution({ start: "2026-12-07T00:00:00Z", end: "2026-12-07T01:00:00Z" });
    expect(d.rows).toEqual({ reference: 100, current: 0 });
    expect(d.current.every((b) => b.share === 0)).toBe(true);
  });

  it("refuses an unknown column, a window that ends before it starts, and a time that is not ISO", async () => {
    await expect(distribution({ column: "y" })).rejects.toThrow(
      /column "y" is not in the reference profile of m v1 \(its columns: x, prediction\)/,
    );
    await expect(distribution({ start: W0.end, end: W0.start })).rejects.toThrow(/ends .* before it starts/);
    expect(() =>
      parseApiArgs("driftDistribution", {
        target: "local",
        model: "m",
        column: "x",
        start: "yesterday",
        end: W0.end,
      }),
    ).toThrow(/start/);
    await expect(distribution({ registeredModel: "old" })).rejects.toThrow(/has no reference profile/);
  });
});

// Last: it gives m v1 a manifest in a shared folder (what registering it again with a location does).
describe("monitoringReport on another machine of a shared store", () => {
  it("fetches the version's files from the artifact location before reading its classes: log loss is graded", async () => {
    const root = mkdtempSync(join(tmpdir(), "dagwood-monitor-shared-"));
    const shared = join(root, "share");
    const machineB = join(root, "b");
    mkdirSync(shared);
    mkdirSync(join(machineB, ".dagwood"), { recursive: true });
    // Machine B serves the model too (its own serving folder, the same log); the reference is a file,
    // so nothing else reads the version's files first.
    cpSync(servingRepository(temp.dir), servingRepository(machineB), { recursive: true });
    const ref = join(machineB, "ref.csv");
    writeFileSync(ref, `x\n${Array.from({ length: 50 }, (_, i) => i % 10).join("\n")}\n`);
    const location = openArtifactLocation({ kind: "folder", path: shared }, temp.dir);
    const v1 = await shareTestVersion(temp.store.registry, temp.dir, location, "m", 1);
    const storeB = new SqliteMetadataStore(join(temp.dir, ".dagwood", "metadata.sqlite"), {
      projectDir: machineB,
    });
    const onB = (artifacts: boolean) => {
      writeFileSync(
        join(machineB, "dagwood.json"),
        JSON.stringify(artifacts ? { artifacts: { kind: "folder", path: shared } } : {}),
      );
      return monitoringReportFor(
        { dir: machineB, metadata: storeB },
        parseApiArgs("monitoringReport", {
          target: "local",
          model: "m",
          window: "30m",
          minRows: 10,
          reference: ref,
        }),
      );
    };
    const nativeOnB = join(machineB, v1.nativePath);
    try {
      // Without the location in its dagwood.json machine B cannot read the classes: a 502 saying what to do.
      const refused = await onB(false).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toBe(502);
      expect((refused as ApiError).message).toMatch(
        /m v1 was registered with its files in folder .*this machine lacks model\.json.*Set "artifacts"/,
      );
      expect(existsSync(nativeOnB)).toBe(false);

      const r = await onB(true);
      // The log's probabilities are named by the model file's classes: 27 rows at −ln 0.8, 3 at −ln 0.2.
      expect(r.windows[0]!.performance!.log_loss!.value).toBeCloseTo(
        (27 * -Math.log(0.8) + 3 * -Math.log(0.2)) / 30,
        12,
      );
      expect(r.windows[1]!.performance!.log_loss!.value).toBeCloseTo(-Math.log(0.8), 12);
      expect(readFileSync(nativeOnB, "utf8")).toBe(readFileSync(join(temp.dir, v1.nativePath), "utf8"));
      expect(existsSync(join(dirname(nativeOnB), "reference-profile.json"))).toBe(true);
    } finally {
      storeB.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
