/** A workspace table: paged through previewTable, virtualised, sorted by a click on a header. */
import { useState } from "react";
import type { CellValue } from "../../../app/api/api";
import { api } from "../api/client";
import { formatCell } from "./cellFormat";
import { useApi } from "./useApi";
import { VirtualRows } from "./VirtualRows";

const PAGE_SIZE = 500;
const ROW_HEIGHT = 24;
const COLUMN_WIDTH = 150;
const INDEX_WIDTH = 64;

type Order = { column: string; desc: boolean } | null;

/** Click cycles a column through ascending, descending, and the table's own order. */
function nextOrder(order: Order, column: string): Order {
  if (order?.column !== column) return { column, desc: false };
  return order.desc ? null : { column, desc: true };
}

export function TableView({ table }: { table: string }) {
  const [page, setPage] = useState(0);
  const [order, setOrder] = useState<Order>(null);
  const loaded = useApi(
    () =>
      api.previewTable({
        table,
        offset: page * PAGE_SIZE,
        limit: PAGE_SIZE,
        ...(order ? { orderBy: order } : {}),
      }),
    `${table}:${page}:${JSON.stringify(order)}`,
  );
  const [last, setLast] = useState<typeof loaded>(loaded);
  // Keep showing the previous page while the next one loads, so paging does not flash.
  if (loaded.status !== "loading" && loaded !== last) setLast(loaded);
  const shown = loaded.status === "loading" ? last : loaded;

  if (shown.status === "error") return <div className="panel-error">{shown.message}</div>;
  if (shown.status === "loading") return <p className="muted panel-empty">Loading {table}…</p>;
  const { columns, rows, total, offset } = shown.value;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const width = INDEX_WIDTH + columns.length * COLUMN_WIDTH;
  const grid = `${INDEX_WIDTH}px repeat(${columns.length}, ${COLUMN_WIDTH}px)`;

  const header = (
    <div className="table-head" style={{ gridTemplateColumns: grid, width }}>
      <div className="table-cell index">#</div>
      {columns.map((c) => (
        <button
          type="button"
          key={c.name}
          className="table-cell head"
          title={`${c.name}: ${c.type} — click to sort`}
          data-testid={`column-${c.name}`}
          onClick={() => {
            setOrder(nextOrder(order, c.name));
            setPage(0);
          }}
        >
          <span className="head-name">
            {c.name}
            {order?.column === c.name ? (order.desc ? " ▼" : " ▲") : ""}
          </span>
          <span className="head-type">{c.type}</span>
        </button>
      ))}
    </div>
  );

  const renderRow = (i: number) => {
    const row = rows[i] as CellValue;
    return (
      <div className="table-row" style={{ gridTemplateColumns: grid, width }}>
        <div className="table-cell index">{offset + i + 1}</div>
        {columns.map((c) => {
          const v = row[c.name];
          const text = formatCell(v, c.type);
          return (
            <div key={c.name} className={`table-cell${v === null ? " null" : ""}`} title={text}>
              {text}
            </div>
          );
        })}
      </div>
    );
  };

  return (
    <div className="table-view" data-testid="data-table">
      <div className="table-toolbar">
        <span data-testid="data-row-count">
          {total.toLocaleString()} row{total === 1 ? "" : "s"}
        </span>
        <span className="muted">· {columns.length} columns</span>
        {loaded.status === "loading" && <span className="muted">· loading…</span>}
        <span className="spacer" />
        <span className="muted">
          rows {total ? (offset + 1).toLocaleString() : 0}–{(offset + rows.length).toLocaleString()}
        </span>
        <button
          type="button"
          className="button small"
          disabled={page === 0}
          onClick={() => setPage(page - 1)}
        >
          ‹ Prev
        </button>
        <span className="muted">
          page {page + 1} / {pages.toLocaleString()}
        </span>
        <button
          type="button"
          className="button small"
          disabled={page + 1 >= pages}
          onClick={() => setPage(page + 1)}
        >
          Next ›
        </button>
      </div>
      <VirtualRows
        key={`${table}:${page}:${order?.column}:${order?.desc}`}
        count={rows.length}
        rowHeight={ROW_HEIGHT}
        header={header}
        headerHeight={ROW_HEIGHT + 14}
        renderRow={renderRow}
        className="table-rows"
        width={width}
      />
    </div>
  );
}

export function SchemaList({ table }: { table: string }) {
  const loaded = useApi(() => api.previewTable({ table, limit: 1 }), table);
  if (loaded.status === "error") return <div className="panel-error">{loaded.message}</div>;
  if (loaded.status === "loading") return <p className="muted panel-empty">Loading…</p>;
  return (
    <div className="schema-list" data-testid="data-schema">
      <div className="schema-row head">
        <span>column</span>
        <span>type</span>
      </div>
      {loaded.value.columns.map((c) => (
        <div className="schema-row" key={c.name}>
          <span className="mono">{c.name}</span>
          <span className="mono muted">{c.type}</span>
        </div>
      ))}
    </div>
  );
}
