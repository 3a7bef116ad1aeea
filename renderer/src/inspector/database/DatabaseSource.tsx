/**
 * What an `ingest.database` node reads, drawn from the database itself: the connection (from
 * dagwood.json, with a Test button), its catalog (schemas → tables with row estimates → columns
 * with their types), or one read-only query; full or incremental with the cursor column picked from
 * the columns; a full refresh for the next run; and the first rows before any run. The block's other
 * param (`unmapped`) stays in the generic form below.
 */
import "./database.css";
import { useEffect, useState } from "react";
import type { CatalogTable, ConnectionInfo, ConnectionTest } from "../../../../app/api/api";
import { api } from "../../api/client";
import { messageOf } from "../../services/errors";
import { useCatalog } from "../../store/catalog";
import { useFullRefresh } from "../../store/fullRefresh";
import type { LocatedProblem } from "../../store/validation";
import { CatalogBrowser, ColumnList } from "./CatalogBrowser";
import { PreviewGrid } from "./PreviewGrid";
import { useAnswer } from "./useAnswer";

/** The params this panel draws; the generic form leaves them out. */
export const DATABASE_SOURCE_PARAMS = [
  "connection",
  "table",
  "schema",
  "columns",
  "where",
  "query",
  "mode",
  "cursor",
] as const;

const PREVIEW_ROWS = 50;

type Params = Record<string, unknown>;
const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
const texts = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined);

function placeOf(c: ConnectionInfo): string {
  return c.kind === "sqlite" ? `${c.path}` : `${c.user}@${c.host}:${c.port}/${c.database}`;
}

function secretNote(c: ConnectionInfo): string | null {
  if (c.kind === "sqlite") return null;
  if (c.secret === "env") return `Password from ${c.secretVariable}.`;
  if (c.secret === "keychain") return "Password from the OS keychain.";
  return `No password set: set ${c.secretVariable} if the server asks for one.`;
}

function TestResult({ result }: { result: ConnectionTest }) {
  if (result.ok)
    return (
      <div className="db-test ok" data-testid="db-test-result">
        ✓ Connected: {result.serverVersion} <span className="muted">({result.elapsedMs} ms)</span>
      </div>
    );
  return (
    <div className="db-test failed" data-testid="db-test-result">
      ✗ {result.message}
    </div>
  );
}

function Problems({ problems, param }: { problems: LocatedProblem[]; param: string }) {
  return (
    <>
      {problems
        .filter((p) => p.param?.[0] === param)
        .map((p) => (
          <div className="field-message" key={p.message}>
            {p.message}
          </div>
        ))}
    </>
  );
}

/**
 * SQL text (the query, a filter), edited as a draft and written to the node when the field is left:
 * one undo step, and one preview rather than one per key.
 */
function SqlEditor({
  value,
  onCommit,
  label,
  testId,
  placeholder,
  rows,
}: {
  value: string | undefined;
  onCommit(text: string | undefined): void;
  label: string;
  testId: string;
  placeholder: string;
  rows: number;
}) {
  const [draft, setDraft] = useState(value ?? "");
  useEffect(() => setDraft(value ?? ""), [value]);
  const common = {
    className: "field-input mono db-sql",
    "data-testid": testId,
    "aria-label": label,
    spellCheck: false,
    placeholder,
    value: draft,
    onBlur: () => draft.trim() !== (value ?? "") && onCommit(draft.trim() || undefined),
  };
  // One line (a filter): Enter writes it too.
  if (rows === 1)
    return (
      <input
        {...common}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => e.key === "Enter" && e.currentTarget.blur()}
      />
    );
  return <textarea {...common} rows={rows} onChange={(e) => setDraft(e.target.value)} />;
}

export function DatabaseSource({
  nodeId,
  params,
  problems,
  onPatch,
}: {
  nodeId: string;
  params: Params;
  problems: LocatedProblem[];
  /** Sets (or, with undefined, removes) some params of the node. */
  onPatch(changes: Params): void;
}) {
  const projectDir = useCatalog((s) => s.project?.dir);
  const connection = text(params.connection);
  const table = text(params.table);
  const schema = text(params.schema);
  const query = text(params.query);
  const columns = texts(params.columns);
  const mode = params.mode === "incremental" ? "incremental" : "full";
  const [sourceKind, setSourceKind] = useState<"table" | "query">(query ? "query" : "table");
  useEffect(() => {
    if (query) setSourceKind("query");
    else if (table) setSourceKind("table");
  }, [query, table]);

  const list = useAnswer(projectDir ? `list:${projectDir}` : null, () => api.listConnections({}));
  const connections = list.status === "ok" ? list.value : [];
  const chosen = connections.find((c) => c.name === connection);

  // The answer of the last Test, for the connection it tested (another choice hides it).
  const [tested, setTested] = useState<{ of: string; result: ConnectionTest | "testing" } | null>(null);
  const test = tested && tested.of === connection ? tested.result : null;
  const runTest = () => {
    if (!connection) return;
    const of = connection;
    setTested({ of, result: "testing" });
    api.testConnection({ connection: of }).then(
      (result) => setTested({ of, result }),
      (e) => setTested({ of, result: { ok: false, kind: "other", message: messageOf(e) } }),
    );
  };

  const known = !!chosen;
  const tableColumns = useAnswer(
    known && table && sourceKind === "table" ? JSON.stringify(["cols", connection, schema, table]) : null,
    async () =>
      (
        await api.browseConnection({
          connection: connection as string,
          table: table as string,
          ...(schema ? { schema } : {}),
        })
      ).columns ?? [],
  );
  const where = text(params.where);
  const unmapped = params.unmapped === "text" ? "text" : "error";
  const previewKey =
    known && (sourceKind === "table" ? table : query)
      ? JSON.stringify([connection, sourceKind, schema, table, columns, where, query, unmapped])
      : null;
  const preview = useAnswer(previewKey, () =>
    api.previewConnection({
      connection: connection as string,
      limit: PREVIEW_ROWS,
      unmapped,
      ...(sourceKind === "query"
        ? { query: query as string }
        : {
            table: table as string,
            ...(schema ? { schema } : {}),
            ...(columns ? { columns } : {}),
            ...(where ? { where } : {}),
          }),
    }),
  );

  // The cursor is one of the columns read: the table's (those chosen), or the query's.
  const cursorChoices =
    sourceKind === "table"
      ? tableColumns.status === "ok"
        ? tableColumns.value.map((c) => c.name).filter((n) => !columns || columns.includes(n))
        : []
      : preview.status === "ok"
        ? preview.value.columns.map((c) => c.name)
        : [];
  const cursor = text(params.cursor);

  // A full refresh is an option of the next run (not a param: the node's cache key stays as it was);
  // the run that runs this node disarms it (services/runner.ts).
  const refreshArmed = useFullRefresh((s) => s.armed.includes(nodeId));
  const { arm, disarm } = useFullRefresh.getState();

  const pickTable = (t: CatalogTable, schemas: string[]) =>
    onPatch({
      table: t.name,
      // The schema is named only where the database has several (PostgreSQL, MySQL's databases).
      schema: schemas.length > 1 && t.schema ? t.schema : undefined,
      columns: undefined,
      cursor: undefined,
      where: undefined,
      query: undefined,
    });

  return (
    <div className="db-source" data-testid="db-source">
      <div className="field" data-testid="field-connection">
        <div className="field-label">
          <label htmlFor={`db-connection-${nodeId}`}>
            connection<span className="required">*</span>
          </label>
        </div>
        <div className="db-row">
          <select
            id={`db-connection-${nodeId}`}
            className="field-input"
            data-testid="db-connection"
            value={connection ?? ""}
            onChange={(e) =>
              onPatch({
                connection: e.target.value || undefined,
                table: undefined,
                schema: undefined,
                columns: undefined,
                cursor: undefined,
              })
            }
          >
            <option value="">— choose —</option>
            {connections.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name} ({c.kind})
              </option>
            ))}
            {connection && list.status === "ok" && !chosen && (
              <option value={connection}>{connection} (not in dagwood.json)</option>
            )}
          </select>
          <button
            type="button"
            className="button small"
            data-testid="db-test"
            disabled={!known || test === "testing"}
            title="Connect and ask the server's version"
            onClick={runTest}
          >
            {test === "testing" ? "Testing…" : "Test"}
          </button>
        </div>
        {chosen && (
          <div className="field-help">
            <span className="mono">{placeOf(chosen)}</span> {secretNote(chosen)}
          </div>
        )}
        {list.status === "error" && <div className="field-message">{list.message}</div>}
        {list.status === "ok" && connections.length === 0 && (
          <div className="field-message" data-testid="db-no-connections">
            dagwood.json names no connections: add one under "connections", e.g.{" "}
            <span className="mono">
              "shop": {"{"} "kind": "sqlite", "path": "data/shop.sqlite" {"}"}
            </span>
          </div>
        )}
        {connection && list.status === "ok" && !chosen && connections.length > 0 && (
          <div className="field-message">
            dagwood.json has no connection "{connection}": choose one of its connections.
          </div>
        )}
        {test && test !== "testing" && <TestResult result={test} />}
        <Problems problems={problems} param="connection" />
      </div>

      {known && connection && (
        <>
          <div className="db-tabs" role="tablist" aria-label="Read">
            {(["table", "query"] as const).map((k) => (
              <button
                type="button"
                role="tab"
                key={k}
                aria-selected={sourceKind === k}
                className={`db-tab${sourceKind === k ? " current" : ""}`}
                data-testid={`db-source-${k}`}
                onClick={() => setSourceKind(k)}
              >
                {k === "table" ? "Table" : "Query"}
              </button>
            ))}
          </div>
          {sourceKind === "table" ? (
            <div className="field" data-testid="field-table">
              <CatalogBrowser connection={connection} schema={schema} table={table} onPick={pickTable} />
              <Problems problems={problems} param="table" />
              <Problems problems={problems} param="schema" />
              {table && (
                <ColumnList
                  columns={tableColumns}
                  chosen={columns}
                  onChange={(cols) => onPatch({ columns: cols })}
                />
              )}
              <Problems problems={problems} param="columns" />
              {table && (
                <>
                  <div className="field-label db-where-label">
                    <span>where</span>
                  </div>
                  <SqlEditor
                    value={where}
                    label="where"
                    testId="db-where"
                    placeholder="e.g. sex = 'FEMALE'"
                    rows={1}
                    onCommit={(w) => onPatch({ where: w })}
                  />
                  <Problems problems={problems} param="where" />
                </>
              )}
            </div>
          ) : (
            <div className="field" data-testid="field-query">
              <SqlEditor
                value={query}
                label="SQL query"
                testId="db-query"
                placeholder="SELECT … FROM … (one read-only statement)"
                rows={5}
                onCommit={(q) =>
                  onPatch({
                    query: q,
                    where: undefined,
                    table: undefined,
                    schema: undefined,
                    columns: undefined,
                    cursor: undefined,
                  })
                }
              />
              <div className="field-help">
                One SELECT (or WITH … SELECT) in the database's SQL; anything else is refused before it is
                sent.
              </div>
              <Problems problems={problems} param="query" />
            </div>
          )}

          <div className="field" data-testid="field-mode">
            <div className="field-label">
              <span>mode</span>
            </div>
            <div className="db-row">
              {(["full", "incremental"] as const).map((m) => (
                <label key={m} className="db-radio">
                  <input
                    type="radio"
                    name={`db-mode-${nodeId}`}
                    data-testid={`db-mode-${m}`}
                    checked={mode === m}
                    onChange={() =>
                      onPatch(
                        m === "full"
                          ? { mode: undefined, cursor: undefined, refresh: undefined }
                          : { mode: m },
                      )
                    }
                  />
                  {m === "full" ? "Full" : "Incremental"}
                </label>
              ))}
            </div>
            <div className="field-help">
              {mode === "full"
                ? "Every run reads every row."
                : "Each run reads only the rows past the last cursor value and appends them to those read before."}
            </div>
            <Problems problems={problems} param="mode" />
          </div>

          {mode === "incremental" && (
            <div className="field" data-testid="field-cursor">
              <div className="field-label">
                <label htmlFor={`db-cursor-${nodeId}`}>
                  cursor<span className="required">*</span>
                </label>
              </div>
              <select
                id={`db-cursor-${nodeId}`}
                className="field-input"
                data-testid="db-cursor"
                value={cursor ?? ""}
                onChange={(e) => onPatch({ cursor: e.target.value || undefined })}
              >
                <option value="">— choose the column that only grows —</option>
                {cursorChoices.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
                {cursor && !cursorChoices.includes(cursor) && (
                  <option value={cursor}>{cursor} (not among the columns read)</option>
                )}
              </select>
              <div className="field-help">An id or an insertion time: rows past its last value are new.</div>
              <Problems problems={problems} param="cursor" />
              {refreshArmed ? (
                <div className="db-refresh armed" data-testid="db-refresh-armed">
                  The next run drops the rows read before and reads everything again.{" "}
                  <button type="button" className="link-button" onClick={() => disarm(nodeId)}>
                    Keep them
                  </button>
                </div>
              ) : (
                <button
                  type="button"
                  className="button small"
                  data-testid="db-refresh"
                  title="Drop the rows read before and read everything again, once"
                  onClick={() => arm(nodeId)}
                >
                  Full refresh on next run
                </button>
              )}
            </div>
          )}

          <h3 className="inspector-section">Preview</h3>
          {preview.status === "idle" && (
            <p className="muted small">
              {sourceKind === "table"
                ? "Choose a table to see its first rows."
                : "Write a query to see its first rows."}
            </p>
          )}
          {preview.status === "loading" && <p className="muted small">Reading the first rows…</p>}
          {preview.status === "error" && (
            <div className="field-message" data-testid="db-preview-error">
              {preview.message}
            </div>
          )}
          {preview.status === "ok" && <PreviewGrid preview={preview.value} />}
        </>
      )}
    </div>
  );
}
