/** Drift per feature over time: a grid of windows (columns, oldest left) × features (rows), with its legend. */
import type { MonitoringReport, MonitoringWindow } from "../../../app/values/monitoring";
import {
  cellKind,
  describeCell,
  driftSeverity,
  SCALE,
  severityColor,
  timeLabel,
  windowLabel,
} from "./format";

export interface CellRef {
  column: string;
  window: MonitoringWindow;
}

const MARK: Record<string, string> = { drifted: "●", schema: "S", untested: "–", ok: "", empty: "" };

export function Heatmap({
  report,
  windows,
  selected,
  onSelect,
}: {
  report: MonitoringReport;
  windows: MonitoringWindow[];
  selected: CellRef | null;
  onSelect(cell: CellRef): void;
}) {
  const style = { gridTemplateColumns: `minmax(110px, max-content) repeat(${windows.length}, 26px)` };
  return (
    <div className="heatmap-wrap">
      <div className="heatmap" style={style} data-testid="drift-heatmap">
        <div className="heatmap-corner muted small">feature \ window</div>
        {windows.map((w) => (
          <div
            key={w.start}
            className={`heatmap-time${w.datasetDrift ? " dataset-drift" : ""}`}
            title={`${windowLabel(w, true)}: ${w.rows} rows${w.tested ? `, ${w.driftedColumns} drifted column${w.driftedColumns === 1 ? "" : "s"}${w.datasetDrift ? " — dataset drift" : ""}` : " — too few to test"}`}
          >
            <span>{timeLabel(w)}</span>
          </div>
        ))}
        {report.columns.map((column) => (
          <HeatmapRow
            key={column}
            column={column}
            windows={windows}
            selected={selected}
            onSelect={onSelect}
          />
        ))}
        <div className="heatmap-rowlabel muted small">rows</div>
        {windows.map((w) => (
          <div
            key={w.start}
            className="heatmap-count muted"
            title={`${w.rows} logged rows in ${windowLabel(w, true)}`}
          >
            {w.rows >= 1000 ? `${Math.round(w.rows / 100) / 10}k` : w.rows}
          </div>
        ))}
      </div>
    </div>
  );
}

function HeatmapRow({
  column,
  windows,
  selected,
  onSelect,
}: {
  column: string;
  windows: MonitoringWindow[];
  selected: CellRef | null;
  onSelect(cell: CellRef): void;
}) {
  return (
    <>
      <div className="heatmap-rowlabel" title={column}>
        {column}
      </div>
      {windows.map((w) => {
        const cell = w.drift[column];
        const kind = cellKind(w, cell);
        const severity = cell ? driftSeverity(cell) : null;
        const isSelected = selected?.column === column && selected.window.start === w.start;
        return (
          <button
            key={w.start}
            type="button"
            className={`heatmap-cell ${kind}${isSelected ? " selected" : ""}`}
            style={
              severity !== null && kind !== "schema" ? { background: severityColor(severity) } : undefined
            }
            title={describeCell(column, w, cell)}
            aria-label={describeCell(column, w, cell)}
            data-testid={`cell-${column}-${w.start}`}
            data-kind={kind}
            disabled={w.rows === 0}
            onClick={() => onSelect({ column, window: w })}
          >
            {kind === "schema" ? (cell?.schema === "missing" ? "M" : "T") : MARK[kind]}
          </button>
        );
      })}
    </>
  );
}

export function HeatmapLegend({ minRows }: { minRows: number }) {
  return (
    <div className="heatmap-legend small" data-testid="heatmap-legend">
      <span className="legend-scale">
        <span className="muted">no drift</span>
        <span
          className="legend-gradient"
          style={{ background: `linear-gradient(90deg, ${SCALE.low}, ${SCALE.mid} 50%, ${SCALE.high})` }}
        />
        <span className="muted">threshold → twice past it</span>
      </span>
      <span>
        <span className="heatmap-cell drifted legend-swatch" style={{ background: SCALE.high }}>
          ●
        </span>{" "}
        drifted
      </span>
      <span>
        <span className="heatmap-cell schema legend-swatch">S</span> schema drift (M missing, T retyped)
      </span>
      <span>
        <span className="heatmap-cell untested legend-swatch">–</span> not tested (too few values)
      </span>
      <span>
        <span className="heatmap-cell empty legend-swatch" /> window under {minRows} rows
      </span>
      <span>
        <strong className="dataset-drift-key">12:00</strong> a window whose share of drifted columns is past
        the dataset threshold
      </span>
      <span className="muted">Click a cell for the two distributions.</span>
    </div>
  );
}
