/**
 * For tracking and registry tests: the starter's penguins, a small pipeline
 * that registers a tree on them, and a run to register test versions from.
 */
import { join } from "node:path";
import type { MetadataStore } from "../store/types";

export const PENGUINS_CSV = join(
  import.meta.dirname,
  "..",
  "..",
  "resources",
  "examples",
  "starter",
  "data",
  "penguins.csv",
);

/**
 * penguins → stratified split → tree (`maxDepth` is the `depth` param, 3) →
 * evaluate → register as `penguins`, alias challenger. `csvPath` is where the
 * project holds the CSV; `testFraction` is the split's default when left out.
 */
export function penguinTreePipeline({ csvPath, testFraction }: { csvPath: string; testFraction?: number }) {
  return {
    format: "dagwood.pipeline/1",
    name: "penguin-tree",
    params: { depth: 3 },
    nodes: [
      { id: "penguins", block: "ingest.file", params: { path: csvPath } },
      {
        id: "split",
        block: "split",
        params: { strategy: "stratified", column: "species", ...(testFraction && { testFraction }), seed: 7 },
      },
      { id: "tree", block: "train.tree", params: { target: "species", maxDepth: "${depth}", seed: 7 } },
      { id: "evaluate", block: "evaluate", params: {} },
      { id: "register", block: "register", params: { name: "penguins", alias: "challenger" } },
    ],
    edges: [
      { from: "penguins.out", to: "split.in" },
      { from: "split.train", to: "tree.train" },
      { from: "tree.model", to: "evaluate.model" },
      { from: "split.test", to: "evaluate.data" },
      { from: "tree.model", to: "register.model" },
      { from: "evaluate.report", to: "register.report" },
    ],
  };
}

/** Starts a run `id` of the pipeline "test" by "tester", now, with no params: what registry tests register from. */
export function startTestRun(store: Pick<MetadataStore, "startRun">, id: string): void {
  store.startRun({
    id,
    pipeline: "test",
    pipelinePath: null,
    pipelineHash: null,
    pipelineText: null,
    params: {},
    resolvedParams: {},
    startedAt: new Date().toISOString(),
    environment: {},
    user: "tester",
  });
}
