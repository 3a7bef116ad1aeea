/**
 * `dagwood privacy policy` and `dagwood privacy retention`: the inference
 * log's policy for tagged inputs (app/privacy/log-policy.ts), shown and set
 * in dagwood.json in place, and its retention applied now to the project's
 * local model repository.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { LogPolicy } from "../privacy/types";
import { EXIT, type Io, parse, UsageError } from "./args";
import { renderTable, toJson } from "./format";

export const POLICY_HELP = `  dagwood privacy policy [<model>] [--tagged hash|drop|clear] [--retention-days N|off] [--project DIR] [--json]
    what the inference log keeps of tagged inputs (hash: keyed hash, drop: left out, clear: as sent) and for how
    long; with --tagged or --retention-days, sets it in dagwood.json (the model's override, or the default without
    <model>) and writes a privacy.policy audit entry; a deploy sends it to the server
`;

export const RETENTION_HELP = `  dagwood privacy retention [--model M] [--dry-run] [--project DIR] [--json]
    deletes the entries of the local inference log (.dagwood/serving) older than each model's retention now,
    and prints what it removed (a running server does it itself, at start and hourly)
`;

function projectDir(option: string | undefined): Promise<string> {
  return import("../project/project").then(({ findProjectDir }) => {
    const dir = option ? resolve(option) : findProjectDir(join(process.cwd(), "_"));
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new UsageError(`--project: ${dir} is not a folder`);
    return dir;
  });
}

/** `--retention-days`: a whole number of days from 1, or "off" (no retention). */
export function parseRetentionDays(text: string): number | null {
  if (text === "off" || text === "none") return null;
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n))
    throw new UsageError(`--retention-days must be a whole number of days (e.g. 30) or off, not "${text}"`);
  if (n < 1)
    throw new UsageError(
      `--retention-days must be at least 1 (got ${n}); to keep entries until the size budget deletes them, use --retention-days off`,
    );
  if (n > 36500) throw new UsageError(`--retention-days must be at most 36500, not ${n}`);
  return n;
}

const ACTIONS = ["hash", "drop", "clear"] as const;

function policyText(p: LogPolicy): string {
  const kept =
    p.retentionDays === undefined ? "no retention (the size budget only)" : `kept ${p.retentionDays} days`;
  return `tagged inputs ${p.tagged === "hash" ? "hashed" : p.tagged === "drop" ? "dropped" : "IN CLEAR"} · ${kept}`;
}

export async function privacyPolicyCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    tagged: { type: "string" },
    "retention-days": { type: "string" },
    project: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    io.stdout.write(POLICY_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1)
    throw new UsageError(`privacy policy takes at most one model name, not ${positionals.join(" ")}`);
  const model = positionals[0];
  if (values.tagged !== undefined && !(ACTIONS as readonly string[]).includes(values.tagged))
    throw new UsageError(`--tagged must be hash, drop or clear, not "${values.tagged}"`);
  const retention =
    values["retention-days"] === undefined ? undefined : parseRetentionDays(values["retention-days"]);
  const dir = await projectDir(values.project);
  const { readProjectSettings, ProjectSettingsError } = await import("../project/project");
  const { setLogPolicy } = await import("../privacy/log-settings");
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(dir);
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
  const { describeLogPolicy, projectLogPolicy } = await import("../privacy/log-policy");

  if (values.tagged === undefined && retention === undefined) {
    // Show: the default, the overrides, and per registered model what its latest version logs.
    const registered = await registeredModels(dir);
    const names = model
      ? [model]
      : [...new Set([...Object.keys(settings.privacy.models), ...registered.keys()])].sort();
    const rows = names.map((name) => {
      const policy = projectLogPolicy(settings, name);
      const tagged = registered.get(name);
      return {
        model: name,
        override: Object.hasOwn(settings.privacy.models, name),
        policy,
        tagged: tagged ?? null,
        text: tagged ? describeLogPolicy(policy, tagged) : policyText(policy),
      };
    });
    if (values.json) {
      io.stdout.write(`${toJson({ default: settings.privacy.inferenceLog, models: rows })}\n`);
      return EXIT.ok;
    }
    io.stdout.write(`Default (privacy.inferenceLog): ${policyText(settings.privacy.inferenceLog)}\n`);
    if (rows.length) {
      io.stdout.write(
        `${renderTable(
          ["model", "policy", "in the log"],
          rows.map((r) => [r.model, r.override ? "own" : "default", r.text]),
        )}\n`,
      );
    }
    if (rows.some((r) => r.policy.tagged === "clear" && (r.tagged?.length ?? 1) > 0))
      io.stdout.write("Warning: a policy of clear logs personal inputs as sent.\n");
    return EXIT.ok;
  }

  const { currentUser } = await import("../engine/environment");
  let change: Awaited<ReturnType<typeof setLogPolicy>>;
  try {
    change = await setLogPolicy(
      dir,
      model,
      {
        ...(values.tagged !== undefined ? { tagged: values.tagged as LogPolicy["tagged"] } : {}),
        ...(retention !== undefined ? { retentionDays: retention } : {}),
      },
      currentUser(),
    );
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n`);
    return EXIT.failed;
  }
  if (values.json) {
    io.stdout.write(`${toJson(change)}\n`);
    return EXIT.ok;
  }
  const scope = model ? `model ${model}` : "the default";
  io.stdout.write(
    `Inference log policy of ${scope}: ${change.before ? policyText(change.before) : "(the default)"} → ${policyText(change.after)}\n`,
  );
  if (!change.changed) io.stdout.write("Nothing changed.\n");
  else {
    io.stdout.write(
      `Written to dagwood.json${change.auditId ? `; audit entry ${change.auditId} (privacy.policy)` : ""}. It applies to a server at the next deploy of ${model ?? "each model"}.\n`,
    );
  }
  if (change.after.tagged === "clear") io.stdout.write("Warning: personal inputs will be logged as sent.\n");
  return EXIT.ok;
}

/** Registered models → the tagged inputs of their latest version (empty without a store). */
async function registeredModels(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!existsSync(join(dir, ".dagwood", "metadata.sqlite"))) return out;
  const { openProjectStore } = await import("../store/open");
  const { readProjectSettings } = await import("../project/project");
  const { taggedInputsOf } = await import("../privacy/log-policy");
  let store: ReturnType<typeof openProjectStore> | undefined;
  try {
    store = openProjectStore(dir, readProjectSettings(dir), { existingOnly: true });
    for (const m of store?.registry.listModels() ?? []) {
      const v = m.latestVersion === null ? undefined : store!.registry.getVersion(m.name, m.latestVersion);
      out.set(m.name, taggedInputsOf(v?.lineage));
    }
  } catch {
    // The listing is a courtesy: the policy is shown without it.
  } finally {
    store?.close();
  }
  return out;
}

export async function privacyRetentionCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    model: { type: "string" },
    "dry-run": { type: "boolean" },
    project: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    io.stdout.write(RETENTION_HELP);
    return EXIT.ok;
  }
  if (positionals.length)
    throw new UsageError(`privacy retention takes no positional arguments: ${positionals[0]}`);
  const dir = await projectDir(values.project);
  const { readProjectSettings, ProjectSettingsError } = await import("../project/project");
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(dir);
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
  const { servingRepository, serverLockFile } = await import("../deploy/embedded");
  const { applyRetention, projectLogPolicy, retentionCutoff } = await import("../privacy/log-policy");
  const repository = servingRepository(dir);
  const dryRun = values["dry-run"] === true;
  const running = runningServer(serverLockFile(dir));
  if (running && !dryRun) {
    io.stderr.write(
      `The project's model server is running (pid ${running}); it deletes entries past their retention itself, at start and hourly. Stop it (the Deployments view, or close the app) to run this now, or use --dry-run to see what is due.\n`,
    );
    return EXIT.failed;
  }
  const names = existsSync(repository)
    ? readdirSync(repository, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith("."))
        .map((e) => e.name)
        .sort()
    : [];
  if (values.model !== undefined && !names.includes(values.model)) {
    io.stderr.write(
      `The local model repository (${repository}) has no model "${values.model}"${names.length ? `; it has ${names.join(", ")}` : ""}.\n`,
    );
    return EXIT.failed;
  }
  const now = Date.now();
  const results: {
    model: string;
    retentionDays: number | null;
    entries: number;
    deletedFiles: string[];
    rewrittenFiles: string[];
    cutoff?: string;
    oldest?: string;
    newest?: string;
  }[] = [];
  for (const name of values.model ? [values.model] : names) {
    const policy = projectLogPolicy(settings, name);
    if (policy.retentionDays === undefined) {
      results.push({ model: name, retentionDays: null, entries: 0, deletedFiles: [], rewrittenFiles: [] });
      continue;
    }
    const r = await applyRetention(join(repository, name), retentionCutoff(policy.retentionDays, now), {
      dryRun,
    });
    results.push({ model: name, retentionDays: policy.retentionDays, ...r });
  }
  if (values.json) {
    io.stdout.write(`${toJson({ dryRun, repository, models: results })}\n`);
    return EXIT.ok;
  }
  if (results.length === 0) {
    io.stdout.write(`The local model repository (${repository}) has no model: nothing to delete.\n`);
    return EXIT.ok;
  }
  const verb = dryRun ? "would remove" : "removed";
  io.stdout.write(
    `${renderTable(
      ["model", "retention", verb, "from", "files"],
      results.map((r) => [
        r.model,
        r.retentionDays === null ? "none set" : `${r.retentionDays} days`,
        r.retentionDays === null ? "—" : `${r.entries} entries`,
        r.entries ? `${r.oldest} … ${r.newest}` : "",
        r.entries
          ? [
              r.deletedFiles.length ? `${r.deletedFiles.length} deleted` : "",
              r.rewrittenFiles.length ? `${r.rewrittenFiles.length} rewritten` : "",
            ]
              .filter(Boolean)
              .join(", ")
          : "",
      ]),
    )}\n`,
  );
  const total = results.reduce((n, r) => n + r.entries, 0);
  io.stdout.write(
    dryRun
      ? `Dry run: nothing was changed; ${total} entries are past their retention.\n`
      : `Removed ${total} entries past their retention.\n`,
  );
  if (results.some((r) => r.retentionDays === null))
    io.stdout.write(
      "A model without a retention keeps its entries until the log's size budget deletes them: set one with dagwood privacy policy [<model>] --retention-days N.\n",
    );
  return EXIT.ok;
}

/** The pid of the live process holding the built-in server's lock, else null. */
function runningServer(lockFile: string): number | null {
  try {
    const lock = JSON.parse(readFileSync(lockFile, "utf8")) as { pid?: unknown };
    if (typeof lock.pid !== "number") return null;
    try {
      process.kill(lock.pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EPERM") return null;
    }
    return lock.pid;
  } catch {
    return null;
  }
}
