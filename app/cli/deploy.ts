/**
 * `dagwood deploy`, `dagwood predict` and `dagwood export`: deploy a
 * registered version to a named target (verified, rolled back on failure),
 * roll back, show what serves where; score a file with a version's ONNX
 * file; write a Triton / KServe model repository folder. They open only the
 * project's metadata store, so they work while a run or `dagwood ui` holds
 * the workspace. The one exception is the app's built-in `local` target: it
 * runs inside the app, so with the project open there, deploy and rollback
 * to it go through the app's engine (app/cli/attach.ts).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { DeploymentRecord, DeployProject } from "../deploy/deploy";
import type { AuditEntry } from "../store/types";
import { EXIT, findProjectStore, type Io, openMetadataStore, parse, UsageError } from "./args";
import { bar, formatMs, formatValue, renderTable, toJson } from "./format";
import { parseModelRef } from "./tracking";
import { confirmUnmasked, UNMASK_OPTIONS } from "./unmask";

type WithProject = (project: DeployProject) => Promise<number>;

/** The app's built-in target (app/deploy/targets.ts BUILTIN_TARGET), named here without loading that module. */
const BUILTIN = "local";

/** No `local` in dagwood.json: `local` is the app's built-in server, which the CLI does not run. */
function isBuiltinOnly(project: DeployProject, target: string): boolean {
  return target === BUILTIN && !Object.hasOwn(project.settings.targets, BUILTIN);
}

/** Why `--target local` fails from the CLI without a configured `local`, and what to do instead. */
export function builtinTargetMessage(): string {
  return (
    `The target "${BUILTIN}" is the app's built-in server: it runs inside Dagwood (dagwood ui or the desktop app), ` +
    "not from the CLI. From the CLI, start a server and add it as a target:\n" +
    "  DAGWOOD_SERVE_TOKEN=<token> dagwood serve --port 8000\n" +
    `  dagwood.json: "targets": { "${BUILTIN}": { "url": "http://127.0.0.1:8000", "kind": "dagwood" } }\n` +
    "  DAGWOOD_TOKEN_LOCAL=<token> dagwood deploy ... --target local   (or the OS keychain: service dagwood, target local)\n" +
    `A "${BUILTIN}" target in dagwood.json replaces the built-in one in the app too.\n` +
    "Or open the project in Dagwood (the desktop app or dagwood ui) and run this again: the CLI then deploys through it.\n"
  );
}

/** Opens the project's settings and registry (never creating a store) and runs `fn`; deploy errors become exit 1 or 2. */
async function withDeployProject(io: Io, projectOpt: unknown, fn: WithProject): Promise<number> {
  const [{ readProjectSettings, ProjectSettingsError }, { DeployError }] = await Promise.all([
    import("../project/project"),
    import("../deploy/targets"),
  ]);
  const found = await findProjectStore(
    io,
    projectOpt,
    (dir) =>
      `No Dagwood registry in ${dir}: run a pipeline that registers a model there first, or pass --project DIR.`,
  );
  if (!found) return EXIT.failed;
  const { dir, db } = found;
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(dir);
  } catch (e) {
    if (e instanceof ProjectSettingsError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.invalid;
    }
    throw e;
  }
  const metadata = await openMetadataStore(io, dir, db);
  if (!metadata) return EXIT.failed;
  try {
    return await fn({ dir, settings, registry: metadata.registry });
  } catch (e) {
    if (!(e instanceof DeployError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return e.code === "invalid" || e.code === "unknown-target" ? EXIT.invalid : EXIT.failed;
  } finally {
    metadata.close();
  }
}

/** How long a deploy or rollback through the app's engine may go without a word before the CLI gives up. */
const ATTACHED_DEPLOY_MS = 5 * 60_000;

/**
 * Deploy or roll back on the built-in `local` target, which only the app
 * runs: through the app's engine when it has the project open, else the
 * message that says what to do.
 */
async function throughApp(
  io: Io,
  dir: string,
  opts: { json: boolean; noAttach: boolean },
  act: (link: import("./attach").EngineLink) => Promise<AuditEntry>,
): Promise<number> {
  const [{ findEngine, openElsewhereMessage, EngineCallError }, { deploymentRecordOf }] = await Promise.all([
    import("./attach"),
    import("../deploy/deploy"),
  ]);
  const engine = await findEngine(dir);
  if (engine.state !== "live") {
    io.stderr.write(builtinTargetMessage());
    return EXIT.failed;
  }
  if (opts.noAttach) {
    io.stderr.write(openElsewhereMessage(engine.link.pid, dir));
    return EXIT.failed;
  }
  io.stderr.write(`Through Dagwood (PID ${engine.link.pid}), which runs the built-in "${BUILTIN}" target…\n`);
  let record: DeploymentRecord;
  try {
    record = deploymentRecordOf(await act(engine.link));
  } catch (e) {
    if (!(e instanceof EngineCallError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return e.status === 400 ? EXIT.invalid : EXIT.failed;
  }
  io.stdout.write(opts.json ? toJson(record) : describeRecord(record));
  return EXIT.ok;
}

/** The words `dagwood deploy` takes instead of a model version, for its usage errors. */
const DEPLOY_SUBCOMMANDS = "or a subcommand: canary promote|remove, rollback, status";

/** `hint`: what else the command takes there, added to its messages in parentheses. */
function versionRef(
  text: string | undefined,
  command: string,
  hint?: string,
): { name: string; ref: number | string } {
  const also = hint ? ` (${hint})` : "";
  if (text === undefined)
    throw new UsageError(`${command} takes one model version: name@alias or name:version${also}`);
  const { name, ref } = parseModelRef(text);
  if (ref === undefined) {
    throw new UsageError(
      `Which version of ${name}? Write ${name}@<alias> or ${name}:<version>, e.g. ${name}@champion${also}`,
    );
  }
  return { name, ref };
}

function describeRecord(r: DeploymentRecord): string {
  const parity = r.parity
    ? `parity on ${r.parity.rows} ${r.parity.source} rows${r.parity.note ? ` (${r.parity.note})` : ""}: max |served − registry| ${formatValue(r.parity.maxAbsDiff)}, ${r.parity.labelMismatches} label(s) differ`
    : "no parity check";
  const before = r.previous === null ? "nothing served before" : `v${r.previous} served before`;
  const at = `on ${r.target} (${r.url}, ${r.kind}) in ${formatMs(r.ms)}`;
  if (r.status === "canary")
    return `Deployed ${r.model} v${r.version} as a canary ${at}: it takes ${r.percent} % of the requests, v${r.previous} the rest; ${parity}.\n`;
  if (r.status === "canaryEnded")
    return `Removed the canary ${r.model} v${r.version} from ${r.target}: v${r.previous} serves all the requests${r.reason ? ` (${r.reason})` : ""}.\n`;
  if (r.operation === "promote")
    return `Promoted the canary ${r.model} v${r.version} ${at}: it serves all the requests; ${parity}; ${before}.\n`;
  const verb = r.status === "rolledBack" ? "Rolled back" : "Deployed";
  return `${verb} ${r.model} v${r.version} ${at}; ${parity}; ${before}.\n`;
}

async function deployRun(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    target: { type: "string" },
    canary: { type: "string" },
    json: { type: "boolean" },
    "no-attach": { type: "boolean" },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      `deploy takes one model version: name@alias or name:version (${DEPLOY_SUBCOMMANDS})`,
    );
  // A bare word is a model without its version, or an unknown subcommand: the message names both.
  const { name, ref } = versionRef(positionals[0], "deploy", DEPLOY_SUBCOMMANDS);
  if (!values.target) throw new UsageError("deploy needs --target NAME (a target in dagwood.json)");
  const percent = values.canary === undefined ? undefined : canaryPercent(values.canary as string);
  const [{ deployVersion }, { deployCanary }, { currentUser }] = await Promise.all([
    import("../deploy/deploy"),
    import("../deploy/canary"),
    import("../engine/environment"),
  ]);
  return withDeployProject(io, values.project, async (project) => {
    if (isBuiltinOnly(project, values.target as string)) {
      const opts = { json: Boolean(values.json), noAttach: Boolean(values["no-attach"]) };
      return throughApp(io, project.dir, opts, (link) =>
        percent === undefined
          ? link.call("deployVersion", { name, ref, target: BUILTIN }, ATTACHED_DEPLOY_MS)
          : link.call("deployCanary", { name, ref, target: BUILTIN, percent }, ATTACHED_DEPLOY_MS),
      );
    }
    const deploy = {
      project,
      target: values.target as string,
      name,
      ref,
      actor: currentUser(),
      onProgress: (p: { phase: string; message: string }) => io.stderr.write(`${p.phase}: ${p.message}\n`),
    };
    const record =
      percent === undefined ? await deployVersion(deploy) : await deployCanary({ ...deploy, percent });
    io.stdout.write(values.json ? toJson(record) : describeRecord(record));
    return EXIT.ok;
  });
}

async function deployRollback(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    target: { type: "string" },
    to: { type: "string" },
    json: { type: "boolean" },
    "no-attach": { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("deploy rollback takes one model name");
  const { name, ref } = parseModelRef(positionals[0]!);
  if (ref !== undefined)
    throw new UsageError("deploy rollback takes a model name; give the version with --to");
  if (!values.target) throw new UsageError("deploy rollback needs --target NAME");
  const to = Number(values.to);
  if (!Number.isSafeInteger(to) || to < 1)
    throw new UsageError("deploy rollback needs --to VERSION (a number)");
  const [{ rollbackDeployment }, { currentUser }] = await Promise.all([
    import("../deploy/deploy"),
    import("../engine/environment"),
  ]);
  return withDeployProject(io, values.project, async (project) => {
    if (isBuiltinOnly(project, values.target as string)) {
      const opts = { json: Boolean(values.json), noAttach: Boolean(values["no-attach"]) };
      return throughApp(io, project.dir, opts, (link) =>
        link.call("rollbackDeployment", { name, target: BUILTIN, version: to }, ATTACHED_DEPLOY_MS),
      );
    }
    const record = await rollbackDeployment({
      project,
      target: values.target as string,
      name,
      toVersion: to,
      actor: currentUser(),
      onProgress: (p) => io.stderr.write(`${p.phase}: ${p.message}\n`),
    });
    io.stdout.write(values.json ? toJson(record) : describeRecord(record));
    return EXIT.ok;
  });
}

async function deployStatus(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("deploy status takes no positional arguments");
  const { deploymentStatus } = await import("../deploy/deploy");
  return withDeployProject(io, values.project, async (project) => {
    const targets = await deploymentStatus(project);
    if (values.json) {
      io.stdout.write(toJson(targets));
      return EXIT.ok;
    }
    const builtinLine = isBuiltinOnly(project, BUILTIN)
      ? `${BUILTIN}  built in (app only)  dagwood  the app's own server: deploy to it from the Deployments view (from the CLI: dagwood serve and a target in dagwood.json)\n`
      : "";
    if (targets.length === 0) {
      io.stdout.write(
        `${builtinLine}No deploy targets in dagwood.json: add one, e.g. "targets": { "local": { "url": "http://127.0.0.1:8000" } }\n`,
      );
      return EXIT.ok;
    }
    if (builtinLine) io.stdout.write(`${builtinLine}\n`);
    for (const t of targets) {
      const state = t.health.ready ? "ready" : t.health.live ? "live, not ready" : "down";
      const health = !t.health.error
        ? state
        : t.health.errorCode === "unreachable"
          ? `unreachable: ${t.health.error}`
          : t.health.errorCode === "unauthorized"
            ? `${t.health.live ? `${state}, ` : ""}token refused: ${t.health.error}`
            : t.health.errorCode === "invalid"
              ? `not contacted: ${t.health.error}`
              : `${state}, error: ${t.health.error}`;
      io.stdout.write(`${t.name}  ${t.url}  ${t.kind}  token: ${t.tokenSource ?? "none"}  ${health}\n`);
      const rows = t.models.map((m) => {
        const last = m.deployments[0];
        const traffic = t.traffic.filter((x) => x.model === m.name && Number(x.version) === m.serving);
        return [
          m.name,
          m.serving === null ? "—" : `v${m.serving}`,
          m.versions.map((v) => `v${v}`).join(" "),
          m.policy?.canary ? `v${m.policy.canary.version} ${m.policy.canary.percent}%` : "—",
          String(traffic.reduce((a, x) => a + x.requests, 0)),
          traffic[0]?.p99Ms == null ? "—" : `${formatValue(traffic[0].p99Ms)} ms`,
          last
            ? `${last.action.replace("deployment.", "")} v${last.version} ${last.at.slice(0, 19).replace("T", " ")}`
            : "—",
        ];
      });
      if (rows.length) {
        io.stdout.write(
          `${renderTable(["model", "serving", "loaded", "canary", "requests", "p99", "last deployment"], rows, new Set([4]))}\n`,
        );
      }
      io.stdout.write("\n");
    }
    return EXIT.ok;
  });
}

/** `--canary PERCENT`: more than 0 and less than 100. */
function canaryPercent(text: string): number {
  const percent = Number(text.replace(/%$/, ""));
  if (text.trim() === "" || !Number.isFinite(percent) || percent <= 0 || percent >= 100)
    throw new UsageError(
      `--canary takes the canary's share of the requests, a number more than 0 and less than 100 (e.g. --canary 20), not ${JSON.stringify(text)}`,
    );
  return percent;
}

/**
 * `dagwood deploy canary promote|remove <model> --target T [--version N] [--reason TEXT]`:
 * the canary serving on the target (or `--version`) becomes the primary, or is taken out.
 */
async function deployCanaryEnd(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    target: { type: "string" },
    version: { type: "string" },
    reason: { type: "string" },
    json: { type: "boolean" },
    "no-attach": { type: "boolean" },
  });
  const [action, model, ...extra] = positionals;
  if (action !== "promote" && action !== "remove")
    throw new UsageError("deploy canary takes promote or remove, then the model name");
  if (model === undefined || extra.length)
    throw new UsageError(`deploy canary ${action} takes one model name`);
  const { name, ref } = parseModelRef(model);
  if (ref !== undefined)
    throw new UsageError(`deploy canary ${action} takes a model name; give the version with --version`);
  if (!values.target) throw new UsageError(`deploy canary ${action} needs --target NAME`);
  const target = values.target as string;
  let version: number | undefined;
  if (values.version !== undefined) {
    version = Number(values.version);
    if (!Number.isSafeInteger(version) || version < 1)
      throw new UsageError("--version takes a version number");
  }
  if (values.reason !== undefined && action === "promote")
    throw new UsageError(
      "--reason is for deploy canary remove (why the canary is taken out); a promotion records no reason",
    );
  if (values.reason !== undefined && (values.reason as string).trim() === "")
    throw new UsageError(
      "--reason takes why the canary is removed (it goes in the audit log), not an empty text",
    );
  const reason = (values.reason as string | undefined)?.trim() || "removed from the command line";
  const [{ promoteCanary, removeCanary }, { connect, servingVersion }, { DeployError }, { currentUser }] =
    await Promise.all([
      import("../deploy/canary"),
      import("../deploy/deploy"),
      import("../deploy/targets"),
      import("../engine/environment"),
    ]);
  return withDeployProject(io, values.project, async (project) => {
    const builtin = isBuiltinOnly(project, target);
    if (version === undefined) {
      if (builtin)
        throw new UsageError(`deploy canary ${action} on the app's built-in target needs --version N`);
      // The canary the target serves now.
      const { target: t, client } = connect(project, target);
      if (t.kind !== "dagwood") {
        // As promoteCanary and removeCanary refuse it with --version (app/deploy/canary.ts).
        throw new DeployError(
          `Target "${target}" is ${t.kind}: it has no canary to ${action} (a canary needs Dagwood's traffic extension, which gives a version a share of the requests by model). Split traffic in front of it instead (e.g. KServe's canaryTrafficPercent).`,
          "invalid",
        );
      }
      const { policy } = await servingVersion(client, t.kind, name);
      if (!policy?.canary) {
        io.stderr.write(
          `${name} has no canary on ${target}: give the version with --version to answer for an earlier one.\n`,
        );
        return EXIT.failed;
      }
      version = policy.canary.version;
    }
    const v = version;
    if (builtin) {
      const opts = { json: Boolean(values.json), noAttach: Boolean(values["no-attach"]) };
      return throughApp(io, project.dir, opts, (link) =>
        action === "promote"
          ? link.call("promoteCanary", { name, target: BUILTIN, version: v }, ATTACHED_DEPLOY_MS)
          : link.call("removeCanary", { name, target: BUILTIN, version: v, reason }, ATTACHED_DEPLOY_MS),
      );
    }
    const common = { project, target, name, version: v, actor: currentUser() };
    const record =
      action === "promote" ? await promoteCanary(common) : await removeCanary({ ...common, reason });
    io.stdout.write(values.json ? toJson(record) : describeRecord(record));
    return EXIT.ok;
  });
}

export async function deployCommand(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "rollback") return deployRollback(rest, io);
  if (sub === "canary") return deployCanaryEnd(rest, io);
  if (sub === "status") return deployStatus(rest, io);
  if (sub === undefined)
    throw new UsageError(`deploy needs a model version: name@alias or name:version (${DEPLOY_SUBCOMMANDS})`);
  return deployRun(args, io);
}

/** A progress bar on a terminal; elsewhere a line at every tenth. */
function rowProgress(io: Io): { update(done: number, total: number): void; close(): void } {
  const tty = Boolean(io.stderr.isTTY);
  let lastTenth = -1;
  let drawn = false;
  return {
    update(done, total) {
      const fraction = total === 0 ? 1 : done / total;
      const text = `${done.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} rows`;
      if (tty) {
        io.stderr.write(`\r${bar(fraction)} ${Math.floor(fraction * 100)}% ${text}`);
        drawn = true;
        return;
      }
      const tenth = Math.floor(fraction * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        io.stderr.write(`scored ${text} (${Math.floor(fraction * 100)}%)\n`);
      }
    },
    close() {
      if (drawn) io.stderr.write("\n");
    },
  };
}

export async function predictCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    model: { type: "string" },
    input: { type: "string" },
    output: { type: "string" },
    batch: { type: "string" },
  });
  if (positionals.length)
    throw new UsageError("predict takes no positional arguments (use --model, --input, --output)");
  const { name, ref } = versionRef(values.model as string | undefined, "predict --model");
  if (!values.input || !values.output) throw new UsageError("predict needs --input FILE and --output FILE");
  const batch = values.batch === undefined ? 10_000 : Number(values.batch);
  if (!Number.isSafeInteger(batch) || batch < 1)
    throw new UsageError("--batch takes a positive whole number");
  const [{ predictFile, fileFormat }, { requireVersionFiles }, { asModel }] = await Promise.all([
    import("../deploy/predict"),
    import("../deploy/deploy"),
    import("../ml/model"),
  ]);
  const input = resolve(values.input as string);
  const output = resolve(values.output as string);
  try {
    fileFormat(input, "--input");
    fileFormat(output, "--output");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!existsSync(input)) {
    io.stderr.write(`--input ${values.input}: no such file\n`);
    return EXIT.failed;
  }
  return withDeployProject(io, values.project, async (project) => {
    const version = await requireVersionFiles(project, name, ref);
    const model = asModel(JSON.parse(await readFile(join(project.dir, version.nativePath), "utf8")));
    const progress = rowProgress(io);
    const started = performance.now();
    let result: { rows: number; columns: string[] };
    try {
      result = await predictFile({
        onnxFile: join(project.dir, version.onnxPath),
        model,
        input,
        output,
        batch,
        onProgress: (done, total) => progress.update(done, total),
      });
    } catch (e) {
      progress.close();
      io.stderr.write(`${(e as Error).message}\n`);
      return EXIT.failed;
    }
    progress.close();
    io.stdout.write(
      `Scored ${result.rows.toLocaleString("en-US")} rows with ${name} v${version.version} in ${formatMs(performance.now() - started)}: ${values.output}\n`,
    );
    return EXIT.ok;
  });
}

export async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    out: { type: "string" },
    ...UNMASK_OPTIONS,
  });
  const [format, model, ...extra] = positionals;
  if (format !== "kserve" && format !== "triton")
    throw new UsageError("export takes a format: kserve or triton");
  if (extra.length) throw new UsageError("export takes one model version");
  const { name, ref } = versionRef(model, `export ${format}`);
  if (!values.out) throw new UsageError(`export ${format} needs --out DIR (a new or empty folder)`);
  const out = resolve(values.out as string);
  const stop = await confirmUnmasked(io, values);
  if (stop !== null) return stop;
  const [{ exportRepositoryFolder }, { currentUser }] = await Promise.all([
    import("../deploy/export"),
    import("../engine/environment"),
  ]);
  return withDeployProject(io, values.project, async (project) => {
    const { files, unmasked } = await exportRepositoryFolder({
      project,
      name,
      ref,
      format,
      outDir: out,
      ...(values.unmasked ? { unmasked: true, actor: currentUser() } : {}),
    });
    io.stdout.write(`Exported ${name} for ${format === "kserve" ? "KServe" : "Triton"} to ${values.out}:\n`);
    for (const f of files) io.stdout.write(`  ${f}\n`);
    if (unmasked)
      io.stdout.write(
        `model.onnx holds the fitted categories of personal input(s) ${unmasked.join(", ")}: exported with ${unmasked.join(", ")} in clear (recorded in the audit log)\n`,
      );
    if (format === "kserve") {
      io.stdout.write(
        "Copy the model folder to a bucket, set storageUri in inference-service.yaml to it, then: kubectl apply -f inference-service.yaml\n",
      );
    }
    return EXIT.ok;
  });
}
