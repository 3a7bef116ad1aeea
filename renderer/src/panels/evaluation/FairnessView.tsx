/**
 * The fairness part of an evaluation report (evaluate with groupBy): the gaps
 * between groups as bars with their bootstrap intervals as whiskers, the
 * conventions and the groups left out in words, the per-group bars and the
 * per-group table with small groups marked. The figures come from
 * app/ml/fairness.ts; nothing is recomputed here.
 */
import "./fairness.css";
import { Bar, BarChart, CartesianGrid, Cell, ErrorBar, ReferenceLine, Tooltip, XAxis, YAxis } from "recharts";
import type { Task } from "../../../../app/values/common";
import type { EvaluationReport } from "../../../../app/values/evaluation";
import { GRID, TICK } from "./chartFrame";
import { GroupBars } from "./charts";
import { COLORS, metricName, num, pct } from "./format";

type Groups = NonNullable<EvaluationReport["groups"]>;

/** The per-group metrics charted: the ones the gaps compare. */
const GROUP_METRICS: Record<Task, string[]> = {
  binary: ["accuracy", "positive_rate", "true_positive_rate", "false_positive_rate"],
  multiclass: ["accuracy", "f1_macro"],
  regression: ["rmse", "mae"],
};

/** The per-group table's columns besides those. */
const TABLE_METRICS: Record<Task, string[]> = {
  binary: ["recall", "f1", "roc_auc"],
  multiclass: ["roc_auc"],
  regression: ["r2"],
};

/** What each gap is, in Fairlearn's words (shown as a tooltip and under the chart). */
export const GAP_HELP: Record<string, string> = {
  demographic_parity_difference: "max − min of the positive-prediction (selection) rate across groups",
  demographic_parity_ratio: "min / max of the selection rate (below 0.8 fails the four-fifths rule)",
  equal_opportunity_difference: "max − min of the true positive rate across groups",
  false_positive_rate_difference: "max − min of the false positive rate across groups",
  equalized_odds_difference: "the larger of the TPR and FPR differences",
  equalized_odds_ratio: "the smaller of the TPR and FPR ratios (min / max)",
  accuracy_difference: "max − min of accuracy across groups",
  f1_macro_difference: "max − min of macro F1 across groups",
  rmse_difference: "max − min of RMSE across groups",
  mae_difference: "max − min of MAE across groups",
};

const SHARES = new Set(["accuracy", "positive_rate", "true_positive_rate", "false_positive_rate", "recall"]);

/** Short gap names for the chart's axis. */
const SHORT: Record<string, string> = {
  demographic_parity_difference: "demographic parity diff.",
  demographic_parity_ratio: "demographic parity ratio",
  equal_opportunity_difference: "equal opportunity diff.",
  false_positive_rate_difference: "FPR diff.",
  equalized_odds_difference: "equalized odds diff.",
  equalized_odds_ratio: "equalized odds ratio",
  accuracy_difference: "accuracy diff.",
  f1_macro_difference: "macro F1 diff.",
  rmse_difference: "RMSE diff.",
  mae_difference: "MAE diff.",
};

/** The gaps in reading order: differences (lower is fairer), then ratios (higher is fairer). */
function orderedGaps(gaps: Groups["gaps"]): string[] {
  const names = Object.keys(gaps);
  return [...names.filter((n) => !n.endsWith("_ratio")), ...names.filter((n) => n.endsWith("_ratio"))];
}

const groupName = (g: string | null) => g ?? "(missing)";

/** Each gap as a bar, its bootstrap interval as a whisker; undefined gaps have no bar. */
function GapChart({ groups }: { groups: Groups }) {
  const rows = orderedGaps(groups.gaps).map((name) => {
    const value = groups.gaps[name] ?? null;
    const [lower, upper] = groups.intervals?.[name] ?? [null, null];
    // Offsets from the bar's end, as recharts' ErrorBar takes them; a bound may lie on either side of
    // the value (a max − min gap's resamples are biased upward), so the offsets keep their sign.
    const whisker =
      value !== null && lower !== null && upper !== null ? [value - lower, upper - value] : undefined;
    return { name, label: SHORT[name] ?? name, value, lower, upper, whisker, ratio: name.endsWith("_ratio") };
  });
  const max = Math.max(1, ...rows.map((r) => r.upper ?? r.value ?? 0));
  return (
    <figure className="eval-chart" data-testid="fairness-gap-chart">
      <figcaption>
        Gaps between groups
        {groups.bootstrap
          ? ` with ${Math.round(groups.bootstrap.level * 100)} % bootstrap intervals (${groups.bootstrap.resamples.toLocaleString()} resamples)`
          : ""}
      </figcaption>
      <BarChart
        width={430}
        height={34 + rows.length * 26}
        data={rows}
        layout="vertical"
        margin={{ top: 4, right: 40, bottom: 4, left: 0 }}
      >
        <CartesianGrid {...GRID} horizontal={false} />
        <XAxis type="number" domain={[0, max]} tick={TICK} tickFormatter={(v) => num(Number(v))} />
        <YAxis type="category" dataKey="label" width={150} tick={TICK} interval={0} />
        <ReferenceLine x={0} stroke="#999" />
        <Tooltip
          isAnimationActive={false}
          formatter={(_v, _n, item) => {
            const r = item.payload as (typeof rows)[number];
            const interval =
              r.lower !== null && r.upper !== null ? ` [${num(r.lower)}, ${num(r.upper)}]` : "";
            return [`${num(r.value)}${interval}`, GAP_HELP[r.name] ?? r.name];
          }}
        />
        <Bar dataKey="value" isAnimationActive={false} barSize={14}>
          {rows.map((r) => (
            <Cell key={r.name} fill={r.ratio ? COLORS[2 % COLORS.length] : COLORS[0]} />
          ))}
          <ErrorBar dataKey="whisker" direction="x" width={6} strokeWidth={1.5} stroke="#333" />
        </Bar>
      </BarChart>
      <div className="fairness-caption muted">
        Differences: 0 is parity. Ratios: 1 is parity. Whiskers: the gap over resampled test rows.
      </div>
    </figure>
  );
}

/** The conventions, the rows dropped and the groups left out, in words. */
function FairnessNotes({ groups }: { groups: Groups }) {
  const conventions = groups.conventions ?? "dagwood";
  const leftOut = groups.leftOut ?? [];
  const counted = groups.rows.filter((r) => r.counted !== false).length;
  return (
    <div className="fairness-notes" data-testid="fairness-notes">
      <p data-testid="fairness-conventions">
        {conventions === "fairlearn" ? (
          <>
            <b>Fairlearn's conventions</b>: rows with no {groups.column} value are dropped
            {groups.droppedRows ? ` (${groups.droppedRows.toLocaleString()} here)` : ""}, and a group with no
            actual positives (negatives) has a true (false) positive rate of 0.
          </>
        ) : (
          <>
            <b>Dagwood's conventions</b>: a missing {groups.column} value is a group of its own, and a rate a
            group cannot have (no actual positives or negatives) is undefined and left out of the gaps.
          </>
        )}
      </p>
      {leftOut.length > 0 && (
        <p className="fairness-warning" data-testid="fairness-left-out">
          ⚠ Left out of the gaps, fewer than {groups.minGroupSize} rows:{" "}
          {leftOut
            .map((g) => `${groupName(g)} (${groups.rows.find((r) => r.group === g)?.n ?? "?"})`)
            .join(", ")}
          .{counted < 2 ? " Fewer than two groups remain, so the gaps are undefined." : ""}
        </p>
      )}
      {groups.bootstrap && (
        <p className="muted">
          A difference whose interval reaches down to about 0 (a ratio's, up to 1) is within noise: these rows
          cannot tell it from parity. Resampled max − min gaps run high, so a small gap can sit below its
          interval.
        </p>
      )}
    </div>
  );
}

export function FairnessView({ report }: { report: EvaluationReport }) {
  const groups = report.groups;
  if (!groups) return null;
  const metrics = GROUP_METRICS[report.task];
  const shown = [...metrics, ...TABLE_METRICS[report.task]].filter((m) =>
    groups.rows.some((r) => m in r.metrics),
  );
  return (
    <section className="eval-section" data-testid="fairness-view">
      <h4>By {groups.column}</h4>
      <FairnessNotes groups={groups} />
      <div className="eval-row">
        <GapChart groups={groups} />
        <dl className="eval-gaps fairness-gaps" data-testid="fairness-gaps">
          {orderedGaps(groups.gaps).map((k) => {
            const v = groups.gaps[k] ?? null;
            const [lower, upper] = groups.intervals?.[k] ?? [null, null];
            const flagged = k === "demographic_parity_ratio" && v !== null && v < 0.8;
            return (
              <div
                key={k}
                title={GAP_HELP[k]}
                className={flagged ? "flagged" : undefined}
                data-testid={`gap-${k}`}
              >
                <dt>{k.replaceAll("_", " ")}</dt>
                <dd>
                  {num(v)}
                  {lower !== null && upper !== null && (
                    <span className="muted">
                      {" "}
                      [{num(lower)}, {num(upper)}]
                    </span>
                  )}
                  {flagged ? " ⚠ below 0.8" : ""}
                </dd>
              </div>
            );
          })}
        </dl>
      </div>
      <div className="eval-row">
        <GroupBars
          rows={groups.rows.map((r) => (r.small ? { ...r, group: `${groupName(r.group)} (small)` } : r))}
          metrics={metrics}
        />
        <table className="eval-table" data-testid="fairness-table">
          <thead>
            <tr>
              <th>{groups.column}</th>
              <th>rows</th>
              {shown.map((m) => (
                <th key={m}>{metricName(m)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {groups.rows.map((r) => (
              <tr
                key={r.group ?? "\0null"}
                className={r.counted === false ? "fairness-left-out-row" : undefined}
                data-testid="fairness-group-row"
              >
                <td>
                  {r.group ?? <i className="muted">(missing)</i>}
                  {r.small && (
                    <span
                      className="eval-chip fairness-small"
                      title={`Fewer than ${groups.minGroupSize} rows${r.counted === false ? ": left out of the gaps" : ""}`}
                    >
                      {r.counted === false ? "small · left out" : "small"}
                    </span>
                  )}
                </td>
                <td>{r.n.toLocaleString()}</td>
                {shown.map((m) => (
                  <td key={m}>{SHARES.has(m) ? pct(r.metrics[m]) : num(r.metrics[m])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
