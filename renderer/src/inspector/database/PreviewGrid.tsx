import type { ConnectionPreview } from "../../../../app/api/api";

const COLUMN_WIDTH = 120;
const INDEX_WIDTH = 36;

/**
 * The first rows of a table or query, as the data view's grid draws a workspace table (its cells,
 * header and NULLs look the same), in a box that scrolls both ways inside the inspector.
 */
export function PreviewGrid({ preview }: { preview: ConnectionPreview }) {
  const { columns, rows, more } = preview;
  const width = INDEX_WIDTH + columns.length * COLUMN_WIDTH;
  const grid = `${INDEX_WIDTH}px repeat(${columns.length}, ${COLUMN_WIDTH}px)`;
  return (
    <div className="db-preview" data-testid="db-preview">
      <div className="db-preview-scroll">
        <div className="table-head" style={{ gridTemplateColumns: grid, width }}>
          <div className="table-cell index">#</div>
          {columns.map((c) => (
            <div
              key={c.name}
              className="table-cell head"
              title={`${c.name}: ${c.sourceType} → ${c.duckdbType}`}
              data-testid={`db-preview-column-${c.name}`}
            >
              <span className="head-name">{c.name}</span>
              <span className="head-type">{c.duckdbType}</span>
            </div>
          ))}
        </div>
        {rows.map((row, i) => (
          <div
            // Rows have no key of their own: the preview is redrawn whole when it changes.
            // biome-ignore lint/suspicious/noArrayIndexKey: see above
            key={i}
            className="table-row db-preview-row"
            style={{ gridTemplateColumns: grid, width }}
          >
            <div className="table-cell index">{i + 1}</div>
            {row.map((v, j) => (
              <div
                key={columns[j]?.name ?? j}
                className={`table-cell${v === null ? " null" : ""}`}
                title={v ?? "null"}
              >
                {v ?? "null"}
              </div>
            ))}
          </div>
        ))}
      </div>
      <div className="muted small" data-testid="db-preview-count">
        {rows.length === 0
          ? "No rows."
          : `The first ${rows.length} row${rows.length === 1 ? "" : "s"}${more ? "; more follow" : " (all of them)"}.`}
      </div>
    </div>
  );
}
