/** A run in full: params, metrics, environment, datasets, artifacts, trials; its tags and note are editable. */
import { useEffect, useState } from "react";
import type { RunDetail, RunRecord } from "../../../app/api/api";
import { api } from "../api/client";
import { bytes } from "../panels/evaluation/format";
import { useApi } from "../panels/useApi";
import { useUnmaskedExport } from "../privacy/UnmaskedExport";
import { reportError } from "../services/errors";
import { Loading } from "../shell/Loading";
import { MiniTable } from "../shell/MiniTable";
import { toast } from "../store/toasts";
import { formatDuration, formatMetric, formatTime, formatValue, latestMetrics, shortId } from "./format";
import { ownerTitle } from "./owner";
import { useExperiments } from "./store";

function DetailSection({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="detail-section">
      <h4>{title}</h4>
      {children}
    </section>
  );
}

function KeyValues({ entries, testId }: { entries: [string, React.ReactNode][]; testId?: string }) {
  if (!entries.length) return <p className="muted small">None.</p>;
  return (
    <dl className="kv" data-testid={testId}>
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt className="mono">{k}</dt>
          <dd className="mono">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function TagsEditor({ run, onChange }: { run: RunRecord; onChange(run: RunRecord): void }) {
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);
  const apply = async (set: Record<string, string>, remove: string[]) => {
    try {
      onChange(await api.setRunTags({ runId: run.id, set, remove }));
      useExperiments.getState().reload();
    } catch (e) {
      reportError(e, "Could not change the tags");
    }
  };
  const add = () => {
    const m = /^\s*([^=]+?)\s*=\s*(.*?)\s*$/.exec(draft);
    if (!m) {
      setError("Write a tag as key=value, e.g. team=vision");
      return;
    }
    setError(null);
    setDraft("");
    void apply({ [m[1]!]: m[2]! }, []);
  };
  return (
    <div>
      <div className="chips" data-testid="run-tags">
        {Object.entries(run.tags).map(([k, v]) => (
          <span key={k} className="chip" data-testid={`run-tag-${k}`}>
            {k}={v}
            <button type="button" aria-label={`Remove tag ${k}`} onClick={() => void apply({}, [k])}>
              ×
            </button>
          </span>
        ))}
        <input
          className="chip-input"
          data-testid="run-tag-input"
          placeholder="key=value, Enter"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => e.key === "Enter" && add()}
        />
      </div>
      {error && <div className="field-message">{error}</div>}
    </div>
  );
}

function NoteEditor({ run, onChange }: { run: RunRecord; onChange(run: RunRecord): void }) {
  const [note, setNote] = useState(run.note ?? "");
  useEffect(() => setNote(run.note ?? ""), [run.note]);
  const changed = note !== (run.note ?? "");
  const save = async () => {
    try {
      onChange(await api.setRunNote({ runId: run.id, note: note.trim() ? note : null }));
      toast("Note saved");
    } catch (e) {
      reportError(e, "Could not save the note");
    }
  };
  return (
    <div className="note-editor">
      <textarea
        className="field-input"
        data-testid="run-note"
        rows={3}
        placeholder="What this run tried, what it showed…"
        value={note}
        onChange={(e) => setNote(e.target.value)}
      />
      <button
        type="button"
        className="button small"
        data-testid="run-note-save"
        disabled={!changed}
        onClick={() => void save()}
      >
        Save note
      </button>
    </div>
  );
}

function Detail({ detail }: { detail: RunDetail }) {
  const [run, setRun] = useState(detail.run);
  useEffect(() => setRun(detail.run), [detail.run]);
  const metrics = latestMetrics(detail.metrics);
  const env = run.environment;
  // Personal columns are masked in the export; a model holding personal categories is asked about first.
  const unmaskedExport = useUnmaskedExport();
  const exportRun = () =>
    unmaskedExport.attempt(
      async (unmask) => {
        const out = await api.exportRun({ runId: run.id, ...unmask });
        const privacy = out.masked
          ? `; personal columns masked: ${out.masked.join(", ")}`
          : out.unmasked
            ? `; in clear: ${out.unmasked.join(", ")}`
            : "";
        toast(`Run exported to ${out.dir} (${out.files.length} files${privacy})`);
      },
      (e) => reportError(e, "Could not export the run"),
    );
  return (
    <>
      <section className="detail-section">
        <div className="detail-facts">
          <span className={`run-status status-${run.status}`}>{run.status}</span>
          <span>{run.pipeline}</span>
          <span className="muted">{formatTime(run.startedAt)}</span>
          <span className="muted">{formatDuration(run.durationMs)}</span>
          {(run.user || run.host) && (
            <span className="muted" data-testid="run-owner" title={ownerTitle(run)}>
              {run.user ? `by ${run.user}` : "by an unknown user"}
              {run.host && ` on ${run.host}`}
            </span>
          )}
        </div>
        {run.error && <div className="panel-error">{run.error}</div>}
        <button
          type="button"
          className="button small"
          data-testid="run-export"
          onClick={() => void exportRun()}
        >
          Export run
        </button>
        {unmaskedExport.dialog}
      </section>
      <section className="detail-section">
        <h4>Tags</h4>
        <TagsEditor run={run} onChange={setRun} />
        <h4>Note</h4>
        <NoteEditor run={run} onChange={setRun} />
      </section>
      <DetailSection title="Metrics">
        <KeyValues
          testId="run-metrics"
          entries={metrics.map((m) => [
            m.key,
            <>
              {formatMetric(m.value)}
              {m.steps > 1 && <span className="muted"> ({m.steps} steps)</span>}
            </>,
          ])}
        />
      </DetailSection>
      <DetailSection title="Params">
        <KeyValues
          testId="run-params"
          entries={[
            ...Object.entries(run.params).map(([k, v]): [string, string] => [`\${${k}}`, formatValue(v)]),
            ...Object.entries(detail.resolvedParams)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, v]): [string, string] => [k, formatValue(v)]),
          ]}
        />
      </DetailSection>
      <DetailSection title="Environment">
        <KeyValues
          testId="run-environment"
          entries={[
            [
              "git commit",
              env.gitCommit ? `${env.gitCommit.slice(0, 12)}${env.gitDirty ? " (dirty)" : ""}` : "—",
            ],
            ["tfjs backend", env.tfjsBackend ?? "—"],
            ...Object.entries(env)
              .filter(([k]) => !["gitCommit", "gitDirty", "tfjsBackend"].includes(k))
              .map(([k, v]): [string, string] => [k, formatValue(v)]),
          ]}
        />
      </DetailSection>
      <DetailSection title="Datasets">
        <MiniTable
          rows={detail.datasets}
          testId="run-datasets"
          head={["node", "source", "rows", "digest"]}
          empty="No dataset recorded."
          row={(d) => (
            <tr key={`${d.nodeId}:${d.digest}`}>
              <td className="mono">{d.nodeId}</td>
              <td className="mono">{d.source}</td>
              <td>{d.rows.toLocaleString()}</td>
              <td className="mono" title={d.digest}>
                {d.digest.slice(0, 12)}
              </td>
            </tr>
          )}
        />
      </DetailSection>
      <DetailSection title="Artifacts">
        <MiniTable
          rows={detail.artifacts}
          testId="run-artifacts"
          empty="No artifact recorded."
          row={(a) => (
            <tr key={`${a.nodeId}:${a.name}`}>
              <td className="mono">{a.nodeId}</td>
              <td className="mono" title={a.path}>
                {a.name}
              </td>
              <td>{a.kind}</td>
              <td>{bytes(a.bytes)}</td>
            </tr>
          )}
        />
      </DetailSection>
      <DetailSection title="Trials">
        <MiniTable
          rows={detail.trials}
          testId="run-trials"
          head={["trial", "status", "params"]}
          empty="No tuning trials."
          row={(t) => (
            <tr key={t.id}>
              <td className="mono" title={t.id}>
                {shortId(t.id)}
              </td>
              <td>{t.status}</td>
              <td className="mono small">
                {Object.entries(t.params)
                  .map(([k, v]) => `${k}=${formatValue(v)}`)
                  .join(", ")}
              </td>
            </tr>
          )}
        />
      </DetailSection>
    </>
  );
}

export function RunDetailPanel({ runId }: { runId: string }) {
  const loaded = useApi(() => api.getRun({ runId }), runId);
  return (
    <aside className="run-detail" data-testid="run-detail">
      <header className="detail-head">
        <h3 className="mono" title={runId}>
          Run {shortId(runId)}
        </h3>
        <button
          type="button"
          className="icon-button"
          aria-label="Close the run detail"
          data-testid="run-detail-close"
          onClick={() => useExperiments.getState().openRun(null)}
        >
          ×
        </button>
      </header>
      {loaded.status === "loading" && <Loading>Loading the run…</Loading>}
      {loaded.status === "error" && <div className="panel-error">{loaded.message}</div>}
      {loaded.status === "ok" && <Detail detail={loaded.value} />}
    </aside>
  );
}
