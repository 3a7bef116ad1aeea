import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalog } from "../../../nodes/index";
import type { RunEvent } from "../../engine/events";
import type { ScanReport } from "../../privacy/types";
import { type CoreApi, createCoreApi } from "../core";

const PEOPLE = [
  "email,card,surname,n",
  "jane@example.com,4242 4242 4242 4242,Doe,1",
  "john@example.org,4242 4242 4242 4241,Roe,2",
  "n/a,,Poe,3",
  "ada@example.net,5555555555554444,,4",
].join("\n");

describe("scanPrivacy", { timeout: 60_000 }, () => {
  let dir: string;
  let outside: string;
  let api: CoreApi;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-scan-api-"));
    outside = mkdtempSync(join(tmpdir(), "dagwood-scan-api-out-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "scan", "privacy": { "scanSample": 100 } }\n');
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "people.csv"), PEOPLE);
    writeFileSync(
      join(dir, "data", "many.csv"),
      ["email", ...Array.from({ length: 150 }, (_, i) => `u${i}@example.com`)].join("\n"),
    );
    writeFileSync(join(outside, "secret.csv"), PEOPLE);
    api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: false });
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const scan = (args: object) => api.call("scanPrivacy", args) as Promise<ScanReport>;

  it("scans a data file of the project with dagwood.json's sample size, or the one asked for", async () => {
    const many = await scan({ source: "data/many.csv" });
    expect(many).toMatchObject({
      source: "data/many.csv",
      rows: 150,
      sampled: 100,
      sampleSize: 100,
      seed: 42,
    });
    expect(many.columns[0]!.kinds[0]).toMatchObject({ kind: "email", share: 1 });
    const all = await scan({ source: "data/people.csv", sample: 100, seed: 1 });
    expect(all).toMatchObject({ rows: 4, sampled: 4, sampleSize: 100, seed: 1 });
    // Examples come in the sample's order: compared as sets.
    const sorted = all.columns.map((c) => ({
      ...c,
      kinds: c.kinds.map((k) => ({ ...k, examples: [...k.examples].sort() })),
    }));
    expect(sorted).toEqual([
      {
        column: "email",
        kinds: [
          {
            kind: "email",
            share: 0.75,
            examples: ["a***@e***.net", "j***@e***.com", "j***@e***.org"],
            by: "values",
          },
        ],
      },
      {
        column: "card",
        kinds: [
          {
            kind: "card",
            share: 2 / 3,
            examples: ["**** **** **** 4242", "**** **** **** 4444"],
            by: "values",
          },
        ],
      },
      {
        column: "surname",
        kinds: [{ kind: "personal_name", share: 1, examples: ["D***", "P***", "R***"], by: "name" }],
      },
      { column: "n", kinds: [] },
    ]);
  });

  it("scans a node output table of the workspace", async () => {
    const events: RunEvent[] = [];
    api.onEvent((e) => events.push(e));
    const document = {
      format: "dagwood.pipeline/1",
      name: "people",
      nodes: [{ id: "people", block: "ingest.file", params: { path: "data/people.csv" } }],
      edges: [],
    };
    const { runId } = (await api.call("startRun", { document })) as { runId: string };
    while (!events.some((e) => e.type === "run.finished" && e.runId === runId))
      await new Promise((r) => setTimeout(r, 10));
    const finished = events.find((e) => e.type === "node.finished" && e.nodeId === "people");
    const table = (finished as Extract<RunEvent, { type: "node.finished" }>).outputs.out!.table!;
    const r = await scan({ source: table, sample: 10 });
    expect(r.source).toBe(table);
    expect(r.columns.map((c) => c.kinds.map((k) => k.kind))).toEqual([
      ["email"],
      ["card"],
      ["personal_name"],
      [],
    ]);
  });

  it("refuses files outside the project, missing files and tables, folders and bad sizes", async () => {
    await expect(scan({ source: join(outside, "secret.csv") })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/outside the project folder/),
    });
    symlinkSync(join(outside, "secret.csv"), join(dir, "data", "link.csv"));
    await expect(scan({ source: "data/link.csv" })).rejects.toMatchObject({ status: 403 });
    await expect(scan({ source: ".dagwood/metadata.sqlite" })).rejects.toMatchObject({ status: 403 });
    await expect(scan({ source: "data/nope.csv" })).rejects.toMatchObject({
      status: 404,
      message: expect.stringMatching(/^No file data\/nope.csv in the project: give a data file/),
    });
    await expect(scan({ source: "t_0123abcd_out" })).rejects.toMatchObject({
      status: 404,
      message: expect.stringMatching(/no table of that name in its workspace/),
    });
    await expect(scan({ source: "data" })).rejects.toMatchObject({ status: 400 });
    await expect(scan({ source: "data/people.csv", sample: 0 })).rejects.toMatchObject({ status: 400 });
    await expect(scan({ source: "" })).rejects.toMatchObject({ status: 400 });
  });
});
