/** One page of runs: sortable headers, a checkbox per run, chosen param and metric columns, paging. */
import "./experiments.css";
import { useShallow } from "zustand/react/shallow";
import type { RunListItem, RunPage } from "../../../app/api/api";
import type { Loaded } from "../panels/useApi";
import { Loading } from "../shell/Loading";
import { conditionText } from "./filter";
import { formatDuration, formatMetric, formatTime, formatValue, shortId } from "./format";
import { keyTitle, type NodeInfo, splitKey } from "./nodeInfo";
import { ownerLabel, ownerTitle } from "./owner";
import { PAGE_SIZE, type SortField, useExperiments } from "./store";

interface Column {
  id: string;
  label: string;
  /** A second header line: what the column's node is ("evaluate of gbdt"). */
  sub?: string;
  title?: string;
  sort?: { field: SortField; key?: string };
  cell(run: RunListItem): React.ReactNode;
  numeric?: boolean;
}

function addTagFilter(key: string, value: string) {
  const ex = useExperiments.getState();
  const clause = conditionText({ field: "tag", key, op: "=", value });
  ex.setFilterText(ex.filterText.trim() ? `${ex.filterText.trim()}, ${clause}` : clause);
}

/** "evaluate of gbdt" for a node fed a model; nothing for others (their id says enough). */
function nodeLine(key: string, nodes: Map<string, NodeInfo>): string | undefined {
  const info = nodes.get(splitKey(key).node);
  return info?.model ? `${info.block} of ${info.model}` : undefined;
}

function columnsFor(paramColumns: string[], metricColumns: string[], nodes: Map<string, NodeInfo>): Column[] {
  return [
    {
      id: "id",
      label: "run",
      cell: (r) => (
        <span className="mono" title={r.id}>
          {shortId(r.id)}
        </span>
      ),
    },
    { id: "pipeline", label: "pipeline", sort: { field: "pipeline" }, cell: (r) => r.pipeline },
    {
      id: "status",
      label: "status",
      sort: { field: "status" },
      cell: (r) => <span className={`run-status status-${r.status}`}>{r.status}</span>,
    },
    { id: "started", label: "started", sort: { field: "startedAt" }, cell: (r) => formatTime(r.startedAt) },
    {
      id: "by",
      label: "by",
      title: "Who started the run, and on which machine (user@machine)",
      cell: (r) => (
        <span className="run-owner" data-testid={`run-owner-${r.id}`} title={ownerTitle(r)}>
          {ownerLabel(r)}
        </span>
      ),
    },
    {
      id: "duration",
      label: "duration",
      sort: { field: "duration" },
      numeric: true,
      cell: (r) => formatDuration(r.durationMs),
    },
    ...paramColumns.map(
      (k): Column => ({
        id: `param:${k}`,
        label: k,
        title: keyTitle("param", k, nodes),
        sort: { field: "param", key: k },
        cell: (r) => formatValue(r.resolvedParams[k]),
      }),
    ),
    ...metricColumns.map(
      (k): Column => ({
        id: `metric:${k}`,
        label: k,
        sub: nodeLine(k, nodes),
        title: keyTitle("metric", k, nodes),
        numeric: true,
        sort: { field: "metric", key: k },
        cell: (r) => formatMetric(r.metrics[k]),
      }),
    ),
    {
      id: "tags",
      label: "tags",
      cell: (r) =>
        Object.entries(r.tags).map(([k, v]) => (
          <button
            key={k}
            type="button"
            className="chip tag-chip"
            title={`Show only runs tagged ${k} = ${v}`}
            onClick={(e) => {
              e.stopPropagation();
              addTagFilter(k, v);
            }}
          >
            {k}={v}
          </button>
        )),
    },
  ];
}

function Header({ column }: { column: Column }) {
  const sort = useExperiments((s) => s.sort);
  if (!column.sort)
    return (
      <th className={column.numeric ? "num" : undefined} title={column.title}>
        {column.label}
        {column.sub && <span className="th-sub">{column.sub}</span>}
      </th>
    );
  const { field, key } = column.sort;
  const active = sort.field === field && sort.key === key;
  return (
    <th
      className={`sortable${active ? " sorted" : ""}${column.numeric ? " num" : ""}`}
      aria-sort={active ? (sort.desc ? "descending" : "ascending") : "none"}
      title={column.title ? `${column.title} (click to sort)` : "Click to sort"}
    >
      <button
        type="button"
        className="th-button"
        data-testid={`runs-sort-${column.id}`}
        onClick={() => useExperiments.getState().sortBy(field, key)}
      >
        {column.label}
        <span className="sort-mark">{active ? (sort.desc ? "▼" : "▲") : ""}</span>
        {column.sub && <span className="th-sub">{column.sub}</span>}
      </button>
    </th>
  );
}

function Pager({ total }: { total: number }) {
  const page = useExperiments((s) => s.page);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const from = total ? page * PAGE_SIZE + 1 : 0;
  const to = Math.min(total, (page + 1) * PAGE_SIZE);
  const setPage = useExperiments.getState().setPage;
  return (
    <div className="runs-pager">
      <span className="muted" data-testid="runs-total">
        {from}–{to} of {total.toLocaleString()} runs
      </span>
      <button
        type="button"
        className="button small"
        data-testid="runs-first"
        aria-label="First page"
        title="First page"
        disabled={page === 0}
        onClick={() => setPage(0)}
      >
        «
      </button>
      <button
        type="button"
        className="button small"
        data-testid="runs-prev"
        disabled={page === 0}
        onClick={() => setPage(page - 1)}
      >
        ‹ Prev
      </button>
      <span className="small">
        page {page + 1} / {pages}
      </span>
      <button
        type="button"
        className="button small"
        data-testid="runs-next"
        disabled={page + 1 >= pages}
        onClick={() => setPage(page + 1)}
      >
        Next ›
      </button>
      <button
        type="button"
        className="button small"
        data-testid="runs-last"
        aria-label="Last page"
        title="Last page"
        disabled={page + 1 >= pages}
        onClick={() => setPage(pages - 1)}
      >
        »
      </button>
    </div>
  );
}

function EmptyRuns({ filtered }: { filtered: boolean }) {
  return (
    <div className="view-empty" data-testid="runs-empty">
      {filtered ? (
        <>
          <h3>No run matches</h3>
          <p className="muted">
            Loosen the filter, pick another pipeline or status, tick “trials”, or untick “only my runs”.
          </p>
        </>
      ) : (
        <>
          <h3>No runs yet</h3>
          <p className="muted">
            Run a pipeline to see it here: open one in the Editor and press ▶ Run, or run{" "}
            <span className="mono">dagwood run &lt;pipeline&gt;</span>.
          </p>
        </>
      )}
    </div>
  );
}

export function RunsTable({
  loaded,
  paramColumns,
  metricColumns,
  nodes,
}: {
  loaded: Loaded<RunPage>;
  paramColumns: string[];
  metricColumns: string[];
  /** The nodes of the page's pipelines, for column captions. */
  nodes: Map<string, NodeInfo>;
}) {
  const { selected, detailRunId, filtered } = useExperiments(
    useShallow((s) => ({
      selected: s.selected,
      detailRunId: s.detailRunId,
      filtered: !!(s.pipeline || s.status.length || s.filterText.trim() || s.mine),
    })),
  );
  if (loaded.status === "loading") return <Loading testId="runs-loading">Loading runs…</Loading>;
  if (loaded.status === "error") return <div className="panel-error">{loaded.message}</div>;
  const { runs, total } = loaded.value;
  if (!runs.length && total === 0) return <EmptyRuns filtered={filtered} />;
  const columns = columnsFor(paramColumns, metricColumns, nodes);
  const ex = useExperiments.getState();
  const allTicked = runs.every((r) => selected.includes(r.id));
  return (
    <>
      <div className="runs-scroll">
        <table className="runs-table" data-testid="runs-table">
          <thead>
            <tr>
              <th className="check">
                <input
                  type="checkbox"
                  aria-label="Select the runs of this page"
                  checked={allTicked}
                  onChange={() => {
                    for (const r of runs) if (allTicked === selected.includes(r.id)) ex.toggleSelected(r.id);
                  }}
                />
              </th>
              {columns.map((c) => (
                <Header key={c.id} column={c} />
              ))}
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr
                key={r.id}
                data-testid={`run-row-${r.id}`}
                className={`${selected.includes(r.id) ? "selected" : ""}${detailRunId === r.id ? " open" : ""}`}
                onClick={() => ex.openRun(r.id)}
              >
                <td className="check">
                  <input
                    type="checkbox"
                    data-testid={`run-select-${r.id}`}
                    aria-label={`Select run ${r.id}`}
                    checked={selected.includes(r.id)}
                    onClick={(e) => e.stopPropagation()}
                    onChange={() => ex.toggleSelected(r.id)}
                  />
                </td>
                {columns.map((c) => (
                  <td key={c.id} className={c.numeric ? "num" : undefined}>
                    {c.cell(r)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager total={total} />
    </>
  );
}
