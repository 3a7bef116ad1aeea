/** The charts of an explanation report (recharts; loaded with the lazy explanation view only). */
import type { ReactNode } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  ErrorBar,
  Line,
  LineChart,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { FeatureImportance, FeatureValue, PartialDependence } from "../../../../app/values/explanation";
import { GRID, TICK, xAxisLabel, yAxisLabel } from "./chartFrame";
import { COLORS, num } from "./format";

const BAR_W = 380;
const PD_W = 330;
const PD_H = 220;

/** Room for the feature names on a horizontal bar chart. */
const nameWidth = (names: string[]) =>
  Math.min(160, Math.max(60, 8 + 6.2 * Math.max(0, ...names.map((n) => n.length))));

const barsHeight = (n: number) => Math.max(90, 22 * n + 44);

/** An axis past every value (and from 0, with `zero`) on round ticks. */
function niceAxis(values: number[], zero = true): { domain: [number, number]; ticks: number[] } {
  let lo = Math.min(...(zero ? [0] : []), ...values);
  let hi = Math.max(...(zero ? [0] : []), ...values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.1 || 1;
    [lo, hi] = [lo === 0 && zero ? 0 : lo - pad, hi + pad];
  }
  const raw = (hi - lo) / 4 || 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = magnitude * ([1, 2, 2.5, 5].find((m) => raw / magnitude <= m) ?? 10);
  const from = Math.floor(lo / step + 1e-9) * step;
  const to = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let t = from; t <= to + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { domain: [ticks[0] ?? 0, ticks[ticks.length - 1] ?? 1], ticks };
}

/**
 * Horizontal bars, one a feature top to bottom, on a round value axis; `children` are
 * the chart's own reference line, tooltip and bars.
 */
function FeatureBars<Row extends { feature: string }>({
  rows,
  axis,
  axisLabel,
  format,
  children,
}: {
  rows: Row[];
  axis: { domain: [number, number]; ticks: number[] };
  axisLabel: string;
  format(value: number): string;
  children: ReactNode;
}) {
  return (
    <BarChart
      width={BAR_W}
      height={barsHeight(rows.length)}
      data={rows}
      layout="vertical"
      margin={{ top: 4, right: 16, bottom: 16, left: 4 }}
    >
      <CartesianGrid {...GRID} horizontal={false} />
      <XAxis
        type="number"
        domain={axis.domain}
        ticks={axis.ticks}
        tick={TICK}
        tickFormatter={(v) => format(Number(v))}
        label={xAxisLabel(axisLabel, -10)}
      />
      <YAxis
        type="category"
        dataKey="feature"
        tick={TICK}
        width={nameWidth(rows.map((r) => r.feature))}
        interval={0}
      />
      {children}
    </BarChart>
  );
}

export interface PermutationRow {
  feature: string;
  mean: number;
  std: number;
  repeats: number;
}

export const permutationRows = (permutation: FeatureImportance[]): PermutationRow[] =>
  permutation
    .filter((f) => f.mean !== null && Number.isFinite(f.mean))
    .map((f) => ({
      feature: f.feature,
      mean: f.mean as number,
      std: f.std !== null && Number.isFinite(f.std) ? f.std : 0,
      repeats: f.repeats.length,
    }));

/** Horizontal bars of the mean importance, with ± one standard deviation over the repeats. */
export function PermutationChart({ rows, axisLabel }: { rows: PermutationRow[]; axisLabel: string }) {
  const axis = niceAxis(rows.flatMap((r) => [r.mean - r.std, r.mean + r.std]));
  return (
    <FeatureBars rows={rows} axis={axis} axisLabel={axisLabel} format={(v) => num(v)}>
      <ReferenceLine x={0} stroke="#8793a1" />
      <Tooltip
        isAnimationActive={false}
        cursor={{ fill: "#f1f3f6" }}
        content={({ payload }) => {
          const d = payload?.[0]?.payload as PermutationRow | undefined;
          if (!d) return null;
          return (
            <div className="eval-tooltip">
              <b>{d.feature}</b>: {num(d.mean, 4)} ± {num(d.std, 4)}
              <br />
              <span className="muted">
                mean ± std over {d.repeats} shuffle{d.repeats === 1 ? "" : "s"}
              </span>
            </div>
          );
        }}
      />
      <Bar dataKey="mean" fill={COLORS[0]} barSize={14} isAnimationActive={false}>
        <ErrorBar dataKey="std" direction="x" width={5} stroke="#33404f" strokeWidth={1.2} />
      </Bar>
    </FeatureBars>
  );
}

/** The model's own importance (split gain or |coefficients|), in the given feature order. */
export function ModelImportanceChart({
  values,
  order,
  share,
  axisLabel,
}: {
  values: FeatureValue[];
  /** Features top to bottom (the permutation order, so rows line up with that chart). */
  order: string[];
  /** Values are shares of a total (split gain): shown as percentages. */
  share: boolean;
  axisLabel: string;
}) {
  const byFeature = new Map(values.map((v) => [v.feature, v.value]));
  const features = [...order, ...values.map((v) => v.feature).filter((f) => !order.includes(f))];
  const rows = features.map((feature) => ({ feature, value: byFeature.get(feature) ?? 0 }));
  const axis = niceAxis(rows.map((r) => r.value ?? 0));
  const format = (v: number) => (share ? `${(v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0)} %` : num(v));
  return (
    <FeatureBars rows={rows} axis={axis} axisLabel={axisLabel} format={format}>
      <Tooltip
        isAnimationActive={false}
        cursor={{ fill: "#f1f3f6" }}
        formatter={(v) => [format(Number(v)), share ? "share of split gain" : "|coefficient|"]}
      />
      <Bar dataKey="value" fill={COLORS[5]} barSize={14} isAnimationActive={false} />
    </FeatureBars>
  );
}

/** One series of a partial-dependence chart: a class's probability, or the regression prediction. */
export interface PdSeries {
  key: string;
  name: string;
  values: (number | null)[];
}

export function pdSeries(pd: PartialDependence, classes: string[] | undefined): PdSeries[] {
  if (Array.isArray(pd.values)) return [{ key: "s0", name: "prediction", values: pd.values }];
  const values = pd.values;
  const names = [
    ...(classes ?? []).filter((c) => c in values),
    ...Object.keys(values).filter((c) => !classes?.includes(c)),
  ];
  return names.map((name, i) => ({ key: `s${i}`, name, values: values[name] ?? [] }));
}

export const finiteValues = (series: PdSeries[]): number[] =>
  series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));

/**
 * Partial dependence on one feature: the mean prediction (regression) or the mean
 * probability of each class (classification) with the feature set to each grid value.
 * A numeric feature is a line over the grid, a categorical one bars per category.
 */
export function PdChart({
  pd,
  series,
  yLabel,
  probability,
  scale,
}: {
  pd: PartialDependence;
  series: PdSeries[];
  yLabel: string;
  probability: boolean;
  /** Regression: the values of all the report's charts, which share one y range. */
  scale?: number[];
}) {
  // Series are keyed s0, s1, …: class names may hold dots, which recharts reads as paths.
  const data = pd.grid.map((x, i) => {
    const row: Record<string, number | string | null> = { x };
    for (const s of series) row[s.key] = s.values[i] ?? null;
    return row;
  });
  const numeric = pd.kind === "numeric";
  // Regression: one range for every chart of the report (so effects compare), on round ticks;
  // bars start at 0, so their lengths compare honestly.
  const axis = probability
    ? { domain: [0, 1] as [number, number], ticks: undefined }
    : niceAxis(scale ?? finiteValues(series), !numeric);
  const yAxis = (
    <YAxis
      type="number"
      domain={axis.domain}
      ticks={axis.ticks}
      tick={TICK}
      tickFormatter={(v) => num(Number(v))}
      label={yAxisLabel(yLabel)}
    />
  );
  const tooltip = (
    <Tooltip
      isAnimationActive={false}
      formatter={(v, name) => [num(Number(v), 4), name]}
      labelFormatter={(x) => `${pd.feature} = ${typeof x === "number" ? num(x, 4) : String(x)}`}
    />
  );
  const xLabel = xAxisLabel(pd.feature);
  const margin = { top: 6, right: 12, bottom: 14, left: -4 };
  return (
    <figure className="eval-chart" data-testid="pd-chart" data-feature={pd.feature}>
      <figcaption>
        <span className="mono">{pd.feature}</span>{" "}
        <span className="muted">({numeric ? "numeric" : "categorical"})</span>
      </figcaption>
      {numeric ? (
        <LineChart width={PD_W} height={PD_H} data={data} margin={margin}>
          <CartesianGrid {...GRID} />
          <XAxis
            type="number"
            dataKey="x"
            domain={["dataMin", "dataMax"]}
            tick={TICK}
            tickFormatter={(v) => num(Number(v))}
            label={xLabel}
          />
          {yAxis}
          {tooltip}
          {series.map((s, i) => (
            <Line
              key={s.key}
              dataKey={s.key}
              name={s.name}
              stroke={COLORS[i % COLORS.length]}
              strokeWidth={2}
              dot={{ r: 1.5 }}
              type="linear"
              connectNulls
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      ) : (
        <BarChart
          width={Math.max(PD_W, 70 + pd.grid.length * Math.max(1, series.length) * 14)}
          height={PD_H}
          data={data}
          margin={margin}
        >
          <CartesianGrid {...GRID} vertical={false} />
          <XAxis dataKey="x" tick={TICK} interval={0} label={xLabel} />
          {yAxis}
          {tooltip}
          {series.map((s, i) => (
            <Bar
              key={s.key}
              dataKey={s.key}
              name={s.name}
              fill={COLORS[i % COLORS.length]}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      )}
    </figure>
  );
}
