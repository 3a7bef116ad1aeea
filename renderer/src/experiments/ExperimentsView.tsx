/**
 * The Experiments view: the project's runs as a table (searchRuns, paged on
 * the core so 10,000 runs cost one page), filtered, sorted and with chosen
 * columns; ticked runs compare side by side; a click opens a run's detail.
 */
import { lazy, Suspense, useEffect, useMemo, useRef, useState } from "react";
import { useShallow } from "zustand/react/shallow";
import type { ApiArgs, RunOwner, RunStatus } from "../../../app/api/api";
import { api } from "../api/client";
import { useApi } from "../panels/useApi";
import { useRun } from "../store/run";
import { ColumnChooser } from "./ColumnChooser";
import { parseFilter } from "./filter";
import { defaultMetricColumns } from "./format";
import { mineTitle } from "./owner";
import { RunDetailPanel } from "./RunDetail";
import { RunsTable } from "./RunsTable";
import { DEFAULT_METRIC_COLUMNS, PAGE_SIZE, useExperiments } from "./store";
import { useRunNodes } from "./useRunNodes";

/**
 * The compare view's code (recharts) is fetched apart from the first paint.
 * Once fetched it is rendered directly: a lazy component that suspends on its
 * first render would show the fallback and then wait React's fallback
 * throttle (300 ms in React 19) before drawing the charts.
 */
let compareModule: typeof import("./CompareView") | null = null;
const loadCompareView = () =>
  import("./CompareView").then((m) => {
    compareModule = m;
    return m;
  });
const LazyCompareView = lazy(loadCompareView);

function Comparing({ runIds }: { runIds: string[] }) {
  const Loaded = compareModule?.default;
  if (Loaded) return <Loaded runIds={runIds} />;
  return (
    <Suspense fallback={<p className="muted panel-empty">Loading charts…</p>}>
      <LazyCompareView runIds={runIds} />
    </Suspense>
  );
}

const STATUSES: RunStatus[] = ["succeeded", "failed", "running", "canceled", "interrupted"];

/** Pipeline names for the select: asked once per view opening, from the latest runs. */
function usePipelineNames(revision: number): string[] {
  const loaded = useApi(() => api.listRuns({ limit: 1000 }), `pipelines:${revision}`);
  return useMemo(
    () => (loaded.status === "ok" ? [...new Set(loaded.value.map((r) => r.pipeline))].sort() : []),
    [loaded],
  );
}

/** Who the engine records runs as (asked once: it does not change while the app runs). */
function useMe(): RunOwner | null {
  const loaded = useApi(() => api.whoAmI({}), "whoAmI");
  return loaded.status === "ok" ? loaded.value : null;
}

function Toolbar({ filterError, pipelines }: { filterError: string | null; pipelines: string[] }) {
  const s = useExperiments(
    useShallow((s) => ({
      pipeline: s.pipeline,
      status: s.status,
      filterText: s.filterText,
      includeTrials: s.includeTrials,
      mine: s.mine,
      selected: s.selected,
    })),
  );
  const me = useMe();
  // Without a user name there is nothing to filter by; a choice left on stays visible so it can be undone.
  const noUser = me !== null && !me.user && !s.mine;
  const ex = useExperiments.getState();
  // The box is edited freely and applied on Enter or blur; a tag clicked in the table rewrites it.
  const [draft, setDraft] = useState(s.filterText);
  useEffect(() => setDraft(s.filterText), [s.filterText]);
  return (
    <div className="runs-toolbar">
      <select
        className="field-input runs-pipeline"
        data-testid="runs-pipeline"
        value={s.pipeline}
        onChange={(e) => ex.setPipeline(e.target.value)}
        aria-label="Pipeline"
      >
        <option value="">All pipelines</option>
        {s.pipeline && !pipelines.includes(s.pipeline) && <option value={s.pipeline}>{s.pipeline}</option>}
        {pipelines.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
      <select
        className="field-input runs-status"
        data-testid="runs-status"
        value={s.status[0] ?? ""}
        onChange={(e) => ex.setStatus(e.target.value ? [e.target.value as RunStatus] : [])}
        aria-label="Status"
      >
        <option value="">Any status</option>
        {STATUSES.map((st) => (
          <option key={st} value={st}>
            {st}
          </option>
        ))}
      </select>
      <div className="runs-filter">
        <input
          className={`field-input mono${filterError ? " invalid" : ""}`}
          data-testid="runs-filter"
          placeholder="evaluate.accuracy > 0.9 and train.maxDepth = 6, tag.team = vision"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") ex.setFilterText(e.currentTarget.value);
          }}
          onBlur={(e) => ex.setFilterText(e.currentTarget.value)}
          aria-label="Filter runs (Enter to apply)"
          title="Conditions on params, metrics and tags, joined by 'and' or commas; Enter applies"
        />
        {filterError && (
          <div className="field-message" data-testid="runs-filter-error">
            {filterError}
          </div>
        )}
      </div>
      <label className="runs-check small">
        <input
          type="checkbox"
          checked={s.includeTrials}
          onChange={(e) => ex.setIncludeTrials(e.target.checked)}
        />{" "}
        trials
      </label>
      <label className="runs-check small" title={mineTitle(me)}>
        <input
          type="checkbox"
          data-testid="runs-mine"
          checked={s.mine}
          disabled={noUser}
          onChange={(e) => ex.setMine(e.target.checked)}
        />{" "}
        only my runs
      </label>
      <ColumnChooser />
      <button type="button" className="button" data-testid="runs-refresh" onClick={() => ex.reload()}>
        ↻ Refresh
      </button>
      <span className="spacer" />
      {s.selected.length > 0 && (
        <button type="button" className="link-button small" onClick={() => ex.clearSelection()}>
          clear selection
        </button>
      )}
      <button
        type="button"
        className="button primary"
        data-testid="compare-button"
        disabled={s.selected.length < 2 || s.selected.length > 100}
        title={
          s.selected.length < 2
            ? "Tick two runs or more to compare them"
            : s.selected.length > 100
              ? "Compare at most 100 runs"
              : `Compare ${s.selected.length} runs`
        }
        onClick={() => ex.compare([...s.selected])}
      >
        Compare {s.selected.length > 0 ? `(${s.selected.length})` : ""}
      </button>
    </div>
  );
}

function RunsPage() {
  const q = useExperiments(
    useShallow((s) => ({
      pipeline: s.pipeline,
      status: s.status,
      filterText: s.filterText,
      includeTrials: s.includeTrials,
      mine: s.mine,
      sort: s.sort,
      page: s.page,
      paramColumns: s.paramColumns,
      revision: s.revision,
      seenParams: s.seenParams,
      seenMetrics: s.seenMetrics,
    })),
  );
  const pipelines = usePipelineNames(q.revision);
  const filter = useMemo(
    () => parseFilter(q.filterText, { params: q.seenParams, metrics: q.seenMetrics }),
    [q.filterText, q.seenParams, q.seenMetrics],
  );
  const query: ApiArgs<"searchRuns"> = {
    ...(q.pipeline ? { pipeline: q.pipeline } : {}),
    ...(q.status.length ? { status: q.status } : {}),
    ...(q.mine ? { mine: true } : {}),
    ...(filter.ok && filter.conditions.length ? { where: filter.conditions } : {}),
    orderBy: { field: q.sort.field, ...(q.sort.key ? { key: q.sort.key } : {}), desc: q.sort.desc },
    limit: PAGE_SIZE,
    offset: q.page * PAGE_SIZE,
    includeChildren: q.includeTrials,
    paramKeys: q.paramColumns,
  };
  const key = JSON.stringify(query) + q.revision;
  const loaded = useApi(() => api.searchRuns(query), key);
  useEffect(() => {
    if (loaded.status === "ok")
      useExperiments.getState().noteKeys(loaded.value.paramKeys, loaded.value.metricKeys);
  }, [loaded]);

  // A metric column shown by default is among the first few keys of what the query found.
  const metricColumns = useExperiments((s) => s.metricColumns);
  const shownMetrics =
    metricColumns ??
    (loaded.status === "ok" ? defaultMetricColumns(loaded.value.metricKeys, DEFAULT_METRIC_COLUMNS) : []);

  const nodes = useRunNodes(loaded.status === "ok" ? loaded.value.runs : null);
  return (
    <div className="runs-page">
      <Toolbar filterError={filter.ok ? null : filter.error} pipelines={pipelines} />
      <RunsTable loaded={loaded} paramColumns={q.paramColumns} metricColumns={shownMetrics} nodes={nodes} />
    </div>
  );
}

export function ExperimentsView() {
  const { comparing, detailRunId } = useExperiments(
    useShallow((s) => ({ comparing: s.comparing, detailRunId: s.detailRunId })),
  );
  // The compare charts' code is fetched once the view is idle (or a run is ticked), so Compare does not wait for it.
  const ticked = useExperiments((s) => s.selected.length > 0);
  useEffect(() => {
    if (ticked) void loadCompareView();
  }, [ticked]);
  useEffect(() => {
    const id = requestIdleCallback(() => void loadCompareView(), { timeout: 2000 });
    return () => cancelIdleCallback(id);
  }, []);
  // A run that ends in this window shows up without a manual refresh.
  const runStatus = useRun((s) => s.status);
  const wasRunning = useRef(false);
  useEffect(() => {
    const running = runStatus === "running" || runStatus === "starting";
    if (wasRunning.current && !running) useExperiments.getState().reload();
    wasRunning.current = running;
  }, [runStatus]);
  return (
    <div className="experiments-view" data-testid="experiments-view">
      <div className="experiments-main">{comparing ? <Comparing runIds={comparing} /> : <RunsPage />}</div>
      {detailRunId && <RunDetailPanel runId={detailRunId} />}
    </div>
  );
}
