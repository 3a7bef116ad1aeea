/** The curves of an evaluation report (recharts; loaded with the lazy views only). */
import type { ReactNode } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type {
  CalibrationBin,
  EvaluationReport,
  GroupRow,
  PrCurve,
  RocCurve,
} from "../../../../app/values/evaluation";
import { GRID, TICK, xAxisLabel, yAxisLabel } from "./chartFrame";
import { COLORS, metricName, num } from "./format";

const W = 330;
const H = 250;
const UNIT = [0, 1] as [number, number];
const DIAGONAL: [{ x: number; y: number }, { x: number; y: number }] = [
  { x: 0, y: 0 },
  { x: 1, y: 1 },
];

function points(xs: (number | null)[], ys: (number | null)[]): { x: number; y: number }[] {
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x !== null && x !== undefined && y !== null && y !== undefined) out.push({ x, y });
  }
  return out;
}

const labelOf = (l: unknown) => (l === undefined || l === "" ? "" : `${String(l)} · `);

/** An HTML legend under a chart: it wraps without covering the plot. */
function CurveLegend({ items }: { items: string[] }) {
  return (
    <ul className="eval-legend">
      {items.map((text, i) => (
        <li key={text}>
          <span className="swatch" style={{ background: COLORS[i % COLORS.length] }} />
          {text}
        </li>
      ))}
    </ul>
  );
}

function rocCurves(roc: NonNullable<EvaluationReport["roc"]>, positive?: unknown): RocCurve[] {
  return "perClass" in roc
    ? roc.perClass
    : [{ ...roc, label: positive === undefined ? "" : String(positive) }];
}

/** ROC and precision–recall: one curve per class on the unit square, with a legend under the plot. */
function UnitCurvesChart({
  testId,
  caption,
  xLabel,
  yLabel,
  xName,
  reference,
  curves,
  type,
}: {
  testId: string;
  caption: ReactNode;
  xLabel: string;
  yLabel: string;
  /** The tooltip's heading: the x value after this name. */
  xName: string;
  /** The chance line the curves are read against. */
  reference: ReactNode;
  curves: { key: string; name: string; points: { x: number; y: number }[] }[];
  type: "linear" | "stepAfter";
}) {
  return (
    <figure className="eval-chart" data-testid={testId}>
      <figcaption>{caption}</figcaption>
      <LineChart width={W} height={H} margin={{ top: 6, right: 10, bottom: 14, left: -10 }}>
        <CartesianGrid {...GRID} />
        <XAxis type="number" dataKey="x" domain={UNIT} tick={TICK} label={xAxisLabel(xLabel)} />
        <YAxis type="number" dataKey="y" domain={UNIT} tick={TICK} label={yAxisLabel(yLabel)} />
        {reference}
        <Tooltip
          isAnimationActive={false}
          formatter={(v) => num(Number(v))}
          labelFormatter={(x) => `${xName} ${num(Number(x))}`}
        />
        {curves.map((c, i) => (
          <Line
            key={c.key}
            data={c.points}
            dataKey="y"
            name={c.name}
            stroke={COLORS[i % COLORS.length]}
            dot={false}
            strokeWidth={2}
            type={type}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
      <CurveLegend items={curves.map((c) => c.name)} />
    </figure>
  );
}

export function RocChart({ report }: { report: EvaluationReport }) {
  const roc = report.roc;
  if (!roc) return null;
  return (
    <UnitCurvesChart
      testId="roc-chart"
      caption={<>ROC curve{"perClass" in roc ? ` (one vs rest, macro AUC ${num(roc.auc)})` : ""}</>}
      xLabel="false positive rate"
      yLabel="true positive rate"
      xName="FPR"
      reference={
        <ReferenceLine segment={DIAGONAL} stroke="#aab2bd" strokeDasharray="4 4" ifOverflow="visible" />
      }
      curves={rocCurves(roc, report.positiveClass).map((c, i) => ({
        key: String(c.label ?? i),
        name: `${labelOf(c.label)}AUC ${num(c.auc)}`,
        points: points(c.fpr, c.tpr),
      }))}
      type="linear"
    />
  );
}

export function PrChart({ report }: { report: EvaluationReport }) {
  const pr = report.pr;
  if (!pr) return null;
  const curves: PrCurve[] = "perClass" in pr ? pr.perClass : [{ ...pr, label: report.positiveClass ?? "" }];
  const base = report.task === "binary" ? report.metrics.base_rate : undefined;
  return (
    <UnitCurvesChart
      testId="pr-chart"
      caption="Precision–recall"
      xLabel="recall"
      yLabel="precision"
      xName="recall"
      reference={
        typeof base === "number" && (
          <ReferenceLine y={base} stroke="#aab2bd" strokeDasharray="4 4" ifOverflow="visible" />
        )
      }
      curves={curves.map((c, i) => ({
        key: String(c.label ?? i),
        name: `${labelOf(c.label)}AP ${num(c.averagePrecision)}`,
        points: points(c.recall, c.precision),
      }))}
      type="stepAfter"
    />
  );
}

export function CalibrationChart({
  calibration,
}: {
  calibration: NonNullable<EvaluationReport["calibration"]>;
}) {
  const data = calibration.bins
    .filter((b) => b.count > 0)
    .map((b: CalibrationBin) => ({
      x: b.meanPredicted,
      y: b.observed,
      count: b.count,
      range: `${num(b.lower, 2)}–${num(b.upper, 2)}`,
    }));
  const total = data.reduce((s, d) => s + d.count, 0) || 1;
  const confidence = calibration.of === "confidence";
  return (
    <figure className="eval-chart" data-testid="calibration-chart">
      <figcaption>
        Calibration{confidence ? " (top-class confidence)" : ""} · ECE {num(calibration.ece)}
      </figcaption>
      <ComposedChart width={W} height={H} data={data} margin={{ top: 14, right: 10, bottom: 14, left: -10 }}>
        <CartesianGrid {...GRID} />
        <XAxis
          type="number"
          dataKey="x"
          domain={UNIT}
          tick={TICK}
          label={xAxisLabel(confidence ? "mean confidence" : "mean predicted P(positive)")}
        />
        <YAxis
          type="number"
          domain={UNIT}
          tick={TICK}
          label={yAxisLabel(confidence ? "accuracy" : "observed positive share")}
        />
        <ReferenceLine segment={DIAGONAL} stroke="#aab2bd" strokeDasharray="4 4" ifOverflow="visible" />
        <Tooltip
          isAnimationActive={false}
          content={({ payload }) => {
            const d = payload?.[0]?.payload as (typeof data)[number] | undefined;
            if (!d) return null;
            return (
              <div className="eval-tooltip">
                bin {d.range}: {d.count} rows
                <br />
                predicted {num(d.x)}, observed {num(d.y)}
              </div>
            );
          }}
        />
        <Line dataKey="y" stroke={COLORS[0]} strokeWidth={2} isAnimationActive={false} dot={false} />
        <Scatter
          dataKey="y"
          fill={COLORS[0]}
          isAnimationActive={false}
          shape={(props: { cx?: number; cy?: number; payload?: { count: number } }) => (
            <circle
              cx={props.cx}
              cy={props.cy}
              r={3 + 9 * Math.sqrt((props.payload?.count ?? 0) / total)}
              fill={COLORS[0]}
              fillOpacity={0.55}
              stroke="#fff"
            />
          )}
        />
      </ComposedChart>
      <div className="eval-bin-counts muted small">
        rows per bin:{" "}
        {data.map((d) => (
          <span key={d.range} title={`${d.range}`}>
            {d.range} <b>{d.count}</b>
          </span>
        ))}
      </div>
    </figure>
  );
}

export function ResidualsChart({ residuals }: { residuals: NonNullable<EvaluationReport["residuals"]> }) {
  const data = residuals.predicted.map((p, i) => ({ x: p, y: residuals.residual[i] ?? 0 }));
  return (
    <figure className="eval-chart wide" data-testid="residuals-chart">
      <figcaption>
        Residuals vs predicted{residuals.sampled ? ` (a sample of ${data.length.toLocaleString()} rows)` : ""}
      </figcaption>
      <ScatterChart width={W + 120} height={H} margin={{ top: 6, right: 10, bottom: 14, left: 0 }}>
        <CartesianGrid {...GRID} />
        <XAxis
          type="number"
          dataKey="x"
          domain={["auto", "auto"]}
          tick={TICK}
          tickFormatter={(v) => num(Number(v))}
          label={xAxisLabel("predicted")}
        />
        <YAxis
          type="number"
          dataKey="y"
          tick={TICK}
          tickFormatter={(v) => num(Number(v))}
          label={yAxisLabel("actual − predicted", 6)}
        />
        <ReferenceLine y={0} stroke="#8793a1" strokeDasharray="4 4" />
        <Tooltip isAnimationActive={false} formatter={(v) => num(Number(v))} />
        <Scatter data={data} fill={COLORS[0]} fillOpacity={0.6} isAnimationActive={false} />
      </ScatterChart>
    </figure>
  );
}

/** Per-group bars of a few metrics (those the gaps are computed from). */
export function GroupBars({ rows, metrics }: { rows: GroupRow[]; metrics: string[] }) {
  const data = rows.map((r) => ({ group: r.group ?? "(missing)", n: r.n, ...r.metrics }));
  return (
    <BarChart width={Math.max(W, 90 + rows.length * metrics.length * 22)} height={H - 30} data={data}>
      <CartesianGrid {...GRID} vertical={false} />
      <XAxis dataKey="group" tick={TICK} />
      <YAxis tick={TICK} tickFormatter={(v) => num(Number(v))} />
      <Tooltip
        isAnimationActive={false}
        formatter={(v, name) => [num(Number(v)), metricName(String(name))]}
      />
      <Legend wrapperStyle={{ fontSize: 11 }} formatter={(v) => metricName(String(v))} />
      {metrics.map((m, i) => (
        <Bar key={m} dataKey={m} fill={COLORS[i % COLORS.length]} isAnimationActive={false} />
      ))}
    </BarChart>
  );
}

export interface LossPoint {
  step: number;
  train_loss?: number;
  valid_loss?: number;
}

export function LossChart({ points: data }: { points: LossPoint[] }) {
  const valid = data.some((d) => d.valid_loss !== undefined);
  return (
    <LineChart
      width={W + 120}
      height={H - 20}
      data={data}
      margin={{ top: 6, right: 10, bottom: 14, left: 0 }}
    >
      <CartesianGrid {...GRID} />
      <XAxis
        type="number"
        dataKey="step"
        domain={["dataMin", "dataMax"]}
        tick={TICK}
        label={xAxisLabel("iteration")}
      />
      <YAxis tick={TICK} tickFormatter={(v) => num(Number(v))} domain={["auto", "auto"]} />
      <Tooltip
        isAnimationActive={false}
        formatter={(v) => num(Number(v), 4)}
        labelFormatter={(s) => `step ${s}`}
      />
      <Legend wrapperStyle={{ fontSize: 11 }} verticalAlign="top" />
      <Line
        dataKey="train_loss"
        name="train loss"
        stroke={COLORS[0]}
        dot={false}
        strokeWidth={2}
        isAnimationActive={false}
      />
      {valid && (
        <Line
          dataKey="valid_loss"
          name="validation loss"
          stroke={COLORS[1]}
          dot={false}
          strokeWidth={2}
          connectNulls
          isAnimationActive={false}
        />
      )}
    </LineChart>
  );
}
