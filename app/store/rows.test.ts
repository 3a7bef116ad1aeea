import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "./metadata";
import { flattenParams } from "./rows";

describe("flattenParams", () => {
  it("names nested plain objects by path, keeps arrays, null and empty objects as values, drops undefined", () => {
    expect(
      flattenParams("n", {
        a: 1,
        b: { c: "x", d: { e: null, u: undefined } },
        f: [1, { g: 2 }],
        h: {},
        i: undefined,
      }),
    ).toEqual({ "n.a": 1, "n.b.c": "x", "n.b.d.e": null, "n.f": [1, { g: 2 }], "n.h": {} });
    expect(flattenParams("n", {})).toEqual({});
    expect(flattenParams("n", undefined)).toEqual({});
  });

  describe("as the store records params", () => {
    let store: SqliteMetadataStore;
    let cleanup: () => void;
    beforeEach(() => {
      ({ store, cleanup } = createTempStore());
      store.startRun({
        id: "parent",
        pipeline: "p",
        pipelinePath: null,
        pipelineHash: null,
        pipelineText: null,
        params: {},
        resolvedParams: flattenParams("gbdt", { trees: 100, maxDepth: undefined }),
        startedAt: new Date().toISOString(),
        environment: {},
        user: "ana",
      });
    });
    afterEach(() => cleanup());

    it("an undefined param is absent from a run and a trial alike, as from their JSON records", () => {
      const trial = store.recordTrial({
        parentRunId: "parent",
        nodeId: "gbdt",
        index: 0,
        params: { trees: 50, maxDepth: undefined, tree: { bins: undefined, leaves: 8 } },
        metrics: { cv_accuracy: 0.9 },
      });
      expect(store.resolvedParams("parent")).toEqual({ "gbdt.trees": 100 });
      expect(store.resolvedParams(trial)).toEqual({ "gbdt.trees": 50, "gbdt.tree.leaves": 8 });
    });
  });
});
