import { Bar, BarChart, Tooltip, XAxis, YAxis } from "recharts";
import type { ColumnProfile } from "../../../../app/values/profile";
import { percent } from "./format";

/** The share of missing values per column. */
export function MissingBars({ columns }: { columns: ColumnProfile[] }) {
  if (columns.every((c) => c.nulls === 0)) {
    return (
      <p className="muted small profile-missing-none" data-testid="profile-no-missing">
        No missing values
      </p>
    );
  }
  const data = columns.map((c) => ({ column: c.name, missing: c.nullFraction ?? 0, nulls: c.nulls }));
  return (
    <BarChart
      width={420}
      height={Math.max(80, data.length * 18 + 30)}
      data={data}
      layout="vertical"
      margin={{ top: 4, right: 16, bottom: 0, left: 4 }}
    >
      <XAxis
        type="number"
        domain={[0, 1]}
        tickFormatter={(v) => percent(Number(v))}
        tick={{ fontSize: 10 }}
      />
      <YAxis type="category" dataKey="column" tick={{ fontSize: 10 }} width={120} interval={0} />
      <Tooltip
        isAnimationActive={false}
        formatter={(v, _n, item) => [
          `${percent(Number(v))} (${item.payload.nulls.toLocaleString()} rows)`,
          "missing",
        ]}
      />
      <Bar dataKey="missing" fill="#d0453f" isAnimationActive={false} background={{ fill: "#f1f3f6" }} />
    </BarChart>
  );
}
