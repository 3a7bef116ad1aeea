import type { MetricRecord } from "../../../../app/api/api";
import { api } from "../../api/client";
import type { LossPoint } from "./charts";

const LOSS_NAMES: Record<string, "train_loss" | "valid_loss" | undefined> = {
  train_loss: "train_loss",
  valid_loss: "valid_loss",
  loss: "train_loss",
  val_loss: "valid_loss",
};

function lossPoints(metrics: MetricRecord[], nodeId: string): LossPoint[] {
  const byStep = new Map<number, LossPoint>();
  for (const m of metrics) {
    if (m.nodeId !== nodeId || m.step === null) continue;
    // Boosting streams train_loss/valid_loss per round; the MLP loss/val_loss per epoch.
    const key = LOSS_NAMES[m.name];
    if (!key) continue;
    const point = byStep.get(m.step) ?? { step: m.step };
    point[key] = m.value;
    byStep.set(m.step, point);
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/**
 * The training curve (train_loss / valid_loss per step) of a node's output.
 * A node that was cached in this run emitted no metrics, so the recent run in
 * which it ran with the same cache key is looked up.
 */
export async function loadLossCurve(
  runId: string,
  nodeId: string,
): Promise<{ points: LossPoint[]; runId: string } | null> {
  const detail = await api.getRun({ runId });
  const points = lossPoints(detail.metrics, nodeId);
  if (points.length) return { points, runId };
  const key = detail.nodes.find((n) => n.nodeId === nodeId)?.cacheKey;
  if (!key) return null;
  const runs = await api.listRuns({ pipeline: detail.run.pipeline, limit: 20 });
  for (const run of runs) {
    if (run.id === runId) continue;
    const other = await api.getRun({ runId: run.id });
    if (!other.nodes.some((n) => n.nodeId === nodeId && n.cacheKey === key && n.status === "ran")) continue;
    const found = lossPoints(other.metrics, nodeId);
    if (found.length) return { points: found, runId: run.id };
  }
  return null;
}
