/** The Monitoring view's charts (recharts, in the house style of deployments/TrafficCharts.tsx). */
import {
  Area,
  AreaChart,
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ReferenceArea,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { MonitoringReport, MonitoringWindow } from "../../../app/values/monitoring";
import { COLORS } from "../panels/evaluation/format";
import type { Distribution } from "./api";
import { num, performanceRows, predictionRows } from "./format";

const TICK = { fontSize: 10 };
const MARGIN = { top: 6, right: 10, bottom: 0, left: -14 };
const pct = (x: number) => `${Math.round(x * 100)} %`;
const REF = "#7b8794";
const CUR = "#e07b39";

/** The reference and the current distribution of one column on the same bins, overlaid. */
export function DistributionChart({ d, width }: { d: Distribution; width: number }) {
  const data = d.reference.map((b, i) => ({
    bin: b.label,
    reference: b.share,
    current: d.current[i]?.share ?? 0,
  }));
  if (d.type === "numeric")
    return (
      <AreaChart width={width} height={190} data={data} margin={MARGIN} data-testid="distribution-chart">
        <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" vertical={false} />
        <XAxis dataKey="bin" tick={TICK} interval="preserveStartEnd" />
        <YAxis tick={TICK} tickFormatter={pct} />
        <Tooltip formatter={(v) => pct(Number(v))} />
        <Legend wrapperStyle={{ fontSize: 11 }} />
        <Area
          type="step"
          dataKey="reference"
          name={`reference (${d.rows.reference} rows)`}
          stroke={REF}
          fill={REF}
          fillOpacity={0.35}
          isAnimationActive={false}
        />
        <Area
          type="step"
          dataKey="current"
          name={`current (${d.rows.current} rows)`}
          stroke={CUR}
          fill={CUR}
          fillOpacity={0.35}
          isAnimationActive={false}
        />
      </AreaChart>
    );
  return (
    <BarChart width={width} height={190} data={data} margin={MARGIN} data-testid="distribution-chart">
      <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" vertical={false} />
      <XAxis
        dataKey="bin"
        tick={TICK}
        interval={0}
        angle={data.length > 8 ? -30 : 0}
        height={data.length > 8 ? 40 : 20}
      />
      <YAxis tick={TICK} tickFormatter={pct} />
      <Tooltip formatter={(v) => pct(Number(v))} />
      <Legend wrapperStyle={{ fontSize: 11 }} />
      <Bar
        dataKey="reference"
        name={`reference (${d.rows.reference} rows)`}
        fill={REF}
        isAnimationActive={false}
      />
      <Bar dataKey="current" name={`current (${d.rows.current} rows)`} fill={CUR} isAnimationActive={false} />
    </BarChart>
  );
}

/** Per window, the share of each class (or of each bin of a regression's answers), stacked. */
export function PredictionChart({
  report,
  windows,
  width,
}: {
  report: MonitoringReport;
  windows: MonitoringWindow[];
  width: number;
}) {
  const { rows, keys } = predictionRows({ ...report, windows });
  return (
    <BarChart
      width={width}
      height={180}
      data={rows}
      margin={MARGIN}
      maxBarSize={36}
      data-testid="prediction-chart"
    >
      <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" vertical={false} />
      <XAxis dataKey="window" tick={TICK} />
      <YAxis tick={TICK} tickFormatter={pct} domain={[0, 1]} />
      <Tooltip formatter={(v) => pct(Number(v))} />
      <Legend wrapperStyle={{ fontSize: 11 }} />
      {keys.map((k, i) => (
        <Bar key={k} dataKey={k} stackId="p" fill={COLORS[i % COLORS.length]} isAnimationActive={false} />
      ))}
    </BarChart>
  );
}

/** A metric per window against the registered figure ± the tolerance. */
export function PerformanceChart({
  report,
  windows,
  metric,
  width,
}: {
  report: MonitoringReport;
  windows: MonitoringWindow[];
  metric: string;
  width: number;
}) {
  const rows = performanceRows({ ...report, windows }, metric);
  const registered = report.registered[metric];
  const values = rows.map((r) => r.value).filter((v): v is number => v !== null);
  const all =
    registered !== undefined
      ? [...values, registered - report.tolerance, registered + report.tolerance]
      : values;
  // Shares (accuracy, F1, AUC) stay within 0…1.
  const unit = [...values, ...(registered !== undefined ? [registered] : [])].every((v) => v >= 0 && v <= 1);
  const pad = (Math.max(...all) - Math.min(...all)) * 0.1 || 0.05;
  const lo = unit ? Math.max(0, Math.min(...all) - pad) : Math.min(...all) - pad;
  const hi = unit ? Math.min(1, Math.max(...all) + pad) : Math.max(...all) + pad;
  return (
    <LineChart width={width} height={180} data={rows} margin={MARGIN} data-testid="performance-chart">
      <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" vertical={false} />
      <XAxis dataKey="window" tick={TICK} />
      <YAxis tick={TICK} domain={[lo, hi]} tickFormatter={(v) => num(Number(v), 2)} />
      <Tooltip formatter={(v) => num(Number(v))} />
      <Legend wrapperStyle={{ fontSize: 11 }} />
      {registered !== undefined && (
        <ReferenceArea
          y1={registered - report.tolerance}
          y2={registered + report.tolerance}
          fill="#2e8b57"
          fillOpacity={0.08}
          ifOverflow="hidden"
        />
      )}
      {registered !== undefined && (
        <ReferenceLine
          y={registered}
          stroke="#2e8b57"
          strokeDasharray="4 3"
          label={{
            value: `registered ${num(registered)} ± ${num(report.tolerance)}`,
            fontSize: 10,
            position: "insideTopLeft",
          }}
        />
      )}
      <Line
        dataKey="value"
        name={metric}
        stroke={COLORS[0]}
        connectNulls
        isAnimationActive={false}
        dot={(p: {
          cx?: number;
          cy?: number;
          index?: number;
          payload?: { breached: boolean; value: number | null };
        }) =>
          p.payload?.value === null ||
          p.payload?.value === undefined ||
          p.cx === undefined ||
          p.cy === undefined ? (
            <g key={p.index} />
          ) : (
            <circle
              key={p.index}
              cx={p.cx}
              cy={p.cy}
              r={p.payload.breached ? 4 : 2.5}
              fill={p.payload.breached ? "#c8423b" : COLORS[0]}
            />
          )
        }
      />
    </LineChart>
  );
}
