import { describe, expect, it } from "vitest";
import type { PipelineDocument } from "../store/types";
import { baseIdFor, connectedId, isAutoId, nodeIdProblem, shortKind, uniqueId } from "./ids";

const doc = (...nodes: [string, string][]): PipelineDocument => ({
  nodes: nodes.map(([id, block]) => ({ id, block, params: {} })),
  edges: [],
});

describe("baseIdFor and uniqueId", () => {
  it("names a new node after the last segment of its kind, numbered when taken", () => {
    expect(baseIdFor("train.gbdt")).toBe("gbdt");
    expect(baseIdFor("analyze.profile")).toBe("profile");
    const d = doc(["gbdt", "train.gbdt"], ["gbdt_2", "train.gbdt"]);
    expect(uniqueId(d, "gbdt")).toBe("gbdt_3");
    expect(uniqueId(d, "split")).toBe("split");
  });

  it("skips ids reserved by the caller", () => {
    expect(uniqueId(doc(), "split", new Set(["split", "split_2"]))).toBe("split_3");
  });
});

describe("isAutoId", () => {
  it("recognises the ids the editor gives, not ones the user typed", () => {
    expect(isAutoId("evaluate", "evaluate")).toBe(true);
    expect(isAutoId("evaluate_12", "evaluate")).toBe(true);
    expect(isAutoId("gbdt", "train.gbdt")).toBe(true);
    expect(isAutoId("holdout_eval", "evaluate")).toBe(false);
    expect(isAutoId("evaluate_x", "evaluate")).toBe(false);
    expect(isAutoId("eval_gbdt", "evaluate")).toBe(false);
  });
});

describe("connectedId", () => {
  const trainers = doc(
    ["split", "split"],
    ["logistic", "train.logistic"],
    ["gbdt", "train.gbdt"],
    ["evaluate", "evaluate"],
    ["evaluate_2", "evaluate"],
    ["predict", "predict"],
  );

  it("names an evaluate after the model that feeds it", () => {
    expect(shortKind("evaluate")).toBe("eval");
    const id = connectedId(trainers, { id: "evaluate_2", block: "evaluate" }, "model", {
      id: "logistic",
      block: "train.logistic",
    });
    expect(id).toBe("eval_logistic");
  });

  it("names a predict after its model", () => {
    expect(
      connectedId(trainers, { id: "predict", block: "predict" }, "model", {
        id: "gbdt",
        block: "train.gbdt",
      }),
    ).toBe("predict_gbdt");
  });

  it("keeps a train block's short name when a table feeds it", () => {
    expect(
      connectedId(trainers, { id: "gbdt", block: "train.gbdt" }, "table", { id: "split", block: "split" }),
    ).toBeNull();
  });

  it("leaves a node the user renamed alone", () => {
    const d = doc(["gbdt", "train.gbdt"], ["holdout", "evaluate"]);
    expect(
      connectedId(d, { id: "holdout", block: "evaluate" }, "model", { id: "gbdt", block: "train.gbdt" }),
    ).toBeNull();
  });

  it("drops the upstream's own prefix: a register fed by eval_gbdt is register_gbdt", () => {
    const d = doc(["eval_gbdt", "evaluate"], ["register", "register"]);
    expect(
      connectedId(d, { id: "register", block: "register" }, "report", { id: "eval_gbdt", block: "evaluate" }),
    ).toBe("register_gbdt");
  });

  it("keeps a numbered upstream id whole: an evaluate of gbdt_2 is eval_gbdt_2", () => {
    const d = doc(["gbdt_2", "train.gbdt"], ["evaluate", "evaluate"]);
    expect(
      connectedId(d, { id: "evaluate", block: "evaluate" }, "model", { id: "gbdt_2", block: "train.gbdt" }),
    ).toBe("eval_gbdt_2");
  });

  it("keeps an upstream id that has no prefix of its kind", () => {
    const d = doc(["eval", "evaluate"], ["gate", "gate"]);
    expect(connectedId(d, { id: "gate", block: "gate" }, "report", { id: "eval", block: "evaluate" })).toBe(
      "gate_eval",
    );
  });

  it("stays unique: a second evaluate of the same model gets a number", () => {
    const d = doc(["gbdt", "train.gbdt"], ["eval_gbdt", "evaluate"], ["evaluate", "evaluate"]);
    const id = connectedId(d, { id: "evaluate", block: "evaluate" }, "model", {
      id: "gbdt",
      block: "train.gbdt",
    });
    expect(id).toBe("eval_gbdt_2");
    expect(nodeIdProblem(d, "evaluate", id!)).toBeNull();
  });

  it("gives ids the pipeline schema accepts", () => {
    const d = doc(["my-model_1", "train.mlp"], ["explain", "explain"]);
    const id = connectedId(d, { id: "explain", block: "explain" }, "model", {
      id: "my-model_1",
      block: "train.mlp",
    });
    expect(id).toBe("explain_my-model_1");
    expect(nodeIdProblem(d, "explain", id!)).toBeNull();
  });
});
