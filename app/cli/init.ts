/**
 * `dagwood init --ci github|gitlab`: see init-ci.ts.
 *
 * `dagwood init --git [--project DIR]`: makes git read pipeline files through
 * Dagwood. It adds `*.dag.json diff=dagwood merge=dagwood` to the
 * repository's .gitattributes (once; what is there stays) and sets, in the
 * repository's own config, the diff driver's textconv (`dagwood diff
 * --textconv`: the text form `git diff` and `git log -p` compare) and the
 * merge driver (`dagwood merge %O %A %B %P`). See gitattributes(5),
 * "Performing text diffs of binary files" and "Defining a custom merge driver".
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { EXIT, type Io, parse, UsageError } from "./args";

export const GITATTRIBUTES_LINE = "*.dag.json diff=dagwood merge=dagwood";

function git(args: string[], cwd: string): Promise<{ ok: boolean; out: string; err: string }> {
  return new Promise((done) => {
    execFile(
      "git",
      args,
      { cwd, timeout: 30_000, windowsHide: true, encoding: "utf8" },
      (error, out, err) => {
        const missing = (error as NodeJS.ErrnoException | null)?.code === "ENOENT";
        done({
          ok: !error,
          out: out.trim(),
          err: missing ? "git is not installed (or not on PATH)" : err.trim(),
        });
      },
    );
  });
}

/** A word for `sh -c`: single-quoted unless it is plainly safe. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command that runs this dagwood: this Node and this script when started
 * as `bin/dagwood` (also through node_modules/.bin, a link to it), so git
 * runs the same checkout or install; `npx dagwood` otherwise.
 */
export function dagwoodCommand(script = process.argv[1]): string {
  if (script && /^dagwood(\.mjs)?$/.test(basename(script)) && existsSync(script))
    return `${shellWord(process.execPath)} ${shellWord(realpathSync(script))}`;
  return "npx dagwood";
}

/** .gitattributes with our line added, or undefined when a line already sets both drivers for *.dag.json. */
export function withDagwoodAttributes(current: string): string | undefined {
  const present = current.split(/\r?\n/).some((line) => {
    const words = line.trim().split(/\s+/);
    return words[0] === "*.dag.json" && words.includes("diff=dagwood") && words.includes("merge=dagwood");
  });
  if (present) return undefined;
  const sep = current === "" || current.endsWith("\n") ? "" : "\n";
  return `${current}${sep}${GITATTRIBUTES_LINE}\n`;
}

export async function initCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    git: { type: "boolean" },
    ci: { type: "string" },
    project: { type: "string" },
    force: { type: "boolean" },
    pipeline: { type: "string" },
    model: { type: "string" },
    "production-target": { type: "string" },
    branch: { type: "string" },
  });
  if (positionals.length) throw new UsageError("init takes no positional arguments (use --project DIR)");
  const ciOnly = ["force", "pipeline", "model", "production-target", "branch"].filter(
    (k) => values[k as keyof typeof values] !== undefined,
  );
  if (values.ci === undefined && ciOnly.length)
    throw new UsageError(`--${ciOnly[0]} goes with --ci github|gitlab`);
  if (!values.git && values.ci === undefined)
    throw new UsageError("init needs what to set up: dagwood init --git, or dagwood init --ci github|gitlab");
  if (values.ci !== undefined && values.ci !== "github" && values.ci !== "gitlab")
    throw new UsageError(`--ci "${values.ci}": write --ci github or --ci gitlab`);
  const dir = resolve((values.project as string) ?? ".");
  const what = values.ci === undefined ? "--git" : `--ci ${values.ci}`;
  const top = await git(["rev-parse", "--show-toplevel"], dir);
  if (!top.ok) {
    io.stderr.write(
      `${dir} is not inside a git repository (${top.err || "git rev-parse failed"}). Run git init there first, then dagwood init ${what}.\n`,
    );
    return EXIT.failed;
  }
  const root = top.out;
  if (values.git) {
    const code = await initGit(root, io);
    if (code !== EXIT.ok) return code;
  }
  if (values.ci === undefined) return EXIT.ok;
  const { initCi } = await import("./init-ci");
  return initCi(root, dir, values.ci, values, io);
}

async function initGit(root: string, io: Io): Promise<number> {
  const attributes = join(root, ".gitattributes");
  const current = existsSync(attributes) ? readFileSync(attributes, "utf8") : "";
  const next = withDagwoodAttributes(current);
  if (next !== undefined) writeFileSync(attributes, next);
  const self = dagwoodCommand();
  const settings: [string, string][] = [
    ["diff.dagwood.textconv", `${self} diff --textconv`],
    ["merge.dagwood.name", "Dagwood pipeline merge (nodes, params and edges; layout never conflicts)"],
    ["merge.dagwood.driver", `${self} merge %O %A %B %P`],
  ];
  for (const [key, value] of settings) {
    const set = await git(["config", "--local", key, value], root);
    if (!set.ok) {
      io.stderr.write(`git config ${key} failed: ${set.err}\n`);
      return EXIT.failed;
    }
  }
  io.stdout.write(
    `${next === undefined ? "Already in" : "Added to"} ${attributes}: ${GITATTRIBUTES_LINE}\n` +
      "Set in the repository's config (git config --local: this clone only; each clone runs dagwood init --git once):\n" +
      settings.map(([k, v]) => `  ${k} = ${v}\n`).join("") +
      "git diff and git log -p now show pipeline files as nodes, params and inputs (git diff --no-textconv for the raw JSON);\n" +
      "git merge merges them with dagwood merge, writing conflicts into the file for the app to show.\n" +
      (next === undefined ? "" : "Commit .gitattributes so the team's clones use the drivers too.\n"),
  );
  return EXIT.ok;
}
