import { useState } from "react";
import type { CatalogTable, ConnectionBrowse, SourceColumn } from "../../../../app/api/api";
import { api } from "../../api/client";
import { rowsEstimateText } from "./format";
import { type Answer, useAnswer } from "./useAnswer";

const FILTER_FROM = 12;

/**
 * The connection's schemas and their tables (with row estimates): a click on a table reads it
 * (sets the node's `table`, and its `schema` where the database has several).
 */
export function CatalogBrowser({
  connection,
  schema,
  table,
  onPick,
}: {
  connection: string;
  schema: string | undefined;
  table: string | undefined;
  onPick(table: CatalogTable, schemas: string[]): void;
}) {
  const [shownSchema, setShownSchema] = useState<string | undefined>(schema);
  const [filter, setFilter] = useState("");
  const catalog = useAnswer(`${connection}\u0000${shownSchema ?? ""}`, () =>
    api.browseConnection({ connection, ...(shownSchema ? { schema: shownSchema } : {}) }),
  );
  const [last, setLast] = useState<ConnectionBrowse | null>(null);
  if (catalog.status === "ok" && catalog.value !== last) setLast(catalog.value);
  if (catalog.status === "error")
    return (
      <div className="field-message" data-testid="db-catalog-error">
        {catalog.message}
      </div>
    );
  const shown = catalog.status === "ok" ? catalog.value : last;
  if (!shown) return <p className="muted small">Reading the catalog…</p>;
  const schemas = shown.schemas ?? [];
  const tables = (shown.tables ?? []).filter((t) => t.name.toLowerCase().includes(filter.toLowerCase()));
  return (
    <div className="db-catalog" data-testid="db-catalog">
      {schemas.length > 1 && (
        <select
          className="field-input"
          data-testid="db-schema"
          aria-label="Schema"
          value={shownSchema ?? ""}
          onChange={(e) => setShownSchema(e.target.value || undefined)}
        >
          <option value="">all schemas</option>
          {schemas.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      )}
      {(shown.tables?.length ?? 0) >= FILTER_FROM && (
        <input
          className="field-input"
          data-testid="db-table-filter"
          placeholder="Filter tables"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      )}
      <div className="db-table-list" role="listbox" aria-label="Tables">
        {tables.length === 0 && (
          <p className="muted small">{filter ? "No table matches." : "No tables or views here."}</p>
        )}
        {tables.map((t) => {
          const current = t.name === table && (schema === undefined || t.schema === schema);
          return (
            <button
              type="button"
              role="option"
              aria-selected={current}
              key={`${t.schema}.${t.name}`}
              className={`db-table${current ? " current" : ""}`}
              data-testid={`db-table-${t.name}`}
              title={t.schema ? `${t.schema}.${t.name}` : t.name}
              onClick={() => onPick(t, schemas)}
            >
              <span className="mono db-table-name">
                {schemas.length > 1 && t.schema && !shownSchema ? `${t.schema}.` : ""}
                {t.name}
              </span>
              <span className="muted small">
                {t.kind === "view" ? "view " : ""}
                {rowsEstimateText(t.rowsEstimate)}
              </span>
            </button>
          );
        })}
      </div>
    </div>
  );
}

/**
 * The table's columns, the source's type and the DuckDB type each lands as; the checked ones are
 * read (all when the node names none).
 */
export function ColumnList({
  columns,
  chosen,
  onChange,
}: {
  columns: Answer<SourceColumn[]>;
  chosen: string[] | undefined;
  onChange(columns: string[] | undefined): void;
}) {
  if (columns.status === "error")
    return (
      <div className="field-message" data-testid="db-columns-error">
        {columns.message}
      </div>
    );
  if (columns.status !== "ok") return <p className="muted small">Reading the columns…</p>;
  const all = columns.value.map((c) => c.name);
  const isChosen = (name: string) => !chosen || chosen.includes(name);
  const toggle = (name: string, on: boolean) => {
    const next = all.filter((n) => (n === name ? on : isChosen(n)));
    // Every column: the param is left out, so columns added to the table later are read too.
    onChange(next.length === all.length ? undefined : next);
  };
  return (
    <div className="db-columns" data-testid="db-columns">
      <div className="db-columns-head muted small">
        <span>{chosen ? `${chosen.length} of ${all.length}` : `All ${all.length}`} columns</span>
        {chosen && (
          <button type="button" className="link-button" onClick={() => onChange(undefined)}>
            all
          </button>
        )}
      </div>
      {columns.value.map((c) => (
        <label key={c.name} className="db-column" title={`${c.sourceType} → ${c.duckdbType}`}>
          <input
            type="checkbox"
            data-testid={`db-column-${c.name}`}
            checked={isChosen(c.name)}
            disabled={isChosen(c.name) && chosen?.length === 1}
            onChange={(e) => toggle(c.name, e.target.checked)}
          />
          <span className="mono db-column-name">{c.name}</span>
          <span className="muted small db-column-type">
            {c.sourceType} → <b>{c.duckdbType}</b>
          </span>
        </label>
      ))}
    </div>
  );
}
