import { lazy, Suspense } from "react";
import type { ValidationReport } from "../../../app/values/expectations";
import {
  isEvaluationReport,
  isExplanationReport,
  isModelSummary,
  isProfileReport,
} from "../../../app/values/guards";
import type { ProfileReport } from "../../../app/values/profile";
import { api } from "../api/client";
import { useApi } from "./useApi";

const ProfileView = lazy(() => import("./profile/ProfileView"));
const EvaluationView = lazy(() => import("./evaluation/EvaluationView"));
const ModelView = lazy(() => import("./evaluation/ModelView"));
const ExplanationView = lazy(() => import("./evaluation/ExplanationView"));
const ValidationView = lazy(() => import("./validation/ValidationView"));

/** An expectation suite's result (validate.expectations); a type-only check keeps zod out of the renderer. */
const isValidationReport = (data: unknown): data is ValidationReport =>
  typeof data === "object" && data !== null && (data as { kind?: unknown }).kind === "validation";

/** `profiledBy`: the analyze.profile node whose report this is (it offers "Create expectations"). */
export function LazyProfile({ report, profiledBy }: { report: ProfileReport; profiledBy?: string }) {
  return (
    <Suspense fallback={<p className="muted panel-empty">Loading charts…</p>}>
      <ProfileView report={report} profiledBy={profiledBy} />
    </Suspense>
  );
}

const charts = <p className="muted panel-empty">Loading charts…</p>;

/** A report output: a profile, an evaluation, an explanation or a suite's result is drawn; any other report is shown as JSON. */
export function ReportOutput({ runId, nodeId, port }: { runId: string; nodeId: string; port: string }) {
  const loaded = useApi(() => api.getReport({ runId, nodeId, port }), `${runId}:${nodeId}:${port}`);
  if (loaded.status === "error") return <div className="panel-error">{loaded.message}</div>;
  if (loaded.status === "loading") return <p className="muted panel-empty">Loading the report…</p>;
  const { data } = loaded.value;
  if (isProfileReport(data)) return <LazyProfile report={data} profiledBy={nodeId} />;
  if (isValidationReport(data))
    return (
      <Suspense fallback={<p className="muted panel-empty">Loading the report…</p>}>
        <ValidationView report={data} />
      </Suspense>
    );
  if (isEvaluationReport(data))
    return (
      <Suspense fallback={charts}>
        <EvaluationView report={data} />
      </Suspense>
    );
  if (isExplanationReport(data))
    return (
      <Suspense fallback={charts}>
        <ExplanationView report={data} />
      </Suspense>
    );
  return (
    <pre className="json-view" data-testid="report-json">
      {JSON.stringify(data, null, 2)}
    </pre>
  );
}

/** Profiles a table output on demand (profileTable), charted like an analyze.profile report. */
export function TableProfile({ table }: { table: string }) {
  const loaded = useApi(() => api.profileTable({ table }), table);
  if (loaded.status === "error") return <div className="panel-error">{loaded.message}</div>;
  if (loaded.status === "loading") return <p className="muted panel-empty">Profiling {table}…</p>;
  return <LazyProfile report={loaded.value} />;
}

/** A `model` output (dagwood.model/1) as a summary; read through getReport like a report. */
export function ModelOutput({ runId, nodeId, port }: { runId: string; nodeId: string; port: string }) {
  const loaded = useApi(() => api.getReport({ runId, nodeId, port }), `${runId}:${nodeId}:${port}`);
  if (loaded.status === "error") return <div className="panel-error">{loaded.message}</div>;
  if (loaded.status === "loading") return <p className="muted panel-empty">Loading the model…</p>;
  const { data } = loaded.value;
  if (!isModelSummary(data))
    return (
      <pre className="json-view" data-testid="report-json">
        {JSON.stringify(data, null, 2)}
      </pre>
    );
  return (
    <Suspense fallback={charts}>
      <ModelView model={data} runId={runId} nodeId={nodeId} />
    </Suspense>
  );
}
