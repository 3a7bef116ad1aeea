import { Bar, BarChart, Tooltip, XAxis, YAxis } from "recharts";
import type { ColumnProfile } from "../../../../app/values/profile";

/** A categorical (or boolean) column's most frequent values, as horizontal bars. */
export function TopValues({ column }: { column: ColumnProfile }) {
  const top = column.top ?? [];
  if (!top.length) return <div className="muted small chart-empty">No values to chart</div>;
  const data = top.slice(0, 10).map((t) => ({ value: String(t.value), count: t.count }));
  return (
    <BarChart
      width={300}
      height={Math.max(60, data.length * 18 + 20)}
      data={data}
      layout="vertical"
      margin={{ top: 2, right: 10, bottom: 0, left: 4 }}
    >
      <XAxis type="number" tick={{ fontSize: 10 }} allowDecimals={false} />
      <YAxis type="category" dataKey="value" tick={{ fontSize: 10 }} width={90} interval={0} />
      <Tooltip isAnimationActive={false} formatter={(v) => [Number(v).toLocaleString(), "rows"]} />
      <Bar dataKey="count" fill="#8a4fd0" isAnimationActive={false} />
    </BarChart>
  );
}
