/**
 * Masking over a real run: customers with personal columns tagged at the
 * ingest node, two models registered from them, and everything that shows
 * or exports their rows — the Api's preview and profile, the example
 * request, `runs export`, `models export`, `export triton` — masked by
 * default, in clear only when asked and confirmed, with an audit entry.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import type { ApiResults, TablePage } from "../api/api";
import { createCoreApi } from "../api/core";
import { main } from "../cli/main";
import { captureIo } from "../cli/testing";
import { currentUser } from "../engine/environment";
import type { RunEvent } from "../engine/events";
import { SqliteMetadataStore } from "../store/metadata";
import type { AuditEntry } from "../store/types";

const ROWS = 120;
const SEGMENTS = ["gold", "silver", "bronze"];

/** Customers: email (pii), segment (sensitive), age (pii), region (the user's own tag), spend and churn untagged. */
function customersCsv(): string {
  const lines = ["email,segment,age,region,spend,churn"];
  for (let i = 0; i < ROWS; i++) {
    const spend = (i * 37) % 100;
    const churn = spend < 40 !== (i % 7 === 0) ? "yes" : "no";
    lines.push(
      `person${i}@example.com,${SEGMENTS[i % 3]},${20 + (i % 50)},${i % 2 ? "north" : "south"},${spend},${churn}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

const pipeline = {
  format: "dagwood.pipeline/1",
  name: "churn",
  params: {},
  nodes: [
    {
      id: "customers",
      block: "ingest.file",
      params: {
        path: "data/customers.csv",
        columnTags: { email: ["pii"], segment: ["sensitive"], age: ["pii"], region: ["internal"] },
      },
    },
    { id: "profile", block: "analyze.profile", params: {} },
    {
      id: "check",
      block: "validate.expectations",
      params: {
        onFailure: "warn",
        suite: {
          inline: {
            expectation_suite_name: "emails",
            expectations: [
              {
                expectation_type: "expect_column_values_to_match_regex",
                kwargs: { column: "email", regex: "^nobody" },
              },
              {
                expectation_type: "expect_column_max_to_be_between",
                kwargs: { column: "age", max_value: 30 },
              },
            ],
          },
        },
      },
    },
    {
      id: "domains",
      block: "transform.sql",
      params: { query: "SELECT split_part(email, '@', 1) AS handle, region FROM input" },
    },
    { id: "profile_domains", block: "analyze.profile", params: {} },
    { id: "split", block: "split", params: { strategy: "random", testFraction: 0.25, seed: 3 } },
    {
      id: "by_segment",
      block: "train.tree",
      params: { target: "churn", features: ["segment", "age", "spend"], seed: 1 },
    },
    { id: "by_age", block: "train.tree", params: { target: "churn", features: ["age", "spend"], seed: 1 } },
    { id: "reg_segment", block: "register", params: { name: "churn_segment" } },
    { id: "explain", block: "explain", params: {} },
    { id: "reg_age", block: "register", params: { name: "churn_age" } },
  ],
  edges: [
    { from: "customers.out", to: "profile.in" },
    { from: "customers.out", to: "check.in" },
    { from: "customers.out", to: "domains.in" },
    { from: "domains.out", to: "profile_domains.in" },
    { from: "customers.out", to: "split.in" },
    { from: "split.train", to: "by_segment.train" },
    { from: "split.train", to: "by_age.train" },
    { from: "by_segment.model", to: "reg_segment.model" },
    { from: "split.test", to: "reg_segment.data" },
    { from: "by_segment.model", to: "explain.model" },
    { from: "split.test", to: "explain.data" },
    { from: "by_age.model", to: "reg_age.model" },
    { from: "split.test", to: "reg_age.data" },
  ],
};

/** Every file under `dir` with its bytes, by path relative to it. */
function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("masking personal columns over a real run", { timeout: 180_000 }, () => {
  let dir: string;
  let api: Awaited<ReturnType<typeof createCoreApi>>;
  let runId: string;
  let tables: Record<string, string>;

  const audit = (): AuditEntry[] => {
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      return store.registry.audit({ actions: ["privacy.unmasked"] });
    } finally {
      store.close();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-masking-"));
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "masking" }));
    const data = join(dir, "data");
    await import("node:fs/promises").then((fs) => fs.mkdir(data));
    writeFileSync(join(data, "customers.csv"), customersCsv());
    api = await createCoreApi({ catalog, projectDir: dir });
    const events: RunEvent[] = [];
    api.onEvent((e) => events.push(e));
    ({ runId } = (await api.call("startRun", { document: pipeline })) as { runId: string });
    while (!events.some((e) => e.type === "run.finished" && e.runId === runId))
      await new Promise((r) => setTimeout(r, 20));
    const finished = events.find((e) => e.type === "run.finished" && e.runId === runId);
    expect(finished).toMatchObject({ status: "succeeded" });
    const detail = (await api.call("getRun", { runId })) as ApiResults["getRun"];
    tables = Object.fromEntries(
      detail.nodes.flatMap((n) =>
        Object.entries(n.outputs)
          .filter(([, o]) => (o as { type: string }).type === "table")
          .map(([port, o]) => [`${n.nodeId}.${port}`, (o as { table: string }).table]),
      ),
    );
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("the Api's preview", () => {
    it("masks the pii and sensitive columns, and leaves untagged and user-tagged ones as they are", async () => {
      const page = (await api.call("previewTable", {
        table: tables["customers.out"]!,
        limit: 5,
      })) as TablePage;
      expect(page.masked).toEqual(["email", "segment", "age"]);
      expect(page.columns.filter((c) => c.personal).map((c) => c.name)).toEqual(["email", "segment", "age"]);
      // The first rows as the file has them (row order is the file's).
      expect(page.rows.map((r) => r.email)).toEqual(["***", "***", "***", "***", "***"]);
      expect(page.rows.map((r) => r.segment)).toEqual(["***", "***", "***", "***", "***"]);
      expect(page.rows.map((r) => r.age)).toEqual([null, null, null, null, null]);
      expect(page.rows.map((r) => r.region)).toEqual(["south", "north", "south", "north", "south"]);
      expect(page.rows.map((r) => r.spend)).toEqual([0, 37, 74, 11, 48]);
      expect(JSON.stringify(page)).not.toContain("@example.com");
    });

    it("masks the columns derived from them downstream (the split's test table)", async () => {
      const page = (await api.call("previewTable", { table: tables["split.test"]!, limit: 50 })) as TablePage;
      expect(page.masked).toEqual(["email", "segment", "age"]);
      expect(JSON.stringify(page.rows)).not.toContain("@example.com");
    });

    it("refuses values in clear without the confirmation, and records none", async () => {
      const before = audit().length;
      await expect(
        api.call("previewTable", { table: tables["customers.out"]!, limit: 5, unmasked: true }),
      ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("confirm: true") });
      expect(audit().length).toBe(before);
    });

    it("shows them in clear when asked and confirmed, and records who saw which columns", async () => {
      const page = (await api.call("previewTable", {
        table: tables["customers.out"]!,
        limit: 3,
        unmasked: true,
        confirm: true,
      })) as TablePage;
      expect(page.masked).toBeUndefined();
      expect(page.rows.map((r) => r.email)).toEqual([
        "person0@example.com",
        "person1@example.com",
        "person2@example.com",
      ]);
      expect(page.rows.map((r) => r.age)).toEqual([20, 21, 22]);
      const entry = audit()[0]!;
      expect(entry).toMatchObject({
        action: "privacy.unmasked",
        model: "*",
        version: null,
        details: { what: "table preview", where: "the app", columns: ["email", "segment", "age"] },
      });
      expect(entry.details.table).toBe(tables["customers.out"]);
    });

    it("masks the profile's most frequent values and extremes of personal columns", async () => {
      const profile = (await api.call("profileTable", {
        table: tables["customers.out"]!,
      })) as ApiResults["profileTable"];
      const col = (name: string) => profile.columns.find((c) => c.name === name)!;
      expect(
        col("segment")
          .top?.map((t) => t.value)
          .sort(),
      ).toEqual(["***", "***", "***"]);
      expect(col("segment").top?.reduce((n, t) => n + t.count, 0)).toBe(ROWS);
      expect(col("age")).toMatchObject({ min: null, max: null, histogram: null });
      expect(col("spend")).toMatchObject({ min: 0, max: 99 });
      expect(JSON.stringify(profile)).not.toContain("gold");
    });
  });

  describe("untagged data", () => {
    it("previews and exports exactly as before: no masked fields, every file the run's own bytes", async () => {
      writeFileSync(join(dir, "data", "plain.csv"), "name,n\nalpha,1\nbeta,2\n");
      const plain = {
        format: "dagwood.pipeline/1",
        name: "plain",
        params: {},
        nodes: [
          { id: "plain", block: "ingest.file", params: { path: "data/plain.csv" } },
          { id: "profile", block: "analyze.profile", params: {} },
        ],
        edges: [{ from: "plain.out", to: "profile.in" }],
      };
      const events: RunEvent[] = [];
      api.onEvent((e) => events.push(e));
      const { runId: run } = (await api.call("startRun", { document: plain })) as { runId: string };
      while (!events.some((e) => e.type === "run.finished" && e.runId === run))
        await new Promise((r) => setTimeout(r, 20));
      const detail = (await api.call("getRun", { runId: run })) as ApiResults["getRun"];
      const table = (detail.nodes.find((n) => n.nodeId === "plain")!.outputs.out as { table: string }).table;
      const page = (await api.call("previewTable", { table })) as TablePage;
      expect(page).toEqual({
        table,
        columns: [
          { name: "name", type: "VARCHAR" },
          { name: "n", type: "BIGINT" },
        ],
        rows: [
          { name: "alpha", n: 1 },
          { name: "beta", n: 2 },
        ],
        offset: 0,
        total: 2,
      });
      const before = audit().length;
      // Asking for clear values of untagged data records nothing: nothing personal was shown.
      await api.call("previewTable", { table, unmasked: true, confirm: true });
      expect(audit().length).toBe(before);
      const r = (await api.call("exportRun", {
        runId: run,
        dir: "exports/plain",
      })) as ApiResults["exportRun"];
      expect(Object.keys(r).sort()).toEqual(["dir", "files"]);
      const files = filesOf(join(dir, r.dir));
      for (const a of detail.artifacts) {
        const exported = files.get(join("artifacts", a.nodeId, a.name))!;
        expect(sha(exported)).toBe(sha(readFileSync(join(dir, a.path))));
      }
    });
  });

  describe("the profile report the run kept", () => {
    it("masks the personal columns of the table the profile read, as the app shows it", async () => {
      const { data } = (await api.call("getReport", { runId, nodeId: "profile", port: "report" })) as {
        data: ApiResults["profileTable"];
      };
      const col = (name: string) => data.columns.find((c) => c.name === name)!;
      expect(
        col("segment")
          .top?.map((t) => t.value)
          .sort(),
      ).toEqual(["***", "***", "***"]);
      expect(col("age")).toMatchObject({ min: null, max: null });
      expect(
        col("region")
          .top?.map((t) => t.value)
          .sort(),
      ).toEqual(["north", "south"]);
      expect(JSON.stringify(data)).not.toContain("gold");
    });
  });

  describe("the profile of a column derived from a tagged one", () => {
    it("masks handle ← email in the report the app reads", async () => {
      const { data } = (await api.call("getReport", {
        runId,
        nodeId: "profile_domains",
        port: "report",
      })) as {
        data: ApiResults["profileTable"];
      };
      expect(data.columns.find((c) => c.name === "handle")!.top!.every((t) => t.value === "***")).toBe(true);
      expect(
        data.columns
          .find((c) => c.name === "region")!
          .top!.map((t) => t.value)
          .sort(),
      ).toEqual(["north", "south"]);
    });
  });

  describe("the model output the app shows", () => {
    it("masks a personal text input's fitted categories, and keeps the others", async () => {
      const { data } = (await api.call("getReport", { runId, nodeId: "by_segment", port: "model" })) as {
        data: { preprocess: { features: { name: string; kind: string; categories?: string[] }[] } };
      };
      const segment = data.preprocess.features.find((f) => f.name === "segment")!;
      expect(segment.kind).toBe("categorical");
      expect(segment.categories).toEqual(["***", "***", "***"]);
      for (const s of SEGMENTS) expect(JSON.stringify(data)).not.toContain(`"${s}"`);
    });
  });

  describe("the report a failed validation kept beside the run", () => {
    it("is masked as the report of a passed one", async () => {
      const failing = {
        ...pipeline,
        nodes: [
          pipeline.nodes[0]!,
          {
            id: "strict",
            block: "validate.expectations",
            params: {
              suite: {
                inline: {
                  expectation_suite_name: "strict",
                  expectations: [
                    {
                      expectation_type: "expect_column_values_to_match_regex",
                      kwargs: { column: "email", regex: "^nobody" },
                    },
                  ],
                },
              },
            },
          },
        ],
        edges: [{ from: "customers.out", to: "strict.in" }],
      };
      const events: RunEvent[] = [];
      const off = api.onEvent((e) => events.push(e));
      const { runId: run } = (await api.call("startRun", { document: failing })) as { runId: string };
      while (!events.some((e) => e.type === "run.finished" && e.runId === run))
        await new Promise((r) => setTimeout(r, 20));
      if (typeof off === "function") off();
      expect(events.find((e) => e.type === "run.finished" && e.runId === run)).toMatchObject({
        status: "failed",
      });
      const { data } = (await api.call("getReport", { runId: run, nodeId: "strict", port: "report" })) as {
        data: { results: { result: { partial_unexpected_list?: unknown[] } }[] };
      };
      expect(data.results[0]!.result.partial_unexpected_list!.length).toBeGreaterThan(0);
      expect(data.results[0]!.result.partial_unexpected_list!.every((v) => v === "***")).toBe(true);
    });
  });

  describe("the validation report the run kept", () => {
    it("masks the unexpected values and the observed max of personal columns, and keeps the counts", async () => {
      const { data } = (await api.call("getReport", { runId, nodeId: "check", port: "report" })) as {
        data: {
          results: {
            result: {
              unexpected_count?: number;
              partial_unexpected_list?: unknown[];
              observed_value?: unknown;
            };
          }[];
        };
      };
      const [regex, max] = data.results;
      expect(regex!.result.unexpected_count).toBe(ROWS);
      expect(regex!.result.partial_unexpected_list!.length).toBeGreaterThan(0);
      expect(regex!.result.partial_unexpected_list!.every((v) => v === "***")).toBe(true);
      expect(max!.result.observed_value).toBeNull();
      expect(JSON.stringify(data)).not.toContain("@example.com");
    });
  });

  describe("the explanation report the run kept", () => {
    it("masks a personal text input's categories in the partial dependence, and keeps the numbers", async () => {
      const { data } = (await api.call("getReport", { runId, nodeId: "explain", port: "report" })) as {
        data: { partialDependence: { feature: string; kind: string; grid: unknown[] }[] };
      };
      const pd = (f: string) => data.partialDependence.find((p) => p.feature === f)!;
      expect(pd("segment").kind).toBe("categorical");
      expect([...pd("segment").grid].sort()).toEqual(["***", "***", "***"]);
      expect(pd("spend").grid.every((g) => typeof g === "number")).toBe(true);
      expect(JSON.stringify(data)).not.toContain("gold");
    });
  });

  describe("the example request of a version", () => {
    it("masks a personal input's held-out value and its categories, and keeps heldout.json as registered", async () => {
      const example = (await api.call("inferExample", {
        name: "churn_segment",
        ref: 1,
      })) as ApiResults["inferExample"];
      expect(example.source).toBe("heldout");
      expect(example.masked).toEqual(["segment", "age"]);
      expect(example.note).toContain("personal data masked: segment, age");
      const input = (name: string) => example.inputs.find((i) => i.name === name)!;
      expect(input("segment").value).toBe("***");
      expect(input("segment").categories?.sort()).toEqual(["***", "***", "***"]);
      expect(input("age").value).toBeNull();
      expect(input("age").shown).toContain("masked");
      expect(typeof input("spend").value).toBe("number");
      const text = JSON.stringify(example);
      for (const s of SEGMENTS) expect(text).not.toContain(`"${s}"`);
      // The registry's copy keeps the real rows: a deploy's parity check sends them.
      const version = (await api.call("getModelVersion", {
        name: "churn_segment",
        ref: 1,
      })) as ApiResults["getModelVersion"];
      const held = JSON.parse(readFileSync(join(dir, version.heldoutPath!), "utf8")) as {
        inputs: { name: string; data: unknown[] }[];
      };
      const segments = held.inputs.find((t) => t.name === "segment")!.data;
      expect(segments.every((s) => SEGMENTS.includes(String(s)))).toBe(true);
    });

    it("gives the real row when asked and confirmed, with an audit entry on the version", async () => {
      await expect(
        api.call("inferExample", { name: "churn_age", ref: 1, unmasked: true }),
      ).rejects.toMatchObject({
        status: 400,
      });
      const example = (await api.call("inferExample", {
        name: "churn_age",
        ref: 1,
        unmasked: true,
        confirm: true,
      })) as ApiResults["inferExample"];
      expect(example.masked).toBeUndefined();
      const age = example.inputs.find((i) => i.name === "age")!.value as number;
      expect(age).toBeGreaterThanOrEqual(20);
      expect(age).toBeLessThan(70);
      expect(audit()[0]).toMatchObject({
        model: "churn_age",
        version: 1,
        details: { what: "example request", columns: ["age"] },
      });
    });
  });

  /** `dagwood <args> --project <dir>`, off a terminal. */
  const cli = async (args: string[]) => {
    const io = captureIo(false);
    const code = await main([...args, "--project", dir], io);
    return { code, out: io.out(), err: io.err() };
  };

  describe("runs export", () => {
    it("refuses a run whose model holds a personal input's categories, unless asked in clear", async () => {
      await expect(api.call("exportRun", { runId, dir: "exports/run-refused" })).rejects.toMatchObject({
        status: 403,
        message: expect.stringMatching(/fitted categories of segment \(3 values.*--unmasked/),
      });
      expect(existsSync(join(dir, "exports", "run-refused"))).toBe(false);
    });

    it("--unmasked off a terminal without --yes: exit 2, says how, writes nothing", async () => {
      const out = join(dir, "cli-run-no");
      const r = await cli(["runs", "export", runId, "--out", out, "--unmasked"]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("add --yes");
      expect(existsSync(out)).toBe(false);
    });

    it("--unmasked --yes exports in clear and records the actor, the folder and the columns", async () => {
      const out = join(dir, "cli-run-yes");
      const r = await cli(["runs", "export", runId, "--out", out, "--unmasked", "--yes"]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain("Personal columns in clear: age, email, handle, segment");
      const files = filesOf(out);
      const profile = files.get(join("artifacts", "profile", "report", "report.json"))!.toString();
      expect(profile).toContain("gold");
      const entry = audit()[0]!;
      expect(entry).toMatchObject({
        model: "*",
        version: null,
        details: {
          what: "runs export",
          where: "cli-run-yes",
          columns: ["age", "email", "handle", "segment"],
          run: runId,
        },
      });
      expect(entry.actor).toBe(currentUser());
    });

    it("masks the profile report of a run without such a model, and copies every other file byte for byte", async () => {
      const keep = (id: string) => !id.endsWith("segment") && !id.startsWith("explain");
      const second = { ...pipeline, nodes: pipeline.nodes.filter((n) => keep(n.id)) };
      second.edges = pipeline.edges.filter((e) => keep(e.from.split(".")[0]!) && keep(e.to.split(".")[0]!));
      const events: RunEvent[] = [];
      const off = api.onEvent((e) => events.push(e));
      const { runId: run2 } = (await api.call("startRun", { document: second })) as { runId: string };
      while (!events.some((e) => e.type === "run.finished" && e.runId === run2))
        await new Promise((r) => setTimeout(r, 20));
      if (typeof off === "function") off();
      const before = audit().length;
      const r = (await api.call("exportRun", {
        runId: run2,
        dir: "exports/run-masked",
      })) as ApiResults["exportRun"];
      expect(r.masked).toEqual(["age", "email", "handle", "segment"]);
      expect(audit().length).toBe(before);
      const files = filesOf(join(dir, r.dir));
      const report = JSON.parse(
        files.get(join("artifacts", "profile", "report", "report.json"))!.toString(),
      ) as {
        columns: { name: string; top: { value: unknown }[] | null; min: unknown }[];
      };
      const col = (n: string) => report.columns.find((c) => c.name === n)!;
      expect(
        col("segment")
          .top!.map((t) => t.value)
          .sort(),
      ).toEqual(["***", "***", "***"]);
      expect(col("email").top!.every((t) => t.value === "***")).toBe(true);
      expect(col("age").min).toBeNull();
      expect(col("spend").min).toBe(0);
      for (const [path, bytes] of files) {
        expect(bytes.toString("latin1")).not.toContain("@example.com");
        // A column derived from a tagged one (handle ← email, by the SQL's lineage) is masked too.
        expect(bytes.toString("latin1"), path).not.toMatch(/"person\d+"/);
        if (path === join("artifacts", "profile", "report", "report.json")) continue;
        if (path === join("artifacts", "check", "report", "report.json")) continue;
        if (path === join("artifacts", "profile_domains", "report", "report.json")) continue;
        if (!path.startsWith("artifacts")) continue;
        // Every other artifact is the run's own file, unchanged.
        const detail = (await api.call("getRun", { runId: run2 })) as ApiResults["getRun"];
        const source = detail.artifacts.find((a) => join("artifacts", a.nodeId, a.name) === path)!;
        expect(sha(bytes)).toBe(sha(readFileSync(join(dir, source.path))));
      }
    });
  });

  describe("models export and the Triton folder", () => {
    it("export a version whose personal inputs are numbers as before: the files hold no rows", async () => {
      const r = (await api.call("exportModelVersion", {
        name: "churn_age",
        ref: 1,
        dir: "exports/age",
      })) as ApiResults["exportModelVersion"];
      expect(r.masked).toBeUndefined();
      expect(r.files).toEqual(["MLmodel.json", "lineage.json", "model.json", "model.onnx", "signature.json"]);
      const triton = join(dir, "triton-age");
      const t = await cli(["export", "triton", "churn_age:1", "--out", triton]);
      expect(t.code).toBe(0);
      expect([...filesOf(triton).keys()].sort()).toEqual([
        join("churn_age", "1", "model.onnx"),
        join("churn_age", "config.pbtxt"),
        join("churn_age", "labels.txt"),
      ]);
    });

    it("refuse a version whose model holds a personal input's categories, and write nothing", async () => {
      await expect(
        api.call("exportModelVersion", { name: "churn_segment", ref: 1, dir: "exports/seg" }),
      ).rejects.toMatchObject({ status: 403, message: expect.stringContaining("--unmasked") });
      expect(existsSync(join(dir, "exports", "seg"))).toBe(false);
      const m = await cli(["models", "export", "churn_segment:1", "--out", "exports/seg-cli"]);
      expect(m.code).toBe(1);
      expect(m.err).toMatch(/fitted categories of segment \(3 values/);
      const triton = join(dir, "triton-seg");
      const t = await cli(["export", "kserve", "churn_segment:1", "--out", triton]);
      expect(t.code).toBe(2);
      expect(t.err).toContain("--unmasked");
      expect(existsSync(triton) ? readdirSync(triton) : []).toEqual([]);
      const n = await cli(["export", "triton", "churn_segment:1", "--out", triton, "--unmasked"]);
      expect(n.code).toBe(2);
      expect(n.err).toContain("add --yes");
    });

    it("--unmasked --yes exports them, with an audit entry on the version naming the folder and columns", async () => {
      const m = await cli([
        "models",
        "export",
        "churn_segment:1",
        "--out",
        "exports/seg-clear",
        "--unmasked",
        "--yes",
      ]);
      expect(m.code).toBe(0);
      expect(readFileSync(join(dir, "exports", "seg-clear", "model.json"), "utf8")).toContain('"gold"');
      expect(audit()[0]).toMatchObject({
        model: "churn_segment",
        version: 1,
        details: { what: "models export", where: "exports/seg-clear", columns: ["segment"] },
      });
      const triton = join(dir, "kserve-seg");
      const t = await cli(["export", "kserve", "churn_segment:1", "--out", triton, "--unmasked", "--yes"]);
      expect(t.code).toBe(0);
      expect(t.out).toContain("segment in clear");
      expect(filesOf(triton).has("inference-service.yaml")).toBe(true);
      expect(audit()[0]).toMatchObject({
        model: "churn_segment",
        version: 1,
        details: { what: "export kserve", where: triton, columns: ["segment"] },
      });
    });
  });
});
