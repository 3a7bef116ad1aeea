/** The Experiments view's state: the query the runs table shows, the columns, the selection, what is open. */
import { create } from "zustand";
import type { RunQuery, RunStatus } from "../../../app/api/api";
import { metricDirection } from "../../../app/values/metric-direction";
import { loadMine, saveMine } from "./owner";

export type SortField = NonNullable<RunQuery["orderBy"]>["field"];
export interface Sort {
  field: SortField;
  key?: string;
  desc: boolean;
}

export const PAGE_SIZE = 50;

/** The compare page's tabs. */
export type CompareTab = "overview" | "complexity";
/** The complexity view's size axis (its other plot is always latency). */
export type ComplexitySize = "bytes" | "learned";
/** Metric columns shown before the user chooses: the first few keys. */
export const DEFAULT_METRIC_COLUMNS = 4;

interface ExperimentsState {
  pipeline: string;
  status: RunStatus[];
  filterText: string;
  includeTrials: boolean;
  /** Only the runs of the user the engine records runs under ("Only my runs"; kept in localStorage). */
  mine: boolean;
  sort: Sort;
  page: number;
  /** Chosen columns; metrics null means "the first few". */
  paramColumns: string[];
  metricColumns: string[] | null;
  /** Selected run ids, in the order they were ticked (the compare colours follow it). */
  selected: string[];
  /** The runs being compared, or null for the table. */
  comparing: string[] | null;
  /** The run whose detail is open. */
  detailRunId: string | null;
  /**
   * The compare page's open tab and the complexity view's choices: kept here, not in the views,
   * so that they are as the user left them after a visit to another view (which unmounts them).
   */
  compareTab: CompareTab;
  complexityMetric: string | null;
  complexitySize: ComplexitySize;
  /** Every param and metric key seen in this session, so the filter knows keys a narrow query hides. */
  seenParams: Set<string>;
  seenMetrics: Set<string>;
  /** Bumped to fetch again (a run finished, a tag changed). */
  revision: number;
  reload(): void;
  setPipeline(pipeline: string): void;
  setStatus(status: RunStatus[]): void;
  setFilterText(text: string): void;
  setIncludeTrials(include: boolean): void;
  setMine(mine: boolean): void;
  sortBy(field: SortField, key?: string): void;
  setPage(page: number): void;
  setColumns(params: string[], metrics: string[]): void;
  toggleSelected(id: string): void;
  clearSelection(): void;
  compare(ids: string[] | null): void;
  openRun(id: string | null): void;
  setCompareTab(tab: CompareTab): void;
  setComplexity(choice: { metric?: string; size?: ComplexitySize }): void;
  noteKeys(params: string[], metrics: string[]): void;
}

function union(set: Set<string>, keys: string[]): Set<string> {
  if (keys.every((k) => set.has(k))) return set;
  return new Set([...set, ...keys]);
}

export const useExperiments = create<ExperimentsState>()((set, get) => ({
  pipeline: "",
  status: [],
  filterText: "",
  includeTrials: false,
  mine: loadMine(),
  sort: { field: "startedAt", desc: true },
  page: 0,
  paramColumns: [],
  metricColumns: null,
  selected: [],
  comparing: null,
  detailRunId: null,
  compareTab: "overview",
  complexityMetric: null,
  complexitySize: "bytes",
  seenParams: new Set(),
  seenMetrics: new Set(),
  revision: 0,
  reload: () => set((s) => ({ revision: s.revision + 1 })),
  setPipeline: (pipeline) => set({ pipeline, page: 0 }),
  setStatus: (status) => set({ status, page: 0 }),
  setFilterText: (filterText) => set({ filterText, page: 0 }),
  setIncludeTrials: (includeTrials) => set({ includeTrials, page: 0 }),
  setMine(mine) {
    saveMine(mine);
    set({ mine, page: 0 });
  },
  sortBy(field, key) {
    const s = get().sort;
    const same = s.field === field && s.key === key;
    // A first click on a metric or a date sorts the best/newest first (an error metric, such as rmse,
    // lowest first); a second click flips it.
    const first =
      field === "metric"
        ? metricDirection(key ?? "") !== "lower"
        : field !== "pipeline" && field !== "status";
    set({ sort: { field, key, desc: same ? !s.desc : first }, page: 0 });
  },
  setPage: (page) => set({ page: Math.max(0, page) }),
  setColumns: (paramColumns, metricColumns) => set({ paramColumns, metricColumns }),
  toggleSelected(id) {
    const selected = get().selected;
    set({ selected: selected.includes(id) ? selected.filter((s) => s !== id) : [...selected, id] });
  },
  clearSelection: () => set({ selected: [] }),
  compare: (comparing) => set({ comparing, detailRunId: null }),
  openRun: (detailRunId) => set({ detailRunId }),
  setCompareTab: (compareTab) => set({ compareTab }),
  setComplexity: ({ metric, size }) =>
    set((s) => ({
      complexityMetric: metric ?? s.complexityMetric,
      complexitySize: size ?? s.complexitySize,
    })),
  noteKeys(params, metrics) {
    const s = get();
    const seenParams = union(s.seenParams, params);
    const seenMetrics = union(s.seenMetrics, metrics);
    if (seenParams !== s.seenParams || seenMetrics !== s.seenMetrics) set({ seenParams, seenMetrics });
  },
}));
