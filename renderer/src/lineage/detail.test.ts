import { describe, expect, it } from "vitest";
import type { LineageGraph } from "../../../app/api/api";
import { aliasesOf, humanize, metricFacts, nodeFacts, SHORT_HASH } from "./detail";

const DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const graph: LineageGraph = {
  nodes: [
    {
      id: `dataset:${DIGEST}`,
      kind: "dataset",
      label: "penguins.csv",
      detail: { source: "data/penguins.csv", digest: DIGEST, rows: 1344, columns: 7, fingerprint: "ab12" },
    },
    {
      id: "run:20261126T170221-a1b2c3",
      kind: "run",
      label: "penguins · 20261126T170221-a1b2c3",
      detail: {
        runId: "20261126T170221-a1b2c3",
        pipeline: "penguins",
        pipelineHash: DIGEST,
        startedAt: "2026-11-26T17:02:21Z",
        user: "ana",
        status: "succeeded",
      },
    },
    {
      id: "model:penguins:v2",
      kind: "modelVersion",
      label: "penguins v2",
      detail: {
        name: "penguins",
        version: 2,
        status: "ready",
        aliases: ["champion"],
        estimator: "gbdt",
        task: "classification",
        createdAt: "2026-11-26T17:03:00Z",
        createdBy: "ana",
        nodeId: "gbdt",
        metrics: { accuracy: 0.95, f1_macro: 0.94 },
      },
    },
    {
      id: "deployment:7",
      kind: "deployment",
      label: "succeeded → local",
      detail: {
        target: "local",
        ms: 1830,
        parity: {
          passed: true,
          maxAbsDiff: 0,
          rows: 86,
          source: "heldout",
          tolerance: 1e-5,
          labelMismatches: 0,
        },
        action: "deployment.succeeded",
        version: 2,
      },
    },
  ],
  edges: [
    { from: `dataset:${DIGEST}`, to: "run:20261126T170221-a1b2c3" },
    { from: "run:20261126T170221-a1b2c3", to: "model:penguins:v2" },
    { from: "model:penguins:v2", to: "deployment:7" },
  ],
};
const node = (id: string) => graph.nodes.find((n) => n.id === id)!;
const labels = (id: string) => nodeFacts(node(id), graph).map((f) => f.label);

describe("lineage facts", () => {
  it("labels keys in words, never camelCase", () => {
    for (const n of graph.nodes) {
      for (const label of labels(n.id)) expect(label).not.toMatch(/[a-z][A-Z]/);
    }
    expect(labels(`dataset:${DIGEST}`)).toEqual(
      expect.arrayContaining(["File", "Content hash (sha256)", "Rows", "Read by runs"]),
    );
    expect(humanize("reachableMs")).toBe("Reachable ms");
    expect(humanize("some_key")).toBe("Some key");
  });

  it("shows a hash by its first 12 characters and keeps the whole one to copy", () => {
    const digest = nodeFacts(node(`dataset:${DIGEST}`), graph).find(
      (f) => f.label === "Content hash (sha256)",
    );
    expect(digest).toEqual({
      label: "Content hash (sha256)",
      kind: "hash",
      text: DIGEST.slice(0, 12),
      full: DIGEST,
    });
    expect(SHORT_HASH).toBe(12);
    // A short value that only looks like hex is not cut.
    const fp = nodeFacts(node(`dataset:${DIGEST}`), graph).find((f) => f.label === "Table fingerprint");
    expect(fp).toMatchObject({ kind: "text", text: "ab12" });
  });

  it("names a version's run and datasets from the graph, with its aliases", () => {
    const facts = nodeFacts(node("model:penguins:v2"), graph);
    expect(facts[0]).toEqual({
      label: "Trained by run",
      kind: "nodes",
      nodes: [{ id: "run:20261126T170221-a1b2c3", label: "penguins · 170221-a1b2c3" }],
    });
    expect(facts[1]).toMatchObject({ label: "Datasets", nodes: [{ label: "penguins.csv" }] });
    expect(facts.find((f) => f.label === "Aliases")).toMatchObject({ text: "champion" });
    expect(facts.find((f) => f.label === "Version")).toMatchObject({ text: "v2" });
    expect(facts.find((f) => f.label === "Deployments")).toMatchObject({ nodes: [{ id: "deployment:7" }] });
    expect(aliasesOf(node("model:penguins:v2"))).toEqual(["champion"]);
    expect(metricFacts(node("model:penguins:v2")).map((m) => m.key)).toEqual(["accuracy", "f1_macro"]);
  });

  it("reads a deployment: its outcome, time taken and parity", () => {
    const facts = nodeFacts(node("deployment:7"), graph);
    expect(facts.find((f) => f.label === "Outcome")).toMatchObject({ text: "succeeded" });
    expect(facts.find((f) => f.label === "Time taken")).toMatchObject({ text: "1.8 s" });
    expect(facts.find((f) => f.label === "Parity")).toMatchObject({
      text: expect.stringContaining("86 held-out rows"),
    });
  });

  it("links a run id to the run", () => {
    expect(nodeFacts(node("run:20261126T170221-a1b2c3"), graph).find((f) => f.label === "Run")).toEqual({
      label: "Run",
      kind: "run",
      text: "170221-a1b2c3",
      runId: "20261126T170221-a1b2c3",
    });
  });
});
