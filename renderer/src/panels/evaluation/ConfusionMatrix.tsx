import type { ClassLabel } from "../../../../app/values/common";

/**
 * Rows: true label, columns: predicted. Each cell shows its count and is
 * shaded by its share of the row (recall on the diagonal): blue when right,
 * red when wrong.
 */
export function ConfusionMatrix({ labels, matrix }: { labels: ClassLabel[]; matrix: number[][] }) {
  const size = labels.length > 12 ? 30 : 52;
  return (
    <div className="confusion" data-testid="confusion-matrix">
      <div className="confusion-axis muted small">predicted →</div>
      <div
        className="confusion-grid"
        style={{ gridTemplateColumns: `minmax(60px, max-content) repeat(${labels.length}, ${size}px)` }}
      >
        <div className="confusion-corner muted small">true ↓</div>
        {labels.map((l) => (
          <div key={String(l)} className="confusion-label top" title={String(l)}>
            {String(l)}
          </div>
        ))}
        {labels.map((truth, i) => {
          const row = matrix[i] ?? [];
          const total = row.reduce((s, v) => s + v, 0);
          return (
            <div key={String(truth)} className="heatmap-row">
              <div className="confusion-label left" title={`${truth}: ${total} rows`}>
                {String(truth)}
              </div>
              {labels.map((predicted, j) => {
                const count = row[j] ?? 0;
                const share = total ? count / total : 0;
                const right = i === j;
                const background = count
                  ? right
                    ? `rgba(47, 125, 209, ${0.12 + 0.88 * share})`
                    : `rgba(208, 69, 63, ${0.12 + 0.88 * share})`
                  : "#f4f6f9";
                return (
                  <div
                    key={String(predicted)}
                    className="confusion-cell"
                    data-testid={`confusion-${i}-${j}`}
                    style={{ background, height: size, color: share > 0.55 ? "#fff" : "#1f2933" }}
                    title={`true ${truth}, predicted ${predicted}: ${count} (${(share * 100).toFixed(1)} % of the row)`}
                  >
                    <b>{count}</b>
                    {size > 40 && total > 0 && <span className="small">{(share * 100).toFixed(0)}%</span>}
                  </div>
                );
              })}
            </div>
          );
        })}
      </div>
    </div>
  );
}
