/**
 * The nodes of the pipelines a page of runs used, so the runs table's metric
 * and param columns can say "accuracy of eval_2 — evaluate of gbdt". One
 * recorded pipeline is read per pipeline version on the page (at most a few),
 * once per window.
 */
import { useEffect, useState } from "react";
import type { RunListItem } from "../../../app/api/api";
import { api } from "../api/client";
import { type NodeInfo, pipelineNodes, runsPerPipeline } from "./nodeInfo";

/** Nodes per pipeline version, read once per window: a version's recorded pipeline never changes. */
const byVersion = new Map<string, Map<string, NodeInfo>>();

function merge(versions: string[]): Map<string, NodeInfo> {
  const merged = new Map<string, NodeInfo>();
  // The first pipeline on the page wins for a node id two versions share.
  for (const v of versions)
    for (const [id, info] of byVersion.get(v) ?? []) if (!merged.has(id)) merged.set(id, info);
  return merged;
}

export function useRunNodes(runs: RunListItem[] | null): Map<string, NodeInfo> {
  const wanted = runs ? runsPerPipeline(runs) : [];
  const key = wanted.map((w) => w.version).join(",");
  const [nodes, setNodes] = useState<Map<string, NodeInfo>>(new Map());
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` names the versions read
  useEffect(() => {
    const versions = wanted.map((w) => w.version);
    const missing = wanted.filter((w) => !byVersion.has(w.version));
    if (!missing.length) {
      setNodes(merge(versions));
      return;
    }
    let live = true;
    // A column tooltip is a nicety: a failed read leaves the plain key, without a toast.
    Promise.all(
      missing.map((w) =>
        api.compareRuns({ runIds: [w.runId] }).then(
          (cmp) => byVersion.set(w.version, pipelineNodes(cmp.pipeline)),
          () => undefined,
        ),
      ),
    ).then(() => {
      if (live) setNodes(merge(versions));
    });
    return () => {
      live = false;
    };
  }, [key]);
  return nodes;
}
