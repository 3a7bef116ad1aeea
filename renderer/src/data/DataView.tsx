/**
 * The Data view: the datasets runs have read (listDatasets), each with its
 * owner, purpose, latest version, last test and a sparkline of rows over
 * versions; a dataset's page (DatasetPage) when one is chosen.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import type { DatasetSummary } from "../../../app/values/datasets";
import { api } from "../api/client";
import { formatShortTime, formatTime } from "../experiments/format";
import { useExperiments } from "../experiments/store";
import { useApiKeepingLast } from "../panels/useApi";
import { ListSearch } from "../shell/ListSearch";
import { Loading } from "../shell/Loading";
import { useRun } from "../store/run";
import { DatasetPage } from "./DatasetPage";
import { shortDigest, sparkPath, suiteLabel, testResult } from "./format";
import { isPersonal } from "./tags";
import "./tags.css";
import { useData } from "./store";
import "./data.css";

const SPARK = { width: 72, height: 18 };

/** Rows over versions, oldest left; the last point is marked. */
export function Sparkline({ values }: { values: number[] }) {
  if (!values.length) return <span className="muted">—</span>;
  const d = sparkPath(values, SPARK.width, SPARK.height);
  const last = /([\d.]+) ([\d.]+)$/.exec(d);
  return (
    <svg
      className="sparkline"
      width={SPARK.width}
      height={SPARK.height}
      role="img"
      aria-label={`Rows over ${values.length} version${values.length === 1 ? "" : "s"}: ${values
        .map((v) => v.toLocaleString("en-US"))
        .join(", ")}`}
      data-testid="rows-sparkline"
    >
      <title>{`rows per version, oldest first: ${values.map((v) => v.toLocaleString("en-US")).join(" → ")}`}</title>
      <path d={d} fill="none" />
      {last && <circle cx={last[1]} cy={last[2]} r={2} />}
    </svg>
  );
}

/** "✓ passed" / "✗ 2 failed" / "—", with the suite it was. */
export function TestBadge({ test }: { test: DatasetSummary["lastTest"] }) {
  const result = testResult(test);
  return (
    <span
      className={`test-badge test-${result.state}`}
      data-testid="last-test"
      title={
        test
          ? `${test.suite}: ${test.successful} of ${test.evaluated} passed · ${formatTime(test.at)}`
          : "Not tested: attach a suite"
      }
    >
      {result.text}
      {test && <span className="muted small"> {suiteLabel(test.suite)}</span>}
    </span>
  );
}

function matches(d: DatasetSummary, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [d.name, d.path, d.governance.owner ?? "", d.governance.purpose ?? ""].some((s) =>
    s.toLowerCase().includes(q),
  );
}

function EmptyState() {
  return (
    <div className="view-empty data-empty" data-testid="data-empty">
      <h3>No dataset yet</h3>
      <p className="muted">
        A dataset shows here once a run reads it: run a pipeline with an{" "}
        <span className="mono">ingest.file</span> block, and each distinct content of the file it reads
        becomes a version, with its rows and schema.
      </p>
      <p className="muted">
        To test a dataset on every read, attach a suite in <span className="mono">dagwood.json</span>, or on
        the dataset's page once it is listed:
      </p>
      <pre className="data-snippet">{`"datasets": {
  "penguins": {
    "path": "data/penguins.csv",
    "suites": ["expectations/penguins.json"],
    "owner": "you@example.com"
  }
}`}</pre>
    </div>
  );
}

function DatasetList({ datasets, onOpen }: { datasets: DatasetSummary[]; onOpen(name: string): void }) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const shown = useMemo(() => datasets.filter((d) => matches(d, query)), [datasets, query]);
  const names = new Set(datasets.map((d) => d.name));
  return (
    <div className="data-list" data-testid="data-list">
      <div className="data-toolbar">
        <h2>Datasets</h2>
        <span className="muted small">
          {shown.length === datasets.length
            ? `${datasets.length} dataset${datasets.length === 1 ? "" : "s"}`
            : `${shown.length} of ${datasets.length}`}
        </span>
        {/* biome-ignore lint/a11y/noLabelWithoutControl: ListSearch renders the input inside the label */}
        <label className="data-search">
          <span className="visually-hidden">Filter datasets</span>
          <ListSearch
            query={query}
            count={shown.length}
            placeholder="Filter by name, path, owner or purpose"
            testId="data-search"
            onQuery={setQuery}
            onActive={setActive}
            onPick={() => {
              const d = shown[active];
              if (d) onOpen(d.name);
            }}
            onClose={() => setQuery("")}
          />
        </label>
      </div>
      <div className="data-scroll">
        <table className="runs-table data-table" data-testid="datasets-table">
          <colgroup>
            <col className="c-name" />
            <col className="c-owner" />
            <col />
            <col className="c-latest" />
            <col className="c-test" />
            <col className="c-spark" />
          </colgroup>
          <thead>
            <tr>
              <th>name</th>
              <th>owner</th>
              <th>purpose</th>
              <th>latest version</th>
              <th>last test</th>
              <th title="Rows over versions, oldest first, and how many versions">rows · versions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((d, i) => (
              <tr
                key={d.name}
                className={`${i === active && query ? "selected" : ""}${d.governance.deprecated ? " deprecated" : ""}`}
                data-testid={`dataset-${d.name}`}
                onClick={() => onOpen(d.name)}
              >
                <td>
                  <button
                    type="button"
                    className="link-button dataset-name ellipsis"
                    title={d.configured ? `${d.name} (${d.path})` : d.path}
                    onClick={(e) => {
                      e.stopPropagation();
                      onOpen(d.name);
                    }}
                  >
                    {d.configured ? d.name : d.name.replace(/^.*[\\/]/, "")}
                  </button>
                  <PersonalChip columnTags={d.columnTags} />
                  {!d.configured && (
                    <span className="muted small ellipsis unnamed" title={d.path}>
                      not in dagwood.json
                    </span>
                  )}
                  {d.governance.deprecated && (
                    <span
                      className="deprecated-chip ellipsis"
                      data-testid="deprecated-chip"
                      title={`Deprecated: ${d.governance.deprecated.reason}`}
                    >
                      deprecated
                      {d.governance.deprecated.replacement && (
                        <>
                          {" → "}
                          {names.has(d.governance.deprecated.replacement) ? (
                            <button
                              type="button"
                              className="link-button"
                              onClick={(e) => {
                                e.stopPropagation();
                                onOpen(d.governance.deprecated!.replacement!);
                              }}
                            >
                              {d.governance.deprecated.replacement}
                            </button>
                          ) : (
                            d.governance.deprecated.replacement
                          )}
                        </>
                      )}
                    </span>
                  )}
                </td>
                <td className="ellipsis" title={d.governance.owner ?? "No owner"}>
                  {d.governance.owner ?? <span className="muted">—</span>}
                </td>
                <td className="ellipsis" title={d.governance.purpose ?? ""}>
                  {d.governance.purpose ?? <span className="muted">—</span>}
                </td>
                <td className="ellipsis">
                  {d.latest ? (
                    <span
                      title={`${d.latest.digest}\n${d.latest.source}\nlast read ${formatTime(d.latest.lastSeen)}`}
                    >
                      <span className="mono">{shortDigest(d.latest.digest)}</span> ·{" "}
                      {d.latest.rows.toLocaleString("en-US")} rows ·{" "}
                      <span className="muted">{formatShortTime(d.latest.lastSeen)}</span>
                    </span>
                  ) : (
                    <span className="muted">not read yet</span>
                  )}
                </td>
                <td className="ellipsis">
                  <TestBadge test={d.lastTest} />
                </td>
                <td>
                  <Sparkline values={d.rowsHistory} />
                  {d.versions > 0 && (
                    <span
                      className="muted small"
                      title={`${d.versions} version${d.versions === 1 ? "" : "s"}`}
                    >
                      {" "}
                      {d.versions}
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!shown.length && <p className="muted small data-none">No dataset matches “{query}”.</p>}
      </div>
    </div>
  );
}

/** How many columns carry a personal tag (pii, sensitive) in dagwood.json; their names in the tooltip. */
function PersonalChip({ columnTags }: { columnTags: Record<string, string[]> }) {
  const personal = Object.entries(columnTags ?? {})
    .filter(([, tags]) => tags.some(isPersonal))
    .map(([c]) => c);
  if (!personal.length) return null;
  return (
    <span
      className="coltag personal dataset-personal"
      data-testid="dataset-personal"
      title={`Columns tagged personal (pii, sensitive): ${personal.join(", ")}`}
    >
      {personal.length} personal
    </span>
  );
}

/**
 * Counts the runs that ended while the view was open: a new version or test shows without a refresh.
 * The run store follows the app's own runs; another pipeline's run (`dagwood run` attached to this
 * engine) ends by reloading the Experiments list (services/runner.ts), counted here too.
 */
export function useRunsEnded(): number {
  const status = useRun((s) => s.status);
  const elsewhere = useExperiments((s) => s.revision);
  const [ended, setEnded] = useState(0);
  const wasRunning = useRef(false);
  useEffect(() => {
    const running = status === "running" || status === "starting";
    if (wasRunning.current && !running) setEnded((n) => n + 1);
    wasRunning.current = running;
  }, [status]);
  return ended + elsewhere;
}

export function DatasetsView() {
  const [revision, setRevision] = useState(0);
  const runsEnded = useRunsEnded();
  const chosen = useData((s) => s.chosen);
  const choose = useData.getState().choose;
  const loaded = useApiKeepingLast(() => api.listDatasets({}), `${revision}:${runsEnded}`);
  if (chosen)
    return (
      <div className="data-view" data-testid="data-view">
        <DatasetPage
          name={chosen}
          runsEnded={runsEnded}
          datasets={loaded.status === "ok" ? loaded.value : []}
          onBack={() => {
            choose(null);
            setRevision((r) => r + 1);
          }}
          onOpen={choose}
        />
      </div>
    );
  return (
    <div className="data-view" data-testid="data-view">
      {loaded.status === "loading" && <Loading>Loading datasets…</Loading>}
      {loaded.status === "error" && <div className="panel-error">{loaded.message}</div>}
      {loaded.status === "ok" &&
        (loaded.value.length ? <DatasetList datasets={loaded.value} onOpen={choose} /> : <EmptyState />)}
    </div>
  );
}
