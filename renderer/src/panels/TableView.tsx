/**
 * A workspace table: paged through previewTable, virtualised, sorted by a click on a header.
 * Personal columns (tagged pii or sensitive) come masked, their headers locked; "Show values"
 * asks first and is recorded in the audit log (app/privacy/masking.ts).
 */
import { useState } from "react";
import type { CellValue } from "../../../app/api/api";
import { api } from "../api/client";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { formatCell } from "./cellFormat";
import "./masking.css";
import { useApi } from "./useApi";
import { VirtualRows } from "./VirtualRows";

/** A padlock, drawn: the header of a personal column. */
export function LockIcon() {
  return (
    <svg className="lock-icon" viewBox="0 0 12 12" width="11" height="11" aria-hidden="true">
      <rect x="2" y="5.5" width="8" height="5.5" rx="1" fill="currentColor" />
      <path d="M4 5.5V4a2 2 0 0 1 4 0v1.5" fill="none" stroke="currentColor" strokeWidth="1.3" />
    </svg>
  );
}

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
  // Values in clear for this table only: another table starts masked again.
  const [clearFor, setClearFor] = useState<string | null>(null);
  const [asking, setAsking] = useState(false);
  const unmasked = clearFor === table;
  const loaded = useApi(
    () =>
      api.previewTable({
        table,
        offset: page * PAGE_SIZE,
        limit: PAGE_SIZE,
        ...(order ? { orderBy: order } : {}),
        ...(unmasked ? { unmasked: true, confirm: true } : {}),
      }),
    `${table}:${page}:${JSON.stringify(order)}:${unmasked}`,
  );
  const [last, setLast] = useState<typeof loaded>(loaded);
  // Keep showing the previous page while the next one loads, so paging does not flash.
  if (loaded.status !== "loading" && loaded !== last) setLast(loaded);
  const shown = loaded.status === "loading" ? last : loaded;

  if (shown.status === "error") return <div className="panel-error">{shown.message}</div>;
  if (shown.status === "loading") return <p className="muted panel-empty">Loading {table}…</p>;
  const { columns, rows, total, offset, masked } = shown.value;
  const maskedSet = new Set(masked ?? []);
  const personal = columns.filter((c) => c.personal).map((c) => c.name);
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
          title={`${c.name}: ${c.type}${c.personal ? ` — personal data, ${maskedSet.has(c.name) ? "masked" : "shown in clear"}` : ""} — click to sort`}
          data-testid={`column-${c.name}`}
          data-personal={c.personal ? "true" : undefined}
          onClick={() => {
            setOrder(nextOrder(order, c.name));
            setPage(0);
          }}
        >
          <span className="head-name">
            {c.personal && <LockIcon />}
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
          if (maskedSet.has(c.name)) {
            // A masked value is text whatever the column's type ("j***"), or null where nothing is kept.
            const text = v === null ? "•••" : String(v);
            return (
              <div key={c.name} className="table-cell masked" title="Masked: personal data">
                {text}
              </div>
            );
          }
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
        {personal.length > 0 &&
          (unmasked ? (
            <button
              type="button"
              className="button small"
              data-testid="hide-values"
              title="Mask the personal columns again"
              onClick={() => setClearFor(null)}
            >
              <LockIcon /> Hide values
            </button>
          ) : (
            <button
              type="button"
              className="button small"
              data-testid="show-values"
              title={`${personal.join(", ")}: masked personal data`}
              onClick={() => setAsking(true)}
            >
              Show values
            </button>
          ))}
        {personal.length > 0 && (
          <span className="muted masked-note" data-testid="masked-note">
            {unmasked
              ? "personal data shown"
              : `${personal.length} personal column${personal.length === 1 ? "" : "s"} masked`}
          </span>
        )}
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
      {asking && (
        <ConfirmDialog
          title="Show personal data"
          testId="unmask-dialog"
          question={
            <>
              Show {personal.join(", ")} in clear? Who asked, when and which columns is recorded in the
              project's audit log.
            </>
          }
          confirmLabel="Show values"
          onConfirm={() => {
            setAsking(false);
            setClearFor(table);
          }}
          onCancel={() => setAsking(false)}
        />
      )}
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
          <span className="mono" title={c.personal ? "personal data (pii or sensitive)" : undefined}>
            {c.personal && <LockIcon />}
            {c.name}
          </span>
          <span className="mono muted">{c.type}</span>
        </div>
      ))}
    </div>
  );
}
