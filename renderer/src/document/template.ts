/**
 * The starter template an empty project offers: read a file → profile it →
 * split it → train gradient boosting → evaluate on the held-out rows. The
 * target is left for the user to pick in the inspector (the train node is
 * selected for that).
 */
import type { PipelineDocument } from "../store/types";
import { connectedId, uniqueId } from "./ids";

/** A node id, a pipeline name and a file name made from a data file's name ("data/Seattle Weather.csv" → "Seattle_Weather"). */
export function stemOf(dataPath: string): string {
  const file = dataPath.split(/[\\/]/).pop() ?? "";
  const bare = file.replace(/(\.gz)$/i, "").replace(/\.[A-Za-z0-9]+$/, "");
  const clean = bare.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  if (!clean) return "data";
  return /^[A-Za-z_]/.test(clean) ? clean : `data_${clean}`;
}

export interface Template {
  document: PipelineDocument;
  /** The node whose form needs the user next (the target of training). */
  select: string;
}

/** The template pipeline reading `dataPath` (a path relative to the project, as `ingest.file` takes it). */
export function starterPipeline(dataPath: string): Template {
  const stem = stemOf(dataPath);
  const empty: PipelineDocument = { nodes: [], edges: [] };
  const taken = new Set<string>();
  const id = (base: string) => {
    const free = uniqueId(empty, base, taken);
    taken.add(free);
    return free;
  };
  const read = id(stem);
  const profile = id("profile");
  const split = id("split");
  const train = id("gbdt");
  // Named as the editor names an evaluate connected to a model (eval_gbdt).
  const evaluate = id(
    connectedId(empty, { id: "evaluate", block: "evaluate" }, "model", { id: train, block: "train.gbdt" }) ??
      "evaluate",
  );
  const document: PipelineDocument = {
    format: "dagwood.pipeline/1",
    name: `${stem}-model`,
    description: `Train and evaluate a model on ${dataPath}`,
    params: {},
    nodes: [
      { id: read, block: "ingest.file", params: { path: dataPath } },
      { id: profile, block: "analyze.profile", params: {} },
      { id: split, block: "split", params: {} },
      { id: train, block: "train.gbdt", params: {} },
      { id: evaluate, block: "evaluate", params: {} },
    ],
    edges: [
      { from: `${read}.out`, to: `${profile}.in` },
      { from: `${read}.out`, to: `${split}.in` },
      { from: `${split}.train`, to: `${train}.train` },
      { from: `${train}.model`, to: `${evaluate}.model` },
      { from: `${split}.test`, to: `${evaluate}.data` },
    ],
    // Left to right as data flows; the profile sits above the split, off the main line.
    layout: {
      [read]: { x: 0, y: 140 },
      [profile]: { x: 310, y: 0 },
      [split]: { x: 310, y: 180 },
      [train]: { x: 620, y: 140 },
      [evaluate]: { x: 930, y: 180 },
    },
  };
  return { document, select: train };
}
