/**
 * pipelineChanges, gitRevisions: the open pipeline read against its version
 * at a git revision (a branch, a tag, a commit), for the editor's "Changes"
 * overlay; the same semantic diff as `dagwood diff git:REV:path path`
 * (app/pipeline/diff.ts). git runs through execFile (no shell), in the
 * pipeline file's folder, with the revision checked before any use: never an
 * option (`--end-of-options`, and the Api refuses a leading "-"), and peeled to
 * a commit by `rev-parse --verify`. The file is named `./name` from its own
 * folder, which pipelinePath keeps inside the project.
 */
import { basename, dirname } from "node:path";
import { diffPipelines } from "../../pipeline/diff";
import { loadPipelineFile } from "../../pipeline/file";
import type { Pipeline } from "../../pipeline/schema";
import { type Problem, parsePipelineObject, parsePipelineText } from "../../pipeline/validate";
import { type GitResult, runGit } from "../../project/git";
import { ApiError, type GitRevisions, type PipelineChanges } from "../api";
import { pipelinePath } from "./pipelines";
import type { CoreState, Handlers } from "./state";

/** How long one git command may take. */
const GIT_MS = 20_000;
const RECENT_COMMITS = 20;
const MAX_BRANCHES = 50;

/** git in `cwd`, reading only (app/project/git.ts). */
const git = (cwd: string, args: string[]): Promise<GitResult> =>
  runGit(args, { cwd, timeoutMs: GIT_MS, readOnly: true });

/** Null when `dir` is in a git repository, else what to tell the user. */
async function notInRepository(dir: string): Promise<string | null> {
  const top = await git(dir, ["rev-parse", "--show-toplevel"]);
  if (top.ok) return null;
  if (top.missing)
    return "git is not installed (or not on PATH), so there is no history to compare with. Install git to see a pipeline's changes.";
  if (/not a git repository/i.test(top.error))
    return "This project is not in a git repository, so there is no commit to compare with. Run `git init` in the project folder and commit the pipeline to see its changes here.";
  return `git cannot read this project's repository: ${top.error}`;
}

/** The commit a revision names, or null. `--end-of-options`: the revision is never read as an option. */
async function resolveCommit(dir: string, rev: string): Promise<string | null> {
  const r = await git(dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]);
  return r.ok ? r.out.trim() : null;
}

const problemText = (problems: Problem[]) =>
  problems
    .slice(0, 3)
    .map((p) => `${p.path}: ${p.message}`)
    .join("; ");

export function changesHandlers(state: CoreState): Handlers<"pipelineChanges" | "gitRevisions"> {
  return {
    async pipelineChanges({ path, base, document }) {
      // The Api refused a revision starting with "-"; checked again here for any other caller.
      if (base.startsWith("-")) throw new ApiError(400, `"${base}" is not a revision (it starts with "-")`);
      const abs = pipelinePath(state.requireProject(), path);
      const dir = dirname(abs);
      const none = (unavailable: string, commit: string | null = null): PipelineChanges => ({
        base: { rev: base, commit, label: base },
        unavailable,
        diff: null,
        basePipeline: null,
      });
      const outside = await notInRepository(dir);
      if (outside) return none(outside);
      const commit = await resolveCommit(dir, base);
      if (!commit) {
        if (base === "HEAD")
          return none(
            "The repository has no commits yet. Commit the pipeline (git add, git commit) to compare it with HEAD.",
          );
        return none(`"${base}" is not a branch, tag or commit of this repository. Pick one from the list.`);
      }
      // A commit picked from the list is named by its short hash alone; a branch or HEAD with it.
      const short = commit.slice(0, 7);
      const label = commit.startsWith(base) && base.length >= 7 ? short : `${base} (${short})`;
      const spec = `${commit}:./${basename(abs)}`;
      const shown = await git(dir, ["show", "--end-of-options", spec]);
      if (!shown.ok) {
        return {
          ...none(
            `${path} is not committed at ${label}: it is new since then. Commit it (git add, git commit) to see later changes, or pick another base.`,
            commit,
          ),
          base: { rev: base, commit, label },
        };
      }
      const old = parsePipelineText(shown.out);
      if (!old.pipeline)
        return {
          ...none(
            `${path} at ${label} is not a pipeline Dagwood can read (${problemText(old.problems)}).`,
            commit,
          ),
          base: { rev: base, commit, label },
        };
      let current: Pipeline | undefined;
      let problems: Problem[];
      if (document) ({ pipeline: current, problems } = parsePipelineObject(document));
      else ({ pipeline: current, problems } = await loadPipelineFile(abs));
      if (!current)
        return {
          ...none(
            `The pipeline as it is now cannot be compared: ${problemText(problems)}. Fix it (see Problems) and the changes show here.`,
            commit,
          ),
          base: { rev: base, commit, label },
        };
      return {
        base: { rev: base, commit, label },
        unavailable: null,
        diff: diffPipelines(old.pipeline, current),
        basePipeline: old.pipeline as unknown as Record<string, unknown>,
      };
    },

    async gitRevisions({ path }) {
      const project = state.requireProject();
      const abs = path ? pipelinePath(project, path) : null;
      const dir = abs ? dirname(abs) : project.dir;
      const outside = await notInRepository(dir);
      const empty: GitRevisions = {
        repository: false,
        message: outside,
        current: null,
        branches: [],
        commits: [],
      };
      if (outside) return empty;
      const [head, refs, log] = await Promise.all([
        git(dir, ["symbolic-ref", "--quiet", "--short", "HEAD"]),
        git(dir, [
          "for-each-ref",
          `--count=${MAX_BRANCHES}`,
          "--sort=-committerdate",
          "--format=%(refname:short)%00%(objectname)%00%(committerdate:iso-strict)",
          "refs/heads",
          "refs/remotes",
        ]),
        // A repository with no commits yet has no log: no commits to list.
        git(dir, [
          "log",
          `-n${RECENT_COMMITS}`,
          "--format=%H%x00%h%x00%aI%x00%an%x00%s",
          "--end-of-options",
          "HEAD",
          ...(abs ? ["--", `./${basename(abs)}`] : []),
        ]),
      ]);
      const lines = (r: GitResult) => (r.ok ? r.out.split("\n").filter(Boolean) : []);
      return {
        repository: true,
        message: null,
        current: head.ok ? head.out.trim() || null : null,
        branches: lines(refs)
          .map((l) => l.split("\0"))
          // origin/HEAD is an alias of a branch listed anyway.
          .filter(([name]) => name && !name.endsWith("/HEAD"))
          .map(([name, commit, date]) => ({ name: name!, commit: commit ?? "", date: date ?? "" })),
        commits: lines(log).map((l) => {
          const [commit, short, date, author, subject] = l.split("\0");
          return {
            commit: commit ?? "",
            short: short ?? "",
            date: date ?? "",
            author: author ?? "",
            subject: subject ?? "",
          };
        }),
      };
    },
  };
}
