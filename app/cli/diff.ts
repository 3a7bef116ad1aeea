/**
 * Reading a pipeline change: `dagwood diff A B` (a semantic diff of two
 * pipeline files, either of which may be `git:REV:path`), `dagwood diff
 * --textconv FILE` (the text form `git diff` compares, for the diff driver)
 * and `dagwood merge BASE OURS THEIRS [PATH]` (the git merge driver). Exit
 * codes as diff(1) and git's merge drivers: diff 0 same, 1 different, 2
 * trouble; merge 0 clean, 1 conflicts written into the file, 2 trouble.
 */
import type { PipelineDiff } from "../pipeline/diff";
import { loadPipelineFile, savePipelineFile } from "../pipeline/file";
import type { Pipeline } from "../pipeline/schema";
import { formatProblems, type Problem, parsePipelineText } from "../pipeline/validate";
import { EXIT, type Io, parse, UsageError } from "./args";

/** What `dagwood diff --json` prints: the diff (app/pipeline/diff.ts) and the two files as given. */
export type DiffJson = { old: string; new: string } & PipelineDiff;

/** How long `git show` may take to give one file. */
const GIT_SHOW_MS = 30_000;

/** `git:REV:path` → the file at that revision, as `git show REV:path` gives it (a path from the repository root, or ./path from here). */
export function parseGitSpec(spec: string): { rev: string; path: string } | undefined {
  if (!spec.startsWith("git:")) return undefined;
  const rest = spec.slice(4);
  const colon = rest.indexOf(":");
  if (colon <= 0 || colon === rest.length - 1)
    throw new UsageError(
      `"${spec}": a file at a revision is git:REV:path, e.g. git:HEAD:pipelines/train.dag.json`,
    );
  const rev = rest.slice(0, colon);
  // A revision is never an option to git (`git:--output=FILE:x` would have git show write FILE).
  if (rev.startsWith("-"))
    throw new UsageError(
      `"${spec}": "${rev}" is not a revision (it starts with "-"); name a branch, tag or commit`,
    );
  return { rev, path: rest.slice(colon + 1) };
}

async function gitShow(rev: string, path: string): Promise<{ text?: string; error?: string }> {
  const { runGit } = await import("../project/git");
  const shown = await runGit(["show", "--end-of-options", `${rev}:${path}`], { timeoutMs: GIT_SHOW_MS });
  return shown.ok ? { text: shown.out } : { error: shown.error };
}

/** A pipeline from a file or `git:REV:path`, or the problems that make it not one. */
export async function readPipelineSource(
  spec: string,
): Promise<{ pipeline?: Pipeline; problems: Problem[] }> {
  const git = parseGitSpec(spec);
  if (!git) return loadPipelineFile(spec);
  const shown = await gitShow(git.rev, git.path);
  if (shown.text === undefined)
    return { problems: [{ path: "$", message: `git show ${git.rev}:${git.path} failed: ${shown.error}` }] };
  return parsePipelineText(shown.text);
}

function notAPipeline(io: Io, spec: string, problems: Problem[]) {
  io.stderr.write(`${spec} is not a pipeline Dagwood can read:\n${formatProblems(problems)}\n`);
}

const wantsColor = (io: Io) =>
  Boolean(io.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";

export async function diffCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    json: { type: "boolean" },
    textconv: { type: "boolean" },
  });
  const { diffPipelines, renderDiffText, renderPipelineText } = await import("../pipeline/diff");
  if (values.textconv) {
    if (positionals.length !== 1)
      throw new UsageError("diff --textconv takes exactly one file (git gives it)");
    const file = positionals[0]!;
    const loaded = await loadPipelineFile(file);
    if (loaded.pipeline) {
      io.stdout.write(renderPipelineText(loaded.pipeline));
      return EXIT.ok;
    }
    if (loaded.text === undefined) {
      notAPipeline(io, file, loaded.problems);
      return EXIT.invalid;
    }
    // A broken file in history still diffs: as its own text, under a line saying why it is not read as a pipeline.
    io.stdout.write(
      `(not a readable pipeline: ${loaded.problems[0]?.message ?? "unknown problem"})\n${loaded.text}`,
    );
    return EXIT.ok;
  }
  if (positionals.length !== 2)
    throw new UsageError("diff takes two pipelines: dagwood diff OLD NEW (each a file or git:REV:path)");
  const [oldSpec, newSpec] = positionals as [string, string];
  const [a, b] = await Promise.all([readPipelineSource(oldSpec), readPipelineSource(newSpec)]);
  let trouble = false;
  for (const [spec, read] of [
    [oldSpec, a],
    [newSpec, b],
  ] as const) {
    if (read.pipeline) continue;
    notAPipeline(io, spec, read.problems);
    trouble = true;
  }
  if (trouble || !a.pipeline || !b.pipeline) return EXIT.invalid;
  const diff = diffPipelines(a.pipeline, b.pipeline);
  const json: DiffJson = { old: oldSpec, new: newSpec, ...diff };
  if (values.json) io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else io.stdout.write(renderDiffText(diff, { old: oldSpec, new: newSpec }, { color: wantsColor(io) }));
  return diff.same ? EXIT.ok : EXIT.failed;
}

export async function mergeCommand(args: string[], io: Io): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length < 3 || positionals.length > 4)
    throw new UsageError("merge takes BASE OURS THEIRS [PATH] (git gives them as %O %A %B %P)");
  const [baseFile, oursFile, theirsFile] = positionals as [string, string, string];
  const shown = positionals[3] ?? oursFile;
  const [{ mergePipelines, emptyPipeline }, { serializePipeline }] = await Promise.all([
    import("../pipeline/merge"),
    import("../pipeline/canonical"),
  ]);
  const [base, ours, theirs] = await Promise.all([
    loadPipelineFile(baseFile),
    loadPipelineFile(oursFile),
    loadPipelineFile(theirsFile),
  ]);
  let trouble = false;
  for (const [role, file, read] of [
    ["ours", oursFile, ours],
    ["theirs", theirsFile, theirs],
    ["base", baseFile, base],
  ] as const) {
    // Both sides adding the file gives an empty base.
    if (read.pipeline || (role === "base" && read.text?.trim() === "")) continue;
    io.stderr.write(
      `dagwood merge: ${shown}: ${role} (${file}) is not a pipeline Dagwood can read, so it cannot be merged; ${oursFile} is left as ours:\n${formatProblems(read.problems)}\n`,
    );
    trouble = true;
  }
  if (trouble || !ours.pipeline || !theirs.pipeline) return EXIT.invalid;
  const { pipeline, conflicts } = mergePipelines(
    base.pipeline ?? emptyPipeline(ours.pipeline.name),
    ours.pipeline,
    theirs.pipeline,
  );
  // A merged file is written canonically, so committing it re-saves to the same bytes.
  if (serializePipeline(pipeline) !== ours.text) await savePipelineFile(oursFile, pipeline);
  if (!conflicts.length) {
    io.stderr.write(`dagwood merge: ${shown}: merged cleanly\n`);
    return EXIT.ok;
  }
  io.stderr.write(
    `dagwood merge: ${shown}: ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}, written into its "conflicts" (the file keeps the side named "kept"):\n`,
  );
  for (const c of conflicts) {
    const where = c.node === undefined ? c.path : c.path === "" ? `node ${c.node}` : `${c.node}.${c.path}`;
    const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v));
    io.stderr.write(
      c.path === ""
        ? `  ${where}: deleted on one side, changed on the other; kept the changed node (${c.kept})\n`
        : `  ${where}: ours ${show(c.ours)}, theirs ${show(c.theirs)}, base ${show(c.base)}\n`,
    );
  }
  io.stderr.write(
    `Open it in Dagwood to pick a side for each, or edit the values and delete the "conflicts" entries; then git add ${shown}.\n`,
  );
  return EXIT.failed;
}
