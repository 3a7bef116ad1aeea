/**
 * startRun, cancelRun, listRuns, getReport: runs in the open project, any
 * number at once; collectGarbage, which drops old cache entries between runs.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { newRunId, runPlan } from "../../engine/engine";
import type { OutputSummary } from "../../engine/events";
import type { ModelValue, PortValue } from "../../engine/ports";
import { maskModelCategories, maskReport, personalColumns, personalInputsOf } from "../../privacy/masking";
import { ApiError, type ApiResults } from "../api";
import { ownerFilter } from "../tracking";
import { pipelinePath, planDocument } from "./pipelines";
import type { CoreState, Handlers } from "./state";

export function runHandlers(
  state: CoreState,
): Handlers<"startRun" | "cancelRun" | "listRuns" | "getReport" | "collectGarbage"> {
  return {
    async startRun({ document, path, targets, noCache, fullRefresh, params }) {
      // A run reads cached tables: it does not plan while a collection may drop them.
      while (state.collecting) await state.collecting.catch(() => {});
      const p = state.requireProject();
      const { plan, problems } = planDocument(state, document, params);
      if (!plan) {
        const detail = problems.map((x) => `${x.path}: ${x.message}`).join("; ");
        throw new ApiError(400, `The pipeline has problems; fix them before running: ${detail}`);
      }
      for (const t of targets ?? []) {
        if (!plan.order.some((n) => n.id === t)) throw new ApiError(400, `Unknown node "${t}"`);
      }
      for (const t of fullRefresh ?? []) {
        if (!plan.order.some((n) => n.id === t))
          throw new ApiError(400, `Full refresh: no node "${t}" in the pipeline`);
      }
      const runId = newRunId();
      const controller = new AbortController();
      const done = runPlan({
        project: p,
        plan,
        runId,
        pipelinePath: path ? pipelinePath(p, path) : undefined,
        noCache,
        ...(fullRefresh?.length ? { fullRefresh } : {}),
        targets,
        signal: controller.signal,
        onEvent: state.emit,
      })
        .catch((e) =>
          state.emit({ type: "run.finished", runId, status: "failed", ms: 0, error: (e as Error).message }),
        )
        .finally(() => state.active.delete(runId));
      state.active.set(runId, { controller, done });
      return { runId };
    },
    async cancelRun({ runId }) {
      const run = state.active.get(runId);
      if (!run) return { canceled: false };
      run.controller.abort();
      await run.done;
      return { canceled: true };
    },
    async collectGarbage({ keepRuns }) {
      const p = state.requireProject();
      if (state.active.size > 0 || state.collecting) {
        const n = state.active.size;
        throw new ApiError(
          409,
          n > 0
            ? `${n} run${n === 1 ? " is" : "s are"} in progress in this project; clean the cache once ${n === 1 ? "it ends" : "they end"}.`
            : "The cache is being cleaned already.",
        );
      }
      const collecting = p.workspace.collectGarbage(p.metadata.recentCacheKeys(keepRuns));
      state.collecting = collecting;
      try {
        return await collecting;
      } finally {
        state.collecting = null;
      }
    },
    async listRuns({ pipeline, limit, user, host, mine }) {
      const { metadata } = state.requireProject();
      const owner = ownerFilter({ user, host, mine });
      if (owner.user === undefined && owner.host === undefined) return metadata.listRuns({ pipeline, limit });
      // The same runs, newest first, through the search that filters by owner (no metrics: a list needs none).
      const page = metadata.searchRuns({ pipeline, ...owner, limit: limit ?? 100, metricKeys: [] });
      return page.runs.map(({ metrics: _m, resolvedParams: _p, ...run }) => run);
    },
    async getReport({ runId, nodeId, port }) {
      const p = state.requireProject();
      const node = p.metadata.nodeRuns(runId).find((n) => n.nodeId === nodeId);
      // The personal columns of the tables the node read, whose tags the run records on the upstream
      // outputs: a report's values of them are masked (app/privacy/masking.ts).
      const readColumns = () => {
        const runs = p.metadata.nodeRuns(runId);
        return personalColumns(
          Object.values(node!.inputs).flatMap((ref) => {
            const read = runs.find((n) => n.nodeId === ref.node)?.outputs[ref.port] as
              | OutputSummary
              | undefined;
            return Object.entries(read?.tags ?? {}).map(([name, tags]) => ({ name, tags }));
          }),
        );
      };
      // A failed validate.expectations node keeps its report beside the run's artifacts (the
      // engine keeps no outputs of a failed node); the ids are the store's own, not a path.
      if (node?.status === "failed" && port === "report") {
        const kept = join(p.artifactsDir, node.runId, node.nodeId, "report.json");
        // A failed validation's report, kept beside the run, lists unexpected values: masked too.
        if (existsSync(kept))
          return {
            data: maskReport(
              JSON.parse(await readFile(kept, "utf8")),
              readColumns(),
            ) as ApiResults["getReport"]["data"],
          };
      }
      if (!node?.cacheKey) throw new ApiError(404, `No outputs of node ${nodeId} in run ${runId}`);
      const text = await p.workspace.getCached(node.cacheKey);
      if (!text)
        throw new ApiError(404, `The outputs of ${nodeId} are no longer cached: run the pipeline again`);
      const value = (JSON.parse(text) as Record<string, PortValue>)[port];
      if (!value || value.type === "table")
        throw new ApiError(404, `Node ${nodeId} has no report output "${port}"`);
      // A profile's frequent values and extremes, an explanation's categories, are values of the table
      // it read: masked for its personal columns, whose tags the run records on the upstream outputs
      // (app/privacy/masking.ts).
      if (
        value.type === "report" &&
        ["profile", "explanation", "validation"].includes(String((value.data as { kind?: unknown }).kind))
      )
        return { data: maskReport(value.data, readColumns()) as typeof value.data };
      // A model's fitted categories of a personal text input are its values: the app shows them masked.
      if (value.type === "model")
        return {
          data: maskModelCategories(value.data, personalInputsOf((value as ModelValue).personalData)),
        };
      return { data: value.data };
    },
  };
}
