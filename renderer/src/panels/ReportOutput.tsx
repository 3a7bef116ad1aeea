import { lazy, Suspense } from "react";
import type { ProfileReport } from "../../../app/api/api";
import { api } from "../api/client";
import { useApi } from "./useApi";

const ProfileView = lazy(() => import("./profile/ProfileView"));

const isProfileReport = (data: unknown): data is ProfileReport =>
  !!data && typeof data === "object" && (data as { kind?: unknown }).kind === "profile";

export function LazyProfile({ report }: { report: ProfileReport }) {
  return (
    <Suspense fallback={<p className="muted panel-empty">Loading charts…</p>}>
      <ProfileView report={report} />
    </Suspense>
  );
}

/** A report output: a profile is charted; any other report is shown as JSON. */
export function ReportOutput({ runId, nodeId, port }: { runId: string; nodeId: string; port: string }) {
  const loaded = useApi(() => api.getReport({ runId, nodeId, port }), `${runId}:${nodeId}:${port}`);
  if (loaded.status === "error") return <div className="panel-error">{loaded.message}</div>;
  if (loaded.status === "loading") return <p className="muted panel-empty">Loading the report…</p>;
  const { data } = loaded.value;
  if (isProfileReport(data)) return <LazyProfile report={data} />;
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
