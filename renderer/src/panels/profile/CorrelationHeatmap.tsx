import type { ProfileReport } from "../../../../app/values/profile";

/** Blue for positive, red for negative, white for none; grey where undefined. */
function cellColor(r: number | null): string {
  if (r === null) return "#eceff3";
  const a = Math.min(1, Math.abs(r));
  return r >= 0 ? `rgba(47, 125, 209, ${a})` : `rgba(208, 69, 63, ${a})`;
}

/** Pearson correlations between numeric columns as a grid of coloured cells. */
export function CorrelationHeatmap({ correlation }: { correlation: ProfileReport["correlation"] }) {
  const { columns, matrix } = correlation;
  if (columns.length < 2)
    return <p className="muted small">Fewer than two numeric columns: nothing to correlate.</p>;
  const size = columns.length > 20 ? 18 : 34;
  return (
    <div
      className="heatmap"
      style={{ gridTemplateColumns: `minmax(80px, max-content) repeat(${columns.length}, ${size}px)` }}
      data-testid="correlation-heatmap"
    >
      <div />
      {columns.map((c) => (
        <div key={c} className="heatmap-label top" title={c}>
          {c}
        </div>
      ))}
      {columns.map((row, i) => (
        <div key={row} className="heatmap-row">
          <div className="heatmap-label left" title={row}>
            {row}
          </div>
          {columns.map((col, j) => {
            const r = matrix[i]?.[j] ?? null;
            return (
              <div
                key={col}
                className="heatmap-cell"
                style={{ background: cellColor(r), height: size }}
                title={`${row} × ${col}: ${r === null ? "undefined" : r.toFixed(3)}`}
              >
                {size > 20 && r !== null ? (Math.round(r * 10) / 10 || 0).toFixed(1) : ""}
              </div>
            );
          })}
        </div>
      ))}
    </div>
  );
}
