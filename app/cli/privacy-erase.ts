/**
 * `dagwood privacy erase --column C --value V [--dry-run] [--json] [--resume]`:
 * removes one subject's rows from every store Dagwood keeps (app/privacy/erase.ts).
 * Exit 0 done (or nothing held), 1 a step could not run (the plan is kept:
 * run it again), 2 bad arguments or a column no store holds.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ErasePlan, EraseResult } from "../privacy/erase";
import type { MetadataStore } from "../store/types";
import { EXIT, type Io, parse, UsageError } from "./args";
import { renderTable, toJson } from "./format";

export const ERASE_HELP = `dagwood privacy erase --column C --value V [--dry-run] [--json] [--project DIR]
dagwood privacy erase --resume [--project DIR]

Removes the rows of the subject whose column C holds V from the inference log
(values in clear or hashed with the project's key), the feature store's online
and offline data, held-out rows kept with model versions, and cached node
outputs (those nodes run again next time); writes a privacy.erased audit entry
(with the value's keyed hash, never the value), and lists the model versions
trained on the subject's data: retrain them to remove the subject's influence.

The plan is written to .dagwood/privacy/erase-<id>.json before anything is
touched: an erase interrupted (even by kill -9) is completed by running it
again, or by --resume.

  --column C    the column that identifies the subject (required)
  --value V     the subject's value (required; 123 and "123" are the same)
  --dry-run     print what would be removed, change nothing
  --json        the plan and its outcome as JSON
  --resume      complete every erase left unfinished
`;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function renderPlan(
  plan: ErasePlan,
  result: { dryRun: boolean; value: string },
  STORE_TITLES: Record<string, string>,
): string {
  const out: string[] = [];
  if (plan.steps.length) {
    out.push(
      result.dryRun
        ? `Would remove the subject (${plan.column} = ${result.value}):`
        : `Removed the subject (${plan.column} = ${result.value}):`,
    );
    const rows = plan.steps.map((st) => [
      STORE_TITLES[st.store] ?? st.store,
      String(result.dryRun ? st.found : (st.removed ?? 0)),
      st.target,
    ]);
    out.push(
      renderTable(["store", "rows", "where"], rows)
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
    );
  }
  if (plan.notErased.length) {
    out.push("", "Not erased — yours to remove:");
    for (const n of plan.notErased)
      out.push(`  ${n.store} ${n.target}: ${n.found ? `${plural(n.found, "row")}; ` : ""}${n.why}`);
  }
  if (plan.models.length) {
    out.push("", "Models trained on the subject's data — retrain to remove the subject's influence:");
    for (const m of plan.models) out.push(`  ${m.name} v${m.version}  (${m.why.join("; ")})`);
  }
  return out.join("\n");
}

export async function privacyEraseCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    column: { type: "string" },
    value: { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
    resume: { type: "boolean" },
    project: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    io.stdout.write(ERASE_HELP);
    return EXIT.ok;
  }
  if (positionals.length)
    throw new UsageError(
      `privacy erase takes no positional arguments (use --column and --value): ${positionals[0]}`,
    );
  const { findProjectDir, readProjectSettings, ProjectSettingsError } = await import("../project/project");
  const dir = values.project ? resolve(values.project) : findProjectDir(join(process.cwd(), "_"));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--project: ${dir} is not a folder`);
  try {
    readProjectSettings(dir);
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
  const erase = await import("../privacy/erase");
  const { openProjectStore } = await import("../store/open");
  const { currentUser } = await import("../engine/environment");
  const openStore = (create: boolean): MetadataStore | undefined => {
    const settings = readProjectSettings(dir);
    try {
      return create
        ? openProjectStore(dir, settings)
        : openProjectStore(dir, settings, { existingOnly: true });
    } catch (e) {
      throw new erase.EraseError(
        `Cannot open the project's metadata store (the registry, its held-out rows and the audit log): ${(e as Error).message}`,
      );
    }
  };
  const common = { projectDir: dir, actor: currentUser(), openStore };

  if (values.resume) {
    if (values.column !== undefined || values.value !== undefined || values["dry-run"])
      throw new UsageError(
        "--resume completes the erases left unfinished: give it without --column, --value or --dry-run",
      );
    try {
      const plans = await erase.resumeErasures(common);
      if (values.json) io.stdout.write(`${toJson({ resumed: plans })}\n`);
      else if (plans.length === 0) io.stdout.write("No erase was left unfinished.\n");
      else
        for (const plan of plans)
          io.stdout.write(
            `Completed the erase of ${plan.column} (begun ${plan.createdAt}): ${plural(plan.steps.length, "place")}; audit entry ${plan.auditId ?? "—"}.\n`,
          );
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof erase.EraseError)) throw e;
      io.stderr.write(`${e.message}\n`);
      return EXIT.failed;
    }
  }

  if (values.column === undefined || values.column.trim() === "")
    throw new UsageError(
      "--column is required: the column that identifies the subject, e.g. --column customer_id",
    );
  if (values.value === undefined || values.value === "")
    throw new UsageError("--value is required: the subject's value in that column, e.g. --value 123");
  const dryRun = values["dry-run"] === true;
  for (const p of erase.unfinishedPlans(dir))
    io.stderr.write(
      `An erase of ${p.column} begun ${p.createdAt} is unfinished (${erase.planFile(dir, p.id)}): ${dryRun ? "run it again or" : "this run completes it if it is this subject's; else run"} dagwood privacy erase --resume.\n`,
    );
  let result: EraseResult;
  try {
    result = await erase.eraseSubject({ ...common, column: values.column, value: values.value, dryRun });
  } catch (e) {
    if (e instanceof erase.EraseInputError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.invalid;
    }
    if (e instanceof erase.EraseError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.failed;
    }
    throw e;
  }
  const { plan } = result;
  if (values.json) {
    io.stdout.write(
      `${toJson({ dryRun, resumed: result.resumed, nothing: result.nothing, stores: erase.storeCounts(plan), ...plan })}\n`,
    );
    return EXIT.ok;
  }
  if (result.nothing) {
    io.stdout.write(
      `Nothing held ${values.value} in ${plan.column}: no store has the subject's rows, and no model version was trained on them.${dryRun ? "" : plan.auditId ? ` (audit entry ${plan.auditId})` : ""}\n`,
    );
    return EXIT.ok;
  }
  if (result.resumed)
    io.stdout.write(
      `Completed an erase of this subject begun ${(result.earlier ?? plan).createdAt}.${result.earlier ? " Its rows found since were erased too:" : ""}\n`,
    );
  io.stdout.write(`${renderPlan(plan, { dryRun, value: values.value }, erase.STORE_TITLES)}\n`);
  if (plan.steps.length === 0) io.stdout.write("No store holds the subject's rows.\n");
  if (dryRun) io.stdout.write("\nDry run: nothing was changed. Run without --dry-run to erase.\n");
  else {
    const total = plan.steps.reduce((n, st) => n + (st.removed ?? 0), 0);
    io.stdout.write(
      `\nErased ${plural(total, "row")} from ${plural(plan.steps.length, "place")}; audit entry ${plan.auditId ?? "—"} (privacy.erased).\n`,
    );
  }
  return EXIT.ok;
}
