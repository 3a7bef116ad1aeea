/**
 * `dagwood monitor run --once`: checks every monitor of dagwood.json on its
 * latest complete window (app/monitoring/monitors.ts), one line per monitor,
 * for cron, CI or a container. Exit 0: no breach; 1: a monitor breached
 * (alerted now or before); 2: bad settings or a monitor that cannot be checked.
 */
import type { MonitorCheck } from "../monitoring/monitors";
import { EXIT, findProjectStore, type Io, openMetadataStore, parse, UsageError } from "./args";

export const MONITOR_RUN_USAGE = "dagwood monitor run --once [--json] [--project DIR]";

function line(c: MonitorCheck): string {
  const head = `${c.breached ? "✗" : c.tested ? "✓" : "·"} ${c.monitor}: ${c.model}${c.version !== null ? ` v${c.version}` : ""} on ${c.target}, window ${c.window.start} – ${c.window.end}, ${c.rows} rows`;
  if (!c.tested) return `${head}: not tested (too few rows)`;
  if (!c.breached) return `${head}: no breach`;
  const what = c.alreadyAlerted
    ? "already alerted"
    : `alert recorded${c.webhook ? (c.webhook.sent ? `, webhook sent (HTTP ${c.webhook.status})` : `; ${c.webhook.error}`) : ""}`;
  return `${head}: ${c.reasons.join("; ")} — ${what}`;
}

export async function monitorRunCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    once: { type: "boolean" },
    json: { type: "boolean" },
    project: { type: "string" },
  });
  if (positionals.length)
    throw new UsageError(`monitor run takes no positional arguments: ${MONITOR_RUN_USAGE}`);
  if (!values.once)
    throw new UsageError(
      `monitor run checks the monitors once: pass --once, and run it from cron for a schedule (${MONITOR_RUN_USAGE})`,
    );
  const project = await findProjectStore(
    io,
    values.project,
    (dir) =>
      `No Dagwood project store in ${dir}: monitor run reads a project's registry and targets. Run it in the project folder, or pass --project DIR.`,
  );
  if (!project) return EXIT.invalid;
  const [{ readProjectSettings, ProjectSettingsError }, { checkMonitor, MonitorError }] = await Promise.all([
    import("../project/project"),
    import("../monitoring/monitors"),
  ]);
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(project.dir);
  } catch (e) {
    if (e instanceof ProjectSettingsError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.invalid;
    }
    throw e;
  }
  const names = Object.keys(settings.monitors);
  if (!names.length) {
    io.stderr.write(
      `dagwood.json in ${project.dir} declares no monitors. Add one, e.g. "monitors": { "penguins": { "model": "penguins@champion", "target": "local", "window": "1h", "action": "alert" } }\n`,
    );
    return EXIT.invalid;
  }
  const metadata = await openMetadataStore(io, project.dir, project.db);
  if (!metadata) return EXIT.invalid;
  const checks: MonitorCheck[] = [];
  const errors: { monitor: string; error: string }[] = [];
  try {
    for (const name of names) {
      try {
        const c = await checkMonitor({ dir: project.dir, metadata, settings }, name);
        checks.push(c);
        if (!values.json) io.stdout.write(`${line(c)}\n`);
      } catch (e) {
        if (!(e instanceof MonitorError)) throw e;
        errors.push({ monitor: name, error: e.message });
        if (!values.json) io.stderr.write(`! ${e.message}\n`);
      }
    }
  } finally {
    metadata.close();
  }
  if (values.json) io.stdout.write(`${JSON.stringify({ checks, errors }, null, 2)}\n`);
  return errors.length ? EXIT.invalid : checks.some((c) => c.breached) ? EXIT.failed : EXIT.ok;
}
