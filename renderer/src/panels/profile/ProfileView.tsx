/**
 * A table profile as charts (analyze.profile reports and profileTable give the
 * same shape). Loaded on demand: recharts stays out of the editor's first paint.
 */
import "./profile.css";
import { useState } from "react";
import type { ColumnProfile, ProfileReport } from "../../../../app/values/profile";
import { CorrelationHeatmap } from "./CorrelationHeatmap";
import { CreateExpectationsDialog } from "./CreateExpectations";
import { formatSpread, formatStat, percent } from "./format";
import { Histogram } from "./Histogram";
import { MissingBars } from "./MissingBars";
import { PersonalData } from "./PersonalData";
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

/** `profiledBy`: the analyze.profile node whose report this is; "Create expectations" then offers a node after its input. */
export default function ProfileView({ report, profiledBy }: { report: ProfileReport; profiledBy?: string }) {
  const [creating, setCreating] = useState(false);
  return (
    <div className="profile-view" data-testid="profile-view">
      <div className="profile-summary">
        <b>{report.rows.toLocaleString()}</b> rows · <b>{report.columns.length}</b> columns
        <button
          type="button"
          className="button small"
          data-testid="create-expectations-button"
          title="Draft an expectation suite from what this profile observed, review it, and save it to expectations/"
          onClick={() => setCreating(true)}
        >
          Create expectations…
        </button>
      </div>
      {creating && (
        <CreateExpectationsDialog
          report={report}
          profiledBy={profiledBy}
          onClose={() => setCreating(false)}
        />
      )}
      {report.privacy && <PersonalData scan={report.privacy} />}
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
