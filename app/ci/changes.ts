/**
 * What changed in a project's pipelines since a base revision, for `dagwood
 * ci`'s summary: since the merge base of HEAD and `--base REV` (default
 * origin/main), the branch point of a pull request; each pipeline is read at
 * that commit with `git show` and compared by app/pipeline/diff.ts.
 */
import { realpathSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { changeCount, diffPipelines, renderDiffText } from "../pipeline/diff";
import { parsePipelineText } from "../pipeline/validate";
import { runGit } from "../project/git";

/** git in the project's folder, as `{ out }` or `{ error }`. */
async function git(cwd: string, args: string[]): Promise<{ out?: string; error?: string }> {
  const r = await runGit(args, { cwd });
  return r.ok ? { out: r.out } : { error: r.error };
}

export interface PipelineChange {
  /** Relative to the project. */
  pipeline: string;
  /** "new": not at the base; "same": no change; "changed": `text` lists the changes; "unreadable": `text` says why. */
  state: "new" | "same" | "changed" | "unreadable";
  text?: string;
  /** Changes listed (layout not counted). */
  changes?: number;
}

export type ChangesResult =
  | { base: string; commit: string; pipelines: PipelineChange[] }
  | { unavailable: string };

/**
 * The changes of `pipelines` (paths relative to `projectDir`) since the
 * branch point of HEAD and `base` (default origin/main): their merge base, as
 * a pull request's diff is read, so changes made on the base branch since do
 * not show as this branch's. When there is no git repository or no such
 * base, says why instead.
 */
export async function pipelineChanges(
  projectDir: string,
  pipelines: readonly string[],
  base?: string,
): Promise<ChangesResult> {
  const top = await git(projectDir, ["rev-parse", "--show-toplevel"]);
  if (top.out === undefined) return { unavailable: `not in a git repository (${top.error})` };
  const root = top.out.trim();
  const rev = base ?? "origin/main";
  const resolved = await git(projectDir, [
    "rev-parse",
    "--verify",
    "--quiet",
    "--end-of-options",
    `${rev}^{commit}`,
  ]);
  if (resolved.out === undefined)
    return {
      unavailable: base
        ? `--base ${base} is not a commit of this repository`
        : "no base to compare with: there is no origin/main here (fetch it, or pass --base REV)",
    };
  const mb = await git(projectDir, ["merge-base", "HEAD", resolved.out.trim()]);
  if (mb.out === undefined)
    return {
      unavailable: `HEAD and ${rev} have no common commit (${mb.error || "a shallow clone? fetch with history, e.g. fetch-depth: 0"})`,
    };
  const commit = mb.out.trim();
  const out: PipelineChange[] = [];
  for (const pipeline of pipelines) {
    const { loadPipelineFile } = await import("../pipeline/file");
    const now = await loadPipelineFile(join(projectDir, pipeline));
    // git names files from its top folder, with links resolved (a temporary folder on macOS is under a link).
    const inRepo = relative(realpathSync(root), join(realpathSync(projectDir), pipeline))
      .split(sep)
      .join("/");
    const before = await git(projectDir, ["show", "--end-of-options", `${commit}:${inRepo}`]);
    if (before.out === undefined) {
      out.push({ pipeline, state: "new" });
      continue;
    }
    const old = parsePipelineText(before.out);
    if (!old.pipeline || !now.pipeline) {
      out.push({
        pipeline,
        state: "unreadable",
        text: `${!old.pipeline ? "at the base" : "now"} it is not a pipeline Dagwood can read`,
      });
      continue;
    }
    const d = diffPipelines(old.pipeline, now.pipeline);
    if (d.same) out.push({ pipeline, state: "same", changes: 0 });
    else
      out.push({
        pipeline,
        state: "changed",
        changes: changeCount(d),
        text: renderDiffText(d, { old: commit.slice(0, 12), new: "now" }),
      });
  }
  return { base: rev, commit, pipelines: out };
}
