/**
 * Monitors: dagwood.json's `monitors` entries (app/project/project.ts), each
 * a deployed model checked on its latest complete window against its
 * registered version with the Api's monitoringReport. A breach (dataset drift
 * at or above the share threshold, or the watched metric worse than the
 * registered figure by more than the tolerance) runs the monitor's action:
 * `alert` records a `monitor.alert` entry in the model's audit history and
 * posts the webhook when one is set. The audit history is also the memory: a
 * window already alerted is never alerted again.
 *
 *   const check = await checkMonitor({ dir, metadata, settings }, "penguins-drift", { now: Date.now() });
 */
import { ApiError, parseApiArgs } from "../api/api";
import { monitoringReportFor } from "../api/handlers/monitoring";
import type { MonitorSettings, ProjectSettings } from "../project/project";
import type { MetadataStore } from "../store/types";
import type { MonitoringReport, MonitoringWindow } from "../values/monitoring";
import { parseWindow, WindowInputError } from "./windows";

/** A monitor that cannot be checked as declared (unknown monitor, model or target, unreadable log): exit 2. */
export class MonitorError extends Error {
  override name = "MonitorError";
}

export interface MonitorProject {
  dir: string;
  metadata: MetadataStore;
  settings: ProjectSettings;
}

/** The webhook's answer: sent (its HTTP status) or not (why). */
export type WebhookResult = { sent: true; status: number } | { sent: false; error: string };

export interface MonitorCheck {
  monitor: string;
  /** The registered model and the version checked against. */
  model: string;
  version: number | null;
  target: string;
  /** The latest complete window: start ≤ time < end (ISO). */
  window: { start: string; end: string };
  rows: number;
  /** False when the window had fewer than minRows rows: nothing could breach. */
  tested: boolean;
  breached: boolean;
  /** Each breach in words, e.g. "dataset drift: 6 of 10 columns (60 %) ≥ 50 %". */
  reasons: string[];
  /** A new alert was recorded in the audit history now. */
  alerted: boolean;
  /** The window had been alerted before (no new alert, no webhook). */
  alreadyAlerted: boolean;
  /** The loop (alert record) created by this check: its new alert's, or that of an alert recorded before without its loop (a process stopped between the two); null otherwise. */
  loop: number | null;
  /** Null when no alert was sent (no breach, already alerted, or no webhook set). */
  webhook: WebhookResult | null;
  summary: {
    driftedColumns: number;
    consideredColumns: number;
    driftShare: number;
    datasetDrift: boolean;
    labelled: number;
    metric: { name: string; value: number | null; registered: number | null } | null;
  };
}

/** Webhook requests give up after this long. */
export const WEBHOOK_TIMEOUT_MS = 5000;

const pct = (share: number) => `${Math.round(share * 1000) / 10} %`;
const num = (n: number) => String(Math.round(n * 1e4) / 1e4);

/** "name@alias" or "name@3" of a monitor's model. */
export function parseModelRef(text: string): { name: string; ref: string | number } {
  const at = text.lastIndexOf("@");
  const name = text.slice(0, at);
  const ref = text.slice(at + 1);
  return { name, ref: /^\d+$/.test(ref) ? Number(ref) : ref };
}

/** Why the window breached, in words; empty when it did not. */
export function breachReasons(w: MonitoringWindow | undefined, m: MonitorSettings): string[] {
  if (!w?.tested) return [];
  const reasons: string[] = [];
  // Drift is watched when asked for, or when nothing else is.
  if (m.drift || !m.performance) {
    const threshold = m.drift?.shareThreshold ?? 0.5;
    const considered = Object.values(w.drift).filter((d) => d.tested || d.schema).length;
    if (considered > 0 && w.driftShare >= threshold)
      reasons.push(
        `dataset drift: ${w.driftedColumns} of ${considered} columns (${pct(w.driftShare)}) ≥ ${pct(threshold)}`,
      );
  }
  if (m.performance) {
    const p = w.performance?.[m.performance.metric];
    if (p?.breached && p.value !== null && p.registered !== null) {
      const lower = p.value < p.registered;
      reasons.push(
        `${m.performance.metric} ${num(p.value)} ${lower ? "<" : ">"} registered ${num(p.registered)} ${lower ? "−" : "+"} ${num(m.performance.tolerance)}`,
      );
    }
  }
  return reasons;
}

/**
 * POSTs `{ "text": … }` as JSON, the plain message both Slack's incoming
 * webhooks (https://api.slack.com/messaging/webhooks, "Hello, World!" as
 * `{"text": …}`) and Microsoft Teams' incoming webhooks
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using,
 * "Post a message to the webhook using cURL") accept. Never throws: a webhook
 * that is down or answers an error is reported in the result.
 */
export async function postWebhook(
  url: string,
  text: string,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<WebhookResult> {
  try {
    const res = await fetchImpl(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) return { sent: false, error: `the webhook answered HTTP ${res.status}` };
    return { sent: true, status: res.status };
  } catch (e) {
    // fetch says "fetch failed"; why is in its cause (ECONNREFUSED, a bad port, a DNS failure).
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why =
      err.name === "TimeoutError"
        ? `no answer within ${timeoutMs / 1000} s`
        : err.cause?.message
          ? `${err.message}: ${err.cause.message}`
          : err.message;
    return { sent: false, error: `the webhook could not be reached: ${why}` };
  }
}

/**
 * Checks monitor `name` on its latest complete window (the report reads from
 * two windows back), and on a breach records the alert and posts the webhook
 * unless that window was alerted before.
 */
export async function checkMonitor(
  project: MonitorProject,
  name: string,
  options: { now?: number; fetch?: typeof fetch } = {},
): Promise<MonitorCheck> {
  const m = project.settings.monitors[name];
  if (!m)
    throw new MonitorError(
      `no monitor "${name}" in dagwood.json; its monitors: ${Object.keys(project.settings.monitors).join(", ") || "none"}`,
    );
  const now = options.now ?? Date.now();
  const { name: model, ref } = parseModelRef(m.model);
  let width: number;
  try {
    width = parseWindow(m.window);
  } catch (e) {
    if (e instanceof WindowInputError) throw new MonitorError(`monitor ${name}: ${e.message}`);
    throw e;
  }
  const end = Math.floor(now / width) * width;
  const start = end - width;
  const window = { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
  let report: MonitoringReport;
  try {
    report = await monitoringReportFor(
      { dir: project.dir, metadata: project.metadata },
      parseApiArgs("monitoringReport", {
        target: m.target,
        model: m.deployedModel ?? model,
        registeredModel: model,
        ref,
        window: m.window,
        since: new Date(end - 2 * width).toISOString(),
        minRows: m.minRows,
        tolerance: m.performance?.tolerance ?? 0.05,
      }),
      { now },
    );
  } catch (e) {
    if (e instanceof ApiError)
      throw new MonitorError(`monitor ${name} (${m.model} on ${m.target}): ${e.message}`);
    throw e;
  }
  const w = report.windows.find((x) => x.start === window.start);
  const reasons = breachReasons(w, m);
  const metric = m.performance ? w?.performance?.[m.performance.metric] : undefined;
  const check: MonitorCheck = {
    monitor: name,
    model,
    version: report.version,
    target: m.target,
    window,
    rows: w?.rows ?? 0,
    tested: w?.tested ?? false,
    breached: reasons.length > 0,
    reasons,
    alerted: false,
    alreadyAlerted: false,
    loop: null,
    webhook: null,
    summary: {
      driftedColumns: w?.driftedColumns ?? 0,
      consideredColumns: w ? Object.values(w.drift).filter((d) => d.tested || d.schema).length : 0,
      driftShare: w?.driftShare ?? 0,
      datasetDrift: w?.datasetDrift ?? false,
      labelled: w?.labelled ?? 0,
      metric: m.performance
        ? { name: m.performance.metric, value: metric?.value ?? null, registered: metric?.registered ?? null }
        : null,
    },
  };
  if (!check.breached) return check;

  const registry = project.metadata.registry;
  // The window's loop (the alert's record, app/monitoring/loop.ts) says it was alerted; the audit entry
  // alone says so for an alert whose process stopped before its loop was recorded: the loop is recorded now.
  const loopOpts = {
    monitor: name,
    model,
    target: m.target,
    action: m.action,
    window,
    reasons,
    champion: report.version,
    message: `alert: ${reasons.join("; ")}`,
  };
  const earlier = registry
    .audit({ model, limit: 1000 })
    .find(
      (e) => e.action === "monitor.alert" && e.details.monitor === name && e.details.window === window.start,
    );
  const hasLoop = project.metadata
    .monitorLoops({ monitor: name })
    .some((l) => l.window.start === window.start);
  check.alreadyAlerted = hasLoop || earlier !== undefined;
  if (check.alreadyAlerted) {
    if (!hasLoop && earlier)
      check.loop =
        project.metadata.createMonitorLoop({ ...loopOpts, auditId: earlier.id, at: earlier.at })?.id ?? null;
    return check;
  }
  const alert = registry.appendAudit({
    actor: `monitor:${name}`,
    action: "monitor.alert",
    model,
    version: report.version,
    details: { monitor: name, target: m.target, window: window.start, windowEnd: window.end, reasons },
  });
  check.alerted = true;
  // The alert is also the retraining loop's record (app/monitoring/loop.ts); its champion is the version checked.
  const loop = project.metadata.createMonitorLoop({
    ...loopOpts,
    auditId: alert.id,
    at: new Date(now).toISOString(),
  });
  check.loop = loop?.id ?? null;
  if (!loop) {
    // Another process recorded this window's loop meanwhile: its alert, its webhook.
    check.alerted = false;
    check.alreadyAlerted = true;
    return check;
  }
  if (m.webhook) {
    const text = `Dagwood monitor ${name}: ${model}${report.version !== null ? ` v${report.version}` : ""} on ${m.target} breached in the window ${window.start} – ${window.end} (${check.rows} rows): ${reasons.join("; ")}`;
    check.webhook = await postWebhook(m.webhook, text, options.fetch);
  }
  return check;
}
