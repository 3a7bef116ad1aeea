/** Rows written per materialisation, oldest left (recharts, in the house style of monitoring/Charts.tsx). */
import { Bar, BarChart, CartesianGrid, Cell, Tooltip, XAxis, YAxis } from "recharts";
import type { FeatureMaterialization } from "../../../app/values/features";
import { formatDuration } from "../experiments/format";
import { COLORS } from "../panels/evaluation/format";
import { historyBars } from "./format";

const TICK = { fontSize: 10 };
const MARGIN = { top: 6, right: 10, bottom: 0, left: 0 };

/** One bar per run; with `byView` each view has its colour (and a legend of them). */
export function HistoryChart({
  records,
  width,
  byView = false,
}: {
  records: readonly FeatureMaterialization[];
  width: number;
  byView?: boolean;
}) {
  const bars = historyBars(records);
  const views = [...new Set(bars.map((b) => b.view))].sort();
  const color = (view: string) => COLORS[Math.max(0, views.indexOf(view)) % COLORS.length]!;
  return (
    <div className="history-chart" data-testid="history-chart">
      <BarChart width={width} height={150} data={bars} margin={MARGIN} maxBarSize={28}>
        <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" vertical={false} />
        <XAxis dataKey="label" tick={TICK} interval="preserveStartEnd" />
        <YAxis
          tick={TICK}
          allowDecimals={false}
          width={48}
          tickFormatter={(v) => Number(v).toLocaleString("en-US")}
        />
        <Tooltip
          formatter={(v) => [Number(v).toLocaleString("en-US"), "rows"]}
          labelFormatter={(_, payload) => {
            const b = payload?.[0]?.payload as (typeof bars)[number] | undefined;
            return b ? `${b.view} · ${b.window} UTC · ${formatDuration(b.ms)}` : "";
          }}
        />
        <Bar dataKey="rows" isAnimationActive={false}>
          {bars.map((b) => (
            <Cell key={`${b.view}:${b.at}`} fill={byView ? color(b.view) : COLORS[0]} />
          ))}
        </Bar>
      </BarChart>
      {byView && views.length > 1 && (
        <div className="history-legend small">
          {views.map((v) => (
            <span key={v}>
              <span className="swatch" style={{ background: color(v) }} />
              {v}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
