/**
 * A table profile as charts (analyze.profile reports and profileTable give the
 * same shape). Loaded on demand: recharts stays out of the editor's first paint.
 */
import "./profile.css";
import type { ColumnProfile, ProfileReport } from "../../../../app/values/profile";
import { CorrelationHeatmap } from "./CorrelationHeatmap";
import { formatSpread, formatStat, percent } from "./format";
import { Histogram } from "./Histogram";
import { MissingBars } from "./MissingBars";
import { TopValues } from "./TopValues";

function ColumnCard({ column }: { column: ColumnProfile }) {
  const numeric = column.kind === "numeric" || column.kind === "temporal";
  const stats: [string, string][] = [
    ["missing", `${column.nulls.toLocaleString()} (${percent(column.nullFraction)})`],
    ["distinct", `${column.distinctApprox ? "≈" : ""}${column.distinct.toLocaleString()}`],
  ];
  if (numeric) {
    stats.push(["min", formatStat(column.min, column)], ["max", formatStat(column.max, column)]);
    stats.push(["mean", formatStat(column.mean, column)], ["std", formatSpread(column.std, column)]);
  } else if (column.kind === "boolean") {
    stats.push(["true", percent(column.mean)]);
  }
  return (
    <div className="profile-card" data-testid={`profile-column-${column.name}`}>
      <div className="profile-card-head">
        <span className="profile-col-name" title={column.name}>
          {column.name}
        </span>
        <span className={`kind-chip kind-${column.kind}`}>{column.kind}</span>
        <span className="mono muted small">{column.type}</span>
      </div>
      <dl className={`profile-stats${column.kind === "temporal" ? " wide" : ""}`}>
        {stats.map(([k, v]) => (
          <div key={k} data-testid={`profile-stat-${k}`}>
            <dt>{k}</dt>
            <dd title={v}>{v}</dd>
          </div>
        ))}
      </dl>
      {numeric ? <Histogram column={column} /> : <TopValues column={column} />}
    </div>
  );
}

export default function ProfileView({ report }: { report: ProfileReport }) {
  return (
    <div className="profile-view" data-testid="profile-view">
      <div className="profile-summary">
        <b>{report.rows.toLocaleString()}</b> rows · <b>{report.columns.length}</b> columns
      </div>
      <div className="profile-overview">
        <section>
          <h4>Missing values</h4>
          <MissingBars columns={report.columns} />
        </section>
        <section>
          <h4>Correlation ({report.correlation.method})</h4>
          <CorrelationHeatmap correlation={report.correlation} />
        </section>
      </div>
      <div className="profile-grid">
        {report.columns.map((c) => (
          <ColumnCard key={c.name} column={c} />
        ))}
      </div>
    </div>
  );
}
