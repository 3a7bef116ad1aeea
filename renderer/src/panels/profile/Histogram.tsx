import { Bar, BarChart, Tooltip, XAxis, YAxis } from "recharts";
import type { ColumnProfile } from "../../../../app/values/profile";
import { formatStat } from "./format";

/** A numeric or temporal column's histogram: one bar per bin, labelled by its lower edge. */
export function Histogram({ column }: { column: ColumnProfile }) {
  const h = column.histogram;
  if (!h?.counts.length) return <div className="muted small chart-empty">No values to chart</div>;
  const data = h.counts.map((count, i) => ({
    bin: formatStat(h.edges[i], column, true),
    range: `${formatStat(h.edges[i], column)} – ${formatStat(h.edges[i + 1], column)}`,
    count,
  }));
  return (
    <BarChart
      width={300}
      height={130}
      data={data}
      margin={{ top: 6, right: 6, bottom: 0, left: -18 }}
      barCategoryGap={1}
    >
      <XAxis dataKey="bin" tick={{ fontSize: 10 }} interval="preserveStartEnd" minTickGap={24} />
      <YAxis tick={{ fontSize: 10 }} allowDecimals={false} />
      <Tooltip
        isAnimationActive={false}
        labelFormatter={(_, payload) => payload?.[0]?.payload?.range ?? ""}
        formatter={(v) => [Number(v).toLocaleString(), "rows"]}
      />
      <Bar dataKey="count" fill="#2f7dd1" isAnimationActive={false} />
    </BarChart>
  );
}
