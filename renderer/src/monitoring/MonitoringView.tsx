/**
 * The Monitoring view, per deployed model: drift per feature over time (a
 * heatmap of windows × features; a cell opens the reference and current
 * distributions overlaid), the prediction distribution and performance over
 * time against the registered figure (monitoringReport), the open alerts
 * with what a person may do at their stage, and each alert's loop
 * (alert → run → version → canary → outcome), linked to the other views.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { TargetStatus } from "../../../app/api/api";
import type { MonitorLoop } from "../../../app/values/loop";
import type { MonitoringReport } from "../../../app/values/monitoring";
import { api } from "../api/client";
import { messageOf } from "../services/errors";
import { Loading } from "../shell/Loading";
import { toast } from "../store/toasts";
import { AlertList, LoopHistory } from "./Alerts";
import { type Distribution, driftDistribution, loopApi, type MonitorSummary, monitoringReport } from "./api";
import { DistributionChart, PerformanceChart, PredictionChart } from "./Charts";
import { chosenMetric, describeCell, monitorExample, pageOfWindows, windowLabel } from "./format";
import { type CellRef, Heatmap, HeatmapLegend } from "./Heatmap";
import { useMonitoring } from "./store";
import { type Subject, subjectsOf } from "./subjects";
import "./monitoring.css";

/** Windows the heatmap and the charts show at once (the latest first; older ones a page back). */
const PAGE = 20;
const WINDOWS = ["15m", "1h", "6h", "1d"];
const LOOP_REFRESH_MS = 5000;

/** Monitors (dagwood.json) and the targets' served models: what can be shown. */
function useSubjects() {
  const [monitors, setMonitors] = useState<MonitorSummary[] | null>(null);
  const [scheduler, setScheduler] = useState(false);
  const [targets, setTargets] = useState<TargetStatus[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    const [m, t] = await Promise.allSettled([loopApi.listMonitors(), api.deploymentStatus({})]);
    if (m.status === "fulfilled") {
      setMonitors(m.value.monitors);
      setScheduler(m.value.scheduler);
    } else setMonitors([]);
    setTargets(t.status === "fulfilled" ? t.value : []);
    const failed = [m, t].filter((r): r is PromiseRejectedResult => r.status === "rejected");
    setError(failed.length ? failed.map((r) => messageOf(r.reason)).join("; ") : null);
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  const subjects = useMemo(
    () => (monitors && targets ? subjectsOf(monitors, targets) : null),
    [monitors, targets],
  );
  return { subjects, monitors, targets, scheduler, error, refresh };
}

export function MonitoringView() {
  const { subjects, monitors, targets, scheduler, error, refresh } = useSubjects();
  const chosen = useMonitoring((s) => s.chosen);
  const subject =
    subjects?.find((s) => chosen && s.target === chosen.target && s.model === chosen.model) ??
    subjects?.[0] ??
    null;

  return (
    <div className="monitoring-view" data-testid="monitoring-view">
      <div className="runs-toolbar monitoring-toolbar">
        {!!subjects?.length && (
          <label className="small">
            Model{" "}
            <select
              data-testid="monitoring-model"
              value={subject?.key ?? ""}
              disabled={!subjects?.length}
              onChange={(e) => {
                const s = subjects?.find((x) => x.key === e.target.value);
                if (s) useMonitoring.getState().choose({ target: s.target, model: s.model });
              }}
            >
              {subjects?.map((s) => (
                <option key={s.key} value={s.key}>
                  {s.model} on {s.target}
                  {s.monitors.length ? "" : " (no monitor)"}
                </option>
              ))}
            </select>
          </label>
        )}
        <span className="muted small">
          {scheduler && monitors?.some((m) => m.schedule)
            ? "Monitors with a schedule run on it while the app is open."
            : ""}
        </span>
      </div>
      <div className="monitoring-main">
        {error && (
          <div className="panel-error" data-testid="monitoring-error">
            {error}
          </div>
        )}
        {!subjects && !error && <Loading>Reading the monitors and the targets…</Loading>}
        {subjects && !subjects.length && <NoSubjects monitors={monitors ?? []} targets={targets ?? []} />}
        {subject && (
          <SubjectPage
            key={subject.key}
            subject={subject}
            targets={targets ?? []}
            onChecked={() => void refresh()}
          />
        )}
      </div>
    </div>
  );
}

function NoSubjects({ monitors, targets }: { monitors: MonitorSummary[]; targets: TargetStatus[] }) {
  const served = targets.some((t) => t.models.length);
  return (
    <div className="view-empty monitoring-empty" data-testid="monitoring-empty">
      <h3>Nothing to monitor yet</h3>
      {!served && (
        <p>
          No model is deployed. Deploy a version from the <strong>Models</strong> view (
          <strong>Deploy…</strong> on a version), then send it requests: their inputs and answers are logged
          and compared here with its training data.
        </p>
      )}
      {!monitors.length && (
        <>
          <p>
            No monitors in <span className="mono">dagwood.json</span>: add one like this to check a model on a
            schedule and raise alerts:
          </p>
          <pre className="mono monitor-example">{monitorExample("penguins", "local")}</pre>
          <p className="muted small">
            <span className="mono">model</span>: a registered model and the alias or version to compare with;{" "}
            <span className="mono">target</span>: where it is deployed (<span className="mono">local</span> is
            the app's own server); <span className="mono">window</span>: how much traffic each check tests;{" "}
            <span className="mono">action</span>: <span className="mono">alert</span>, or{" "}
            <span className="mono">retrain</span> with a pipeline to train a challenger.
          </p>
        </>
      )}
    </div>
  );
}

function SubjectPage({
  subject,
  targets,
  onChecked,
}: {
  subject: Subject;
  targets: TargetStatus[];
  onChecked(): void;
}) {
  const [window, setWindow] = useState(subject.window);
  const [report, setReport] = useState<MonitoringReport | null>(null);
  const [reportError, setReportError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [offset, setOffset] = useState(0);
  const [cell, setCell] = useState<CellRef | null>(null);
  const [loops, setLoops] = useState<MonitorLoop[]>([]);
  const [loopsError, setLoopsError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const [metric, setMetric] = useState<string | null>(null);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const r = await monitoringReport({
        target: subject.target,
        model: subject.model,
        ...(subject.registered !== subject.model ? { registeredModel: subject.registered } : {}),
        ref: subject.ref,
        window,
        ...(subject.minRows ? { minRows: subject.minRows } : {}),
        ...(subject.tolerance !== null ? { tolerance: subject.tolerance } : {}),
      });
      setReport(r);
      setReportError(null);
    } catch (e) {
      setReportError(messageOf(e));
    } finally {
      setLoading(false);
    }
  }, [subject, window]);

  const inFlight = useRef(false);
  const loadLoops = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    try {
      const all = await loopApi.monitorLoops({ model: subject.registered, limit: 50 });
      setLoops(all.filter((l) => l.target === subject.target));
      setLoopsError(null);
    } catch (e) {
      setLoopsError(messageOf(e));
    } finally {
      inFlight.current = false;
    }
  }, [subject]);

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    void loadLoops();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void loadLoops();
    }, LOOP_REFRESH_MS);
    return () => clearInterval(timer);
  }, [loadLoops]);

  const checkNow = async () => {
    setChecking(true);
    try {
      const { ticks } = await loopApi.runMonitorsNow({ names: subject.monitors.map((m) => m.name) });
      for (const t of ticks) {
        if (t.error) toast(`${t.monitor}: ${t.error}`, "error");
        else if (t.alerted) toast(`${t.monitor}: alert raised — ${t.reasons.join("; ")}`, "error");
        else if (t.breached)
          toast(`${t.monitor}: still breached — ${t.reasons.join("; ")} (alert already open)`);
        else toast(`${t.monitor}: no breach in the latest window`);
      }
    } catch (e) {
      toast(`Could not run the monitors: ${messageOf(e)}`, "error");
    } finally {
      setChecking(false);
      onChecked();
      void loadLoops();
      void load();
    }
  };

  const target = targets.find((t) => t.name === subject.target);
  const page = report ? pageOfWindows(report.windows, PAGE, offset) : null;
  const shownMetric = report ? (metric ?? chosenMetric(report, subject.metric)) : null;
  const metrics = report
    ? [...new Set(report.windows.flatMap((w) => Object.keys(w.performance ?? {})))].sort()
    : [];
  const open = loops.filter((l) => l.status === "open");

  return (
    <div className="monitoring-subject" data-testid={`monitoring-${subject.key}`}>
      <div className="monitoring-head">
        <h3>
          {subject.model} <span className="muted">on {subject.target}</span>
        </h3>
        <span className="small">
          {subject.serving !== null ? (
            <>
              serving <strong>v{subject.serving}</strong> ·{" "}
            </>
          ) : null}
          compared with {subject.registered}{" "}
          {typeof subject.ref === "number" ? `v${subject.ref}` : subject.ref}
          {report?.version ? ` (v${report.version})` : ""}
        </span>
        <label className="small">
          Window{" "}
          <select data-testid="monitoring-window" value={window} onChange={(e) => setWindow(e.target.value)}>
            {[...new Set([subject.window, ...WINDOWS])].map((w) => (
              <option key={w} value={w}>
                {w}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="button small"
          data-testid="monitoring-refresh"
          disabled={loading}
          onClick={() => {
            void load();
            void loadLoops();
          }}
        >
          {loading ? <span className="spinner" /> : null} Refresh
        </button>
        <button
          type="button"
          className="button small primary"
          data-testid="monitoring-check"
          disabled={checking || !subject.monitors.length}
          title={
            subject.monitors.length
              ? `Run ${subject.monitors.map((m) => m.name).join(", ")} now on the latest window`
              : "No monitor in dagwood.json watches this model: add one to check it"
          }
          onClick={() => void checkNow()}
        >
          {checking ? (
            <>
              <span className="spinner" /> Checking…
            </>
          ) : (
            "Check now"
          )}
        </button>
      </div>
      <MonitorFacts monitors={subject.monitors} model={subject.model} target={subject.target} />

      <section className="monitoring-section">
        <h4>Alerts {open.length ? <span className="alert-count">{open.length} open</span> : null}</h4>
        {loopsError ? (
          <p className="panel-error small" data-testid="alerts-error">
            Could not read the alerts: {loopsError}
          </p>
        ) : (
          <AlertList
            loops={loops}
            onChanged={() => {
              void loadLoops();
              onChecked();
            }}
          />
        )}
      </section>

      {reportError && (
        <div className="panel-error" data-testid="report-error">
          {reportError}
        </div>
      )}
      {!report && !reportError && <Loading>Reading the inference log…</Loading>}
      {report && !report.windows.length && (
        <div className="view-empty" data-testid="monitoring-no-traffic">
          <h3>No traffic logged yet</h3>
          <p>
            Deploy {subject.registered} to {subject.target} and send requests to{" "}
            <span className="mono">
              {target?.url ?? "the target"}/v2/models/{subject.model}/infer
            </span>
            : each window of {window} is tested once it has {report.minRows} rows. Labels sent to{" "}
            <span className="mono">/v2/models/{subject.model}/feedback</span> (with the request id) chart the
            performance.
          </p>
        </div>
      )}
      {report && page && report.windows.length > 0 && (
        <>
          <section className="monitoring-section">
            <h4>
              Drift per feature{" "}
              <span className="muted small">
                {report.rows.current} logged rows in {report.windows.length} window
                {report.windows.length === 1 ? "" : "s"} of {window} against {report.rows.reference} reference
                rows
              </span>
            </h4>
            {report.windows.length > PAGE && (
              <div className="heatmap-pager small" data-testid="heatmap-pager">
                <button
                  type="button"
                  className="button small"
                  disabled={page.first === 0}
                  onClick={() => setOffset(offset + PAGE)}
                >
                  ← Earlier
                </button>
                <span className="muted">
                  windows {page.first + 1}–{page.last} of {report.windows.length}
                </span>
                <button
                  type="button"
                  className="button small"
                  disabled={offset === 0}
                  onClick={() => setOffset(Math.max(0, offset - PAGE))}
                >
                  Later →
                </button>
              </div>
            )}
            <div className="drift-row">
              <Heatmap report={report} windows={page.shown} selected={cell} onSelect={setCell} />
              <DistributionPanel subject={subject} cell={cell} />
            </div>
            <HeatmapLegend minRows={report.minRows} />
          </section>
          <div className="charts-row">
            <section className="monitoring-section chart-box">
              <h4>Predictions per window</h4>
              {page.shown.some((w) => w.prediction) ? (
                <PredictionChart report={report} windows={page.shown} width={560} />
              ) : (
                <p className="muted small">The log has no prediction column for this model.</p>
              )}
            </section>
            <section className="monitoring-section chart-box">
              <h4>
                Performance against the registered figure{" "}
                {metrics.length > 1 && shownMetric && (
                  <select
                    className="small"
                    data-testid="performance-metric"
                    value={shownMetric}
                    onChange={(e) => setMetric(e.target.value)}
                  >
                    {metrics.map((m) => (
                      <option key={m}>{m}</option>
                    ))}
                  </select>
                )}
              </h4>
              {shownMetric ? (
                <PerformanceChart report={report} windows={page.shown} metric={shownMetric} width={560} />
              ) : (
                <p className="muted small" data-testid="performance-none">
                  {report.labels && report.labels.labelled > 0
                    ? `${report.labels.labelled} labelled rows so far: a window needs ${report.minRows} to be graded.`
                    : `No labels yet. Send the true answers to /v2/models/${subject.model}/feedback as {"id": <request id>, "label": …}; they are graded per window against the registered metrics.`}
                </p>
              )}
            </section>
          </div>
        </>
      )}

      <section className="monitoring-section">
        <h4>History</h4>
        <LoopHistory loops={loops} />
      </section>
    </div>
  );
}

/** What the monitors of the model watch, when they run next, what their last check found. */
function MonitorFacts({
  monitors,
  model,
  target,
}: {
  monitors: MonitorSummary[];
  model: string;
  target: string;
}) {
  if (!monitors.length)
    return (
      <div className="monitor-facts muted small" data-testid="no-monitor">
        No monitor in <span className="mono">dagwood.json</span> watches {model} on {target}: the charts below
        are computed on demand, but nothing checks it on a schedule or raises alerts. Add one like{" "}
        <details className="inline-details">
          <summary>this</summary>
          <pre className="mono monitor-example">{monitorExample(model, target)}</pre>
        </details>
      </div>
    );
  return (
    <ul className="monitor-facts small" data-testid="monitor-facts">
      {monitors.map((m) => (
        <li key={m.name}>
          <strong>{m.name}</strong>{" "}
          <span className="muted">
            ({m.action}, window {m.window}
          </span>
          <span className="muted">
            {m.schedule ? `, schedule ${m.schedule}` : ", no schedule"}
            {m.nextRunAt ? `, next ${new Date(m.nextRunAt).toLocaleTimeString()}` : ""})
          </span>
          {m.lastCheck && (
            <span>
              {" "}
              · last check {new Date(m.lastCheck.at).toLocaleTimeString()} on{" "}
              {windowLabel(m.lastCheck.window, true)}:{" "}
              {!m.lastCheck.tested
                ? `${m.lastCheck.rows} rows, too few to test`
                : m.lastCheck.breached
                  ? m.lastCheck.reasons.join("; ")
                  : "no breach"}
            </span>
          )}
          {m.lastError && <span className="error-text"> · last error: {m.lastError}</span>}
        </li>
      ))}
    </ul>
  );
}

/** The clicked cell's two distributions overlaid, with the test in words. */
function DistributionPanel({ subject, cell }: { subject: Subject; cell: CellRef | null }) {
  const [d, setD] = useState<Distribution | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!cell) return;
    let live = true;
    setLoading(true);
    setError(null);
    driftDistribution({
      target: subject.target,
      model: subject.model,
      ...(subject.registered !== subject.model ? { registeredModel: subject.registered } : {}),
      ref: subject.ref,
      column: cell.column,
      start: cell.window.start,
      end: cell.window.end,
    })
      .then((r) => live && setD(r))
      .catch((e) => {
        if (!live) return;
        setError(messageOf(e));
        setD(null);
      })
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [cell, subject]);
  if (!cell)
    return (
      <div className="distribution-panel muted small" data-testid="distribution-hint">
        Click a cell to compare the feature's distribution in that window with the reference (the training
        data of the registered version).
      </div>
    );
  return (
    <div className="distribution-panel" data-testid="distribution-panel">
      <p className="small distribution-words" data-testid="distribution-words">
        {describeCell(cell.column, cell.window, cell.window.drift[cell.column])}
      </p>
      {loading && <Loading>Binning both sides…</Loading>}
      {error && <p className="panel-error small">{error}</p>}
      {d && !loading && (
        <>
          <DistributionChart d={d} width={400} />
          {d.rows.current === 0 && (
            <p className="muted small">No value of {d.column} was logged in this window.</p>
          )}
        </>
      )}
    </div>
  );
}

export default MonitoringView;
