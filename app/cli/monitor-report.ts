/**
 * `dagwood monitor report --log TARGET:MODEL`: a deployed model's drift,
 * prediction distribution and performance per time window against its
 * registered version (the Api's monitoringReport, app/api/handlers/
 * monitoring.ts), as a compact table or the JSON report. Exit 0: no window
 * drifted or breached; 1: one did; 2: bad arguments or data.
 */
import { resolve } from "node:path";
import type { MonitoringReport, MonitoringWindow } from "../values/monitoring";
import { EXIT, findProjectStore, type Io, openMetadataStore, parse, UsageError } from "./args";
import { formatValue, renderTable } from "./format";

export const MONITOR_REPORT_USAGE =
  "dagwood monitor report --log TARGET:MODEL [--model NAME@ALIAS] [--reference FILE] [--labels FILE] [--window 1h] [--since 1d] [--min-rows 30] [--tolerance 0.05] [--json] [--project DIR]";

/** The metric a window's row shows: the first of the task's metrics the report has. */
const HEADLINE = ["accuracy", "rmse", "f1_macro", "mae"];

function predictionCell(w: MonitoringWindow): string {
  const p = w.prediction;
  if (!p || p.rows === 0) return "—";
  if (p.kind === "histogram") return `mean ${formatValue(p.mean)}`;
  const [top, share] = Object.entries(p.shares).sort((a, b) => b[1] - a[1])[0] ?? ["—", 0];
  return `${top} ${formatValue(share * 100)} %`;
}

/** Window, rows, drifted columns, share, the model's answers, labelled rows and the headline metric against its registered figure. */
export function renderMonitoringReport(report: MonitoringReport, source: string): string {
  const metric =
    HEADLINE.find((m) => report.windows.some((w) => w.performance?.[m])) ??
    Object.keys(report.windows.find((w) => w.performance)?.performance ?? {})[0];
  const rows = report.windows.map((w) => {
    const drifted = Object.entries(w.drift)
      .filter(([, d]) => d.drifted)
      .map(([c]) => c);
    const m = metric ? w.performance?.[metric] : undefined;
    return [
      w.breached || w.datasetDrift ? "✗" : w.tested ? "✓" : "·",
      w.start.replace("T", " ").replace(/:00\.000Z$/, "Z"),
      w.rows.toLocaleString("en-US"),
      !w.tested
        ? w.rows
          ? `not tested (< ${report.minRows} rows)`
          : "no rows"
        : drifted.length
          ? drifted.length > 3
            ? `${drifted.slice(0, 3).join(", ")} +${drifted.length - 3}`
            : drifted.join(", ")
          : "none",
      w.tested ? `${formatValue(w.driftShare * 100)} %` : "",
      predictionCell(w),
      w.labelled ? w.labelled.toLocaleString("en-US") : "",
      m ? `${formatValue(m.value)}${m.breached ? " ✗" : ""}` : "",
    ];
  });
  const registered = metric !== undefined ? report.registered[metric] : undefined;
  const table = renderTable(
    [
      "",
      "window (UTC)",
      "rows",
      "drifted columns",
      "share",
      "prediction",
      "labelled",
      metric
        ? `${metric}${registered !== undefined ? ` (registered ${formatValue(registered)} ± ${formatValue(report.tolerance)})` : ""}`
        : "metric",
    ],
    rows,
    new Set([2, 4, 6, 7]),
  );
  const labels = report.labels;
  const drifted = report.windows.filter((w) => w.datasetDrift).length;
  const breached = report.windows.filter((w) => w.breached).length;
  const hours = report.window / 3600e3;
  const width = Number.isInteger(hours) ? `${hours} h` : `${formatValue(report.window / 60e3)} min`;
  return [
    `Monitoring ${source}${report.model ? ` against ${report.model} v${report.version}` : ""}: ${report.rows.current.toLocaleString("en-US")} rows in ${report.windows.length} windows of ${width} (reference ${report.rows.reference.toLocaleString("en-US")} rows)`,
    "",
    report.windows.length ? table : "  No requests in the log for this period.",
    "",
    labels
      ? `Labels: ${labels.labelled} labelled rows, ${labels.unlabelled} without a label yet${labels.unmatched ? `, ${labels.unmatched} for ids not in the log` : ""}${labels.bad ? `, ${labels.bad} unreadable` : ""}.`
      : "Labels: none yet (send them to POST /v2/models/{name}/feedback or give --labels FILE).",
    `${drifted} window${drifted === 1 ? "" : "s"} with dataset drift, ${breached} below the registered ${metric ?? "metrics"}.`,
    "",
  ].join("\n");
}

export async function monitorReportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    log: { type: "string" },
    model: { type: "string" },
    reference: { type: "string" },
    labels: { type: "string" },
    window: { type: "string" },
    since: { type: "string" },
    "min-rows": { type: "string" },
    tolerance: { type: "string" },
    json: { type: "boolean" },
    project: { type: "string" },
  });
  if (positionals.length) throw new UsageError("monitor report takes no positional arguments");
  const logText = values.log as string | undefined;
  if (!logText) throw new UsageError(`monitor report needs --log TARGET:MODEL: ${MONITOR_REPORT_USAGE}`);
  const colon = logText.indexOf(":");
  if (colon <= 0 || colon === logText.length - 1)
    throw new UsageError(`--log takes TARGET:MODEL, e.g. local:penguins; got "${logText}"`);
  const target = logText.slice(0, colon);
  const model = logText.slice(colon + 1);
  let registeredModel: string | undefined;
  let ref: string | number | undefined;
  const modelText = values.model as string | undefined;
  if (modelText !== undefined) {
    const at = modelText.lastIndexOf("@");
    registeredModel = at < 0 ? modelText : modelText.slice(0, at);
    const r = at < 0 ? "champion" : modelText.slice(at + 1);
    if (!registeredModel || !r)
      throw new UsageError(
        `--model takes NAME@ALIAS or NAME@VERSION, e.g. penguins@champion; got "${modelText}"`,
      );
    ref = /^\d+$/.test(r) ? Number(r) : r;
  }
  const number = (option: string, text: string | undefined, check: (n: number) => boolean, what: string) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n) || !check(n))
      throw new UsageError(`${option} takes ${what}, got "${text}"`);
    return n;
  };
  const minRows = number(
    "--min-rows",
    values["min-rows"] as string | undefined,
    (n) => Number.isInteger(n) && n >= 1,
    "a whole number ≥ 1",
  );
  const tolerance = number(
    "--tolerance",
    values.tolerance as string | undefined,
    (n) => n >= 0,
    "a number ≥ 0",
  );

  const project = await findProjectStore(
    io,
    values.project,
    (dir) =>
      `No Dagwood project store in ${dir}: monitor report reads a project's registry and targets. Run it in the project folder, or pass --project DIR.`,
  );
  if (!project) return EXIT.invalid;
  const metadata = await openMetadataStore(io, project.dir, project.db);
  if (!metadata) return EXIT.invalid;
  try {
    const [{ ApiError, parseApiArgs }, { monitoringReportFor }] = await Promise.all([
      import("../api/api"),
      import("../api/handlers/monitoring"),
    ]);
    let parsed: ReturnType<typeof parseApiArgs<"monitoringReport">>;
    try {
      parsed = parseApiArgs("monitoringReport", {
        target,
        model,
        ...(registeredModel ? { registeredModel } : {}),
        ...(ref !== undefined ? { ref } : {}),
        ...(values.reference ? { reference: resolve(values.reference as string) } : {}),
        ...(values.labels ? { labels: resolve(values.labels as string) } : {}),
        ...(values.window ? { window: values.window as string } : {}),
        ...(values.since ? { since: values.since as string } : {}),
        ...(minRows !== undefined ? { minRows } : {}),
        ...(tolerance !== undefined ? { tolerance } : {}),
      });
    } catch (e) {
      if (e instanceof ApiError) throw new UsageError(e.message);
      throw e;
    }
    let report: MonitoringReport;
    try {
      report = await monitoringReportFor({ dir: project.dir, metadata }, parsed);
    } catch (e) {
      if (e instanceof ApiError) {
        io.stderr.write(`${e.message}\n`);
        return EXIT.invalid;
      }
      throw e;
    }
    io.stdout.write(
      values.json ? `${JSON.stringify(report, null, 2)}\n` : renderMonitoringReport(report, logText),
    );
    return report.windows.some((w) => w.datasetDrift || w.breached) ? EXIT.failed : EXIT.ok;
  } finally {
    metadata.close();
  }
}
