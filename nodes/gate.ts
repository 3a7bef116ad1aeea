import { z } from "zod";
import { BlockError, defineBlock } from "../app/engine/block";

const OPS = {
  ">=": (a: number, b: number) => a >= b,
  ">": (a: number, b: number) => a > b,
  "<=": (a: number, b: number) => a <= b,
  "<": (a: number, b: number) => a < b,
} as const;

type Op = keyof typeof OPS;

const params = z.object({
  metric: z
    .string()
    .min(1)
    .describe('The metric to check, a name in the report\'s metrics (e.g. "accuracy", "roc_auc", "rmse")'),
  op: z
    .enum(Object.keys(OPS) as [Op, ...Op[]])
    .default(">=")
    .describe("How the metric must compare with the threshold to pass"),
  threshold: z.number().describe("The value the metric is compared with"),
});

/**
 * The value as a reader wants it (4 significant digits), unless rounding
 * would flip the comparison, as "0.94996 is not >= 0.95" would read "0.95".
 */
function shown(value: number, op: Op, threshold: number): string {
  const short = Number(value.toPrecision(4));
  return OPS[op](short, threshold) === OPS[op](value, threshold) ? String(short) : String(value);
}

export default defineBlock({
  kind: "gate",
  version: 1,
  title: "Gate",
  category: "Evaluate",
  description:
    "Fails the run unless a metric of the report passes a threshold (e.g. accuracy >= 0.95, or demographic_parity_difference <= 0.1 from evaluate with groupBy); when it passes, the report goes through unchanged. Comparing against the registered champion model comes with the model registry.",
  inputs: { report: { type: "report", description: "A report with metrics, e.g. from evaluate" } },
  outputs: { report: { type: "report", description: "The same report, when the gate passes" } },
  params,
  async run(ctx, inputs, p) {
    const input = inputs.report;
    if (!input) throw new BlockError('Input "report" is not connected');
    if (input.type !== "report") throw new BlockError(`Input "report" must be a report, got ${input.type}`);
    const data = input.data as { kind?: unknown; metrics?: unknown } | null;
    const metrics = data?.metrics;
    if (!metrics || typeof metrics !== "object") {
      throw new BlockError(
        `The report (kind ${JSON.stringify(data?.kind)}) has no metrics to check. Connect a report that has them, e.g. evaluate's.`,
      );
    }
    const values = metrics as Record<string, unknown>;
    if (!(p.metric in values)) {
      throw new BlockError(
        `The report has no metric "${p.metric}". Its metrics are: ${Object.keys(values).join(", ")}.`,
      );
    }
    const value = values[p.metric];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new BlockError(
        `Gate failed: ${p.metric} is undefined for this data (${JSON.stringify(value)}), so it cannot be ${p.op} ${p.threshold}.`,
      );
    }
    if (!OPS[p.op](value, p.threshold)) {
      throw new BlockError(
        `Gate failed: ${p.metric} ${shown(value, p.op, p.threshold)} is not ${p.op} ${p.threshold}`,
      );
    }
    ctx.log(`Gate passed: ${p.metric} ${shown(value, p.op, p.threshold)} ${p.op} ${p.threshold}`);
    return { report: { type: "report", data: input.data } };
  },
});
