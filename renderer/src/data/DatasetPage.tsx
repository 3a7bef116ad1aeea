/**
 * A dataset's page: its governance (edited in place), attached suites, test
 * history as a pass/fail strip (a cell opens the failing expectations), its
 * versions, the schema diff between two of them, and what used it.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type {
  DatasetDetail,
  DatasetSummary,
  DatasetTest,
  DatasetVersion,
} from "../../../app/values/datasets";
import { api } from "../api/client";
import { formatShortTime, formatTime, shortId } from "../experiments/format";
import { showRun } from "../experiments/showRun";
import { useModels } from "../models/store";
import { useApi, useApiKeepingLast } from "../panels/useApi";
import { messageOf, reportError } from "../services/errors";
import { openPipeline } from "../services/pipelineFile";
import { Loading } from "../shell/Loading";
import { useCatalog } from "../store/catalog";
import { toast } from "../store/toasts";
import { useUi } from "../store/ui";
import type { GovernancePatch } from "./api";
import { DatasetColumns } from "./DatasetColumns";
import { TestBadge } from "./DataView";
import {
  diffSummary,
  formatExample,
  formatKwargs,
  pipelineFile,
  schemaDiff,
  shortDigest,
  suiteLabel,
  testStrips,
  unexpectedText,
  versionNumbers,
} from "./format";
import { GovernanceEditor } from "./GovernanceEditor";

export function DatasetPage({
  name,
  runsEnded,
  datasets,
  onBack,
  onOpen,
}: {
  name: string;
  /** Changes when a run ends: the page reloads its versions and tests. */
  runsEnded: number;
  datasets: DatasetSummary[];
  onBack(): void;
  onOpen(name: string): void;
}) {
  const [revision, setRevision] = useState(0);
  const loaded = useApiKeepingLast(() => api.getDataset({ name }), `${name}:${revision}:${runsEnded}`);
  return (
    <div className="dataset-page" data-testid="dataset-page">
      <div className="dataset-nav">
        <button type="button" className="button small" data-testid="data-back" onClick={onBack}>
          ← Datasets
        </button>
      </div>
      {loaded.status === "loading" && <Loading>Loading {name}…</Loading>}
      {loaded.status === "error" && <div className="panel-error">{loaded.message}</div>}
      {loaded.status === "ok" && loaded.value.name === name && (
        <Detail
          detail={loaded.value}
          others={datasets.map((d) => d.name).filter((n) => n !== name)}
          onChanged={() => setRevision((r) => r + 1)}
          onOpen={onOpen}
        />
      )}
    </div>
  );
}

function Detail({
  detail: d,
  others,
  onChanged,
  onOpen,
}: {
  detail: DatasetDetail;
  others: string[];
  onChanged(): void;
  onOpen(name: string): void;
}) {
  const save = async (patch: GovernancePatch) => {
    await api.updateDataset({ name: d.name, governance: patch });
    onChanged();
  };
  const deprecated = d.governance.deprecated;
  return (
    <>
      <header className="dataset-head">
        <h2 className="ellipsis" title={d.name} data-testid="dataset-title">
          {d.name}
        </h2>
        <span className="mono muted ellipsis dataset-path" title={d.path}>
          {d.path}
        </span>
        <span className="muted small">
          {d.versions} version{d.versions === 1 ? "" : "s"}
        </span>
        {d.lastTest && <TestBadge test={d.lastTest} />}
      </header>
      {deprecated && (
        <div className="deprecated-banner" role="note" data-testid="deprecated-banner">
          Deprecated{deprecated.since ? ` since ${deprecated.since}` : ""}: {deprecated.reason}
          {/[.!?]$/.test(deprecated.reason) ? "" : "."}
          {deprecated.replacement && (
            <>
              {" "}
              Use{" "}
              {others.includes(deprecated.replacement) ? (
                <button type="button" className="link-button" onClick={() => onOpen(deprecated.replacement!)}>
                  {deprecated.replacement}
                </button>
              ) : (
                <span className="mono">{deprecated.replacement}</span>
              )}{" "}
              instead.
            </>
          )}
        </div>
      )}
      {!d.configured && <NameDataset detail={d} onNamed={onOpen} />}
      <div className="dataset-top">
        <section className="dataset-section">
          <h3>Governance</h3>
          <GovernanceEditor
            governance={d.governance}
            disabled={d.configured ? null : "Name this dataset in dagwood.json first (above)."}
            save={save}
            replacements={others}
          />
        </section>
        <section className="dataset-section">
          <h3>Suites</h3>
          <Suites detail={d} onChanged={onChanged} />
        </section>
      </div>
      <DatasetColumns detail={d} onChanged={onChanged} />
      <section className="dataset-section">
        <h3>Test history</h3>
        <TestHistory detail={d} />
      </section>
      <section className="dataset-section">
        <h3>Versions</h3>
        <Versions versions={d.allVersions} />
      </section>
      <section className="dataset-section">
        <h3>Schema diff</h3>
        <SchemaDiff versions={d.allVersions} />
      </section>
      <section className="dataset-section">
        <h3>Used by</h3>
        <UsedBy usedBy={d.usedBy} />
      </section>
    </>
  );
}

/** A file read with no dagwood.json entry: naming it creates the entry (then it takes an owner and suites). */
function NameDataset({ detail, onNamed }: { detail: DatasetDetail; onNamed(name: string): void }) {
  const suggested = (detail.path.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "") || "dataset")
    .replace(/[^A-Za-z0-9_.-]/g, "_")
    .replace(/^[^A-Za-z]+/, "");
  const [name, setName] = useState(suggested || "dataset");
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="name-dataset"
      data-testid="name-dataset"
      onSubmit={(e) => {
        e.preventDefault();
        api.updateDataset({ name: name.trim(), path: detail.path }).then(
          (s) => {
            toast(`${s.name} added to dagwood.json`);
            onNamed(s.name);
          },
          (err) => setError(messageOf(err).replace(/^Invalid arguments for \w+: /, "")),
        );
      }}
    >
      <span>
        This file has no entry in <span className="mono">dagwood.json</span>. Name it to give it an owner and
        suites:
      </span>
      <input
        className={`field-input${error ? " invalid" : ""}`}
        aria-label="Dataset name"
        data-testid="name-dataset-input"
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <button type="submit" className="button small primary">
        Add to dagwood.json
      </button>
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

function Suites({ detail: d, onChanged }: { detail: DatasetDetail; onChanged(): void }) {
  const available = useApi(() => api.listSuites({}).catch(() => null), `suites:${d.name}`);
  const [adding, setAdding] = useState("");
  const [busy, setBusy] = useState(false);
  const update = async (args: { suites?: string[]; onFailure?: "warn" | "fail" }, done: string) => {
    setBusy(true);
    try {
      await api.updateDataset({ name: d.name, ...args });
      toast(done);
      onChanged();
    } catch (e) {
      reportError(e, "Could not update the dataset");
    } finally {
      setBusy(false);
    }
  };
  const suites = available.status === "ok" ? available.value : null;
  const candidates = (suites ?? []).filter((s) => !d.suites.includes(s.path));
  const disabled = !d.configured;
  return (
    <div className="dataset-suites" data-testid="dataset-suites">
      {d.suites.length ? (
        <ul className="suite-list">
          {d.suites.map((s) => (
            <li key={s} className="suite-chip" data-testid={`suite-${suiteLabel(s)}`}>
              <span className="mono ellipsis" title={s}>
                {s}
              </span>
              <button
                type="button"
                className="icon-button"
                aria-label={`Detach ${s}`}
                title="Detach: reads of this dataset no longer run it"
                disabled={busy || disabled}
                onClick={() =>
                  void update({ suites: d.suites.filter((x) => x !== s) }, `${suiteLabel(s)} detached`)
                }
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted small">
          No suite attached: every read of this dataset by <span className="mono">ingest.file</span> runs the
          suites attached here.
        </p>
      )}
      {d.configured && d.onFailure ? (
        <label className="suite-on-failure small">
          When a suite fails, the read{" "}
          <select
            className="field-input"
            data-testid="suite-on-failure"
            value={d.onFailure}
            disabled={busy}
            onChange={(e) => {
              const onFailure = e.target.value === "fail" ? "fail" : "warn";
              void update(
                { onFailure },
                onFailure === "fail" ? "A failing suite now fails the read" : "A failing suite now warns",
              );
            }}
          >
            <option value="warn">warns and goes on</option>
            <option value="fail">fails (downstream is skipped)</option>
          </select>
        </label>
      ) : null}
      <div className="suite-add">
        {suites ? (
          <select
            className="field-input"
            data-testid="suite-add"
            aria-label="Attach a suite"
            value={adding}
            disabled={busy || disabled || !candidates.length}
            onChange={(e) => {
              const path = e.target.value;
              setAdding("");
              if (path) void update({ suites: [...d.suites, path] }, `${suiteLabel(path)} attached`);
            }}
          >
            <option value="">
              {candidates.length ? "Attach a suite…" : "No other suite in expectations/"}
            </option>
            {candidates.map((s) => (
              <option key={s.path} value={s.path}>
                {s.path} ({s.expectations} expectation{s.expectations === 1 ? "" : "s"})
              </option>
            ))}
          </select>
        ) : (
          <form
            className="suite-path-form"
            onSubmit={(e) => {
              e.preventDefault();
              const path = adding.trim();
              if (path) void update({ suites: [...d.suites, path] }, `${suiteLabel(path)} attached`);
              setAdding("");
            }}
          >
            <input
              className="field-input"
              data-testid="suite-add-path"
              aria-label="Suite path"
              placeholder="expectations/name.json"
              value={adding}
              disabled={busy || disabled}
              onChange={(e) => setAdding(e.target.value)}
            />
            <button type="submit" className="button small" disabled={busy || disabled || !adding.trim()}>
              Attach
            </button>
          </form>
        )}
      </div>
    </div>
  );
}

/** One row per suite, a cell per test, newest right; a cell opens what failed. */
function TestHistory({ detail: d }: { detail: DatasetDetail }) {
  const strips = useMemo(() => testStrips(d.tests, d.allVersions), [d.tests, d.allVersions]);
  const [picked, setPicked] = useState<number | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  // The newest tests are on the right: a long history starts scrolled to them.
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new history (strips) is what scrolls it
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el) el.scrollLeft = el.scrollWidth;
  }, [strips]);
  if (!strips.length)
    return (
      <p className="muted small" data-testid="test-history-empty">
        No test recorded yet. Attach a suite (above), then run a pipeline that reads this dataset.
      </p>
    );
  const test = picked !== null ? d.tests[picked] : undefined;
  return (
    <div className="test-history" data-testid="test-history">
      <div className="strips" ref={scroller}>
        {strips.map((s) => (
          <div key={s.suite} className="strip-row">
            <span className="strip-suite mono ellipsis" title={s.suite}>
              {suiteLabel(s.suite)}
            </span>
            <fieldset className="strip" aria-label={`Tests of ${s.suite}, oldest first`}>
              {s.cells.map((c) => (
                <button
                  key={c.index}
                  type="button"
                  className={`strip-cell ${c.test.success ? "pass" : "fail"}${picked === c.index ? " picked" : ""}`}
                  data-testid="strip-cell"
                  data-state={c.test.success ? "pass" : "fail"}
                  aria-pressed={picked === c.index}
                  aria-label={`v${c.version || "?"} ${c.test.success ? "passed" : "failed"}: ${c.test.successful} of ${c.test.evaluated} · ${formatTime(c.test.at)}`}
                  title={`v${c.version || "?"} · ${shortDigest(c.test.digest)}\n${c.test.successful} of ${c.test.evaluated} passed\nrun ${c.test.runId} · ${formatTime(c.test.at)}`}
                  onClick={() => setPicked(picked === c.index ? null : c.index)}
                >
                  <span className="strip-version">v{c.version || "?"}</span>
                </button>
              ))}
            </fieldset>
          </div>
        ))}
      </div>
      {test ? (
        <TestDetail test={test} version={versionNumbers(d.allVersions).get(test.digest) ?? 0} />
      ) : (
        <p className="muted small">Pick a cell to see its expectations; red cells list what failed.</p>
      )}
    </div>
  );
}

function TestDetail({ test, version }: { test: DatasetTest; version: number }) {
  return (
    <div className="test-detail" data-testid="test-detail">
      <div className="test-detail-head">
        <span className={`test-badge test-${test.success ? "passed" : "failed"}`}>
          {test.success ? "✓" : "✗"} {test.successful} of {test.evaluated} passed
        </span>
        <span className="mono">{test.suite}</span>
        <span className="muted">
          on v{version || "?"} <span className="mono">{shortDigest(test.digest)}</span> ·{" "}
          {formatTime(test.at)} · run{" "}
        </span>
        <button
          type="button"
          className="link-button mono"
          title={test.runId}
          onClick={() => showRun(test.runId)}
        >
          {shortId(test.runId)}
        </button>
        <span className="muted"> node {test.nodeId}</span>
      </div>
      {test.success ? (
        <p className="muted small">Every expectation passed.</p>
      ) : (
        <ul className="failed-list">
          {test.failed.map((f, i) => (
            <li
              // biome-ignore lint/suspicious/noArrayIndexKey: one expectation type may fail twice (other kwargs)
              key={`${f.expectation_type}:${i}`}
              className="failed-expectation"
              data-testid="failed-expectation"
            >
              <div>
                <span className="mono strong">{f.expectation_type}</span>{" "}
                <span className="mono muted small">({formatKwargs(f.kwargs)})</span>
              </div>
              {f.exception_message ? (
                <div className="field-error">{f.exception_message}</div>
              ) : (
                <div className="small">
                  unexpected:{" "}
                  <span data-testid="unexpected">
                    {unexpectedText(f.unexpected_count, f.unexpected_percent)}
                  </span>
                  {f.observed_value !== undefined && f.observed_value !== null && (
                    <span className="muted"> · observed {formatExample(f.observed_value)}</span>
                  )}
                </div>
              )}
              {f.partial_unexpected_list.length > 0 && (
                <div className="examples" data-testid="unexpected-examples">
                  <span className="muted small">examples </span>
                  {f.partial_unexpected_list.map((v, j) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: the examples repeat and have no identity
                    <span key={j} className="example-chip mono">
                      {formatExample(v)}
                    </span>
                  ))}
                </div>
              )}
            </li>
          ))}
          {!test.failed.length && (
            <li className="muted small">The suite failed, with no expectation recorded.</li>
          )}
        </ul>
      )}
    </div>
  );
}

function Versions({ versions }: { versions: DatasetVersion[] }) {
  const numbers = versionNumbers(versions);
  const [open, setOpen] = useState<string | null>(null);
  if (!versions.length) return <p className="muted small">No run has read this dataset yet.</p>;
  return (
    <div className="versions-scroll">
      <table className="runs-table dataset-versions" data-testid="dataset-versions">
        <colgroup>
          <col className="c-v" />
          <col className="c-digest" />
          <col className="c-rows" />
          <col className="c-cols" />
          <col className="c-time" />
          <col className="c-time" />
          <col />
        </colgroup>
        <thead>
          <tr>
            <th>version</th>
            <th>digest</th>
            <th className="num">rows</th>
            <th>columns</th>
            <th>first seen</th>
            <th>last seen</th>
            <th>runs that read it</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => {
            const shown = open === v.digest ? v.runs : v.runs.slice(0, 3);
            return (
              <tr key={v.digest} data-testid={`dataset-version-${numbers.get(v.digest)}`}>
                <td className="mono">v{numbers.get(v.digest)}</td>
                <td className="mono ellipsis" title={`${v.digest}\n${v.source}`}>
                  {shortDigest(v.digest)}
                </td>
                <td className="num mono">{v.rows.toLocaleString("en-US")}</td>
                <td className="ellipsis" title={v.schema.map((c) => `${c.name} ${c.type}`).join("\n")}>
                  {v.schema.length}
                  <span className="muted small"> · {v.schema.map((c) => c.name).join(", ")}</span>
                </td>
                <td className="small" title={formatTime(v.firstSeen)}>
                  {formatShortTime(v.firstSeen)}
                </td>
                <td className="small" title={formatTime(v.lastSeen)}>
                  {formatShortTime(v.lastSeen)}
                </td>
                <td>
                  <div className="run-links">
                    {shown.map((r) => (
                      <button
                        key={`${r.runId}:${r.nodeId}`}
                        type="button"
                        className="link-button mono"
                        data-testid="version-run"
                        title={`${r.runId} · ${r.pipeline} · node ${r.nodeId} · ${formatTime(r.at)}`}
                        onClick={() => showRun(r.runId)}
                      >
                        {shortId(r.runId)}
                      </button>
                    ))}
                    {v.runs.length > 3 && (
                      <button
                        type="button"
                        className="link-button small"
                        onClick={() => setOpen(open === v.digest ? null : v.digest)}
                      >
                        {open === v.digest ? "fewer" : `+${v.runs.length - 3} more`}
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function SchemaDiff({ versions }: { versions: DatasetVersion[] }) {
  const numbers = versionNumbers(versions);
  const [from, setFrom] = useState(versions[1]?.digest ?? "");
  const [to, setTo] = useState(versions[0]?.digest ?? "");
  // A new version arriving moves the default pair to the latest two.
  const latest = versions[0]?.digest;
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a new latest version resets the pair
  useEffect(() => {
    setTo(versions[0]?.digest ?? "");
    setFrom(versions[1]?.digest ?? "");
  }, [latest]);
  if (versions.length < 2) return <p className="muted small">One version so far: a diff needs two.</p>;
  const a = versions.find((v) => v.digest === from);
  const b = versions.find((v) => v.digest === to);
  const rows = a && b ? schemaDiff(a.schema, b.schema) : [];
  const option = (v: DatasetVersion) => (
    <option key={v.digest} value={v.digest}>
      v{numbers.get(v.digest)} · {shortDigest(v.digest)} · {v.rows.toLocaleString("en-US")} rows
    </option>
  );
  return (
    <div className="schema-diff" data-testid="schema-diff">
      <div className="diff-pick">
        <select
          className="field-input"
          aria-label="From version"
          data-testid="diff-from"
          value={from}
          onChange={(e) => setFrom(e.target.value)}
        >
          {versions.map(option)}
        </select>
        <span>→</span>
        <select
          className="field-input"
          aria-label="To version"
          data-testid="diff-to"
          value={to}
          onChange={(e) => setTo(e.target.value)}
        >
          {versions.map(option)}
        </select>
        <span className="muted small" data-testid="diff-summary">
          {diffSummary(rows)}
        </span>
      </div>
      <table className="mini-table diff-table">
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.change}:${r.name}`} className={`diff-${r.change}`} data-testid={`diff-${r.change}`}>
              <td className="diff-mark">{{ added: "+", removed: "−", retyped: "~", same: "" }[r.change]}</td>
              <td className="mono ellipsis" title={r.name}>
                {r.name}
              </td>
              <td className="mono">{r.change === "retyped" ? `${r.from} → ${r.to}` : (r.to ?? r.from)}</td>
              <td className="muted small">{r.change === "same" ? "" : r.change}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function UsedBy({ usedBy }: { usedBy: DatasetDetail["usedBy"] }) {
  const pipelines = useCatalog((s) => s.project?.pipelines ?? []);
  if (!usedBy.pipelines.length && !usedBy.models.length)
    return <p className="muted small">No run has used it yet.</p>;
  return (
    <div className="used-by" data-testid="used-by">
      <div>
        <span className="muted small">pipelines </span>
        {usedBy.pipelines.map((p) => {
          const file = pipelineFile(p, pipelines);
          return (
            <button
              key={p}
              type="button"
              className="button small"
              data-testid="used-by-pipeline"
              disabled={!file}
              title={file ? `Open ${file} in the editor` : `${p}: no such pipeline file in the project now`}
              onClick={async () => {
                if (file && (await openPipeline(file))) useUi.getState().setView("editor");
              }}
            >
              {p}
            </button>
          );
        })}
        {!usedBy.pipelines.length && <span className="muted small">none</span>}
      </div>
      <div>
        <span className="muted small">models </span>
        {usedBy.models.map((m) => (
          <button
            key={`${m.name}:${m.version}`}
            type="button"
            className="button small"
            data-testid="used-by-model"
            title={`Open ${m.name} in Models`}
            onClick={() => {
              useModels.getState().choose(m.name);
              useUi.getState().setView("models");
            }}
          >
            {m.name} v{m.version}
          </button>
        ))}
        {!usedBy.models.length && <span className="muted small">none trained on it</span>}
      </div>
    </div>
  );
}
