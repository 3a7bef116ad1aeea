/**
 * listSuites, loadSuite, saveSuite, suggestSuite, listExpectationTypes: the
 * project's expectation suites (expectations/**.json, Great Expectations
 * suite JSON) and the runner's catalog.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, posix, relative, sep } from "node:path";
import {
  checkSuite,
  EXPECTATIONS,
  formatSuite,
  parseSuite,
  SuiteError,
  type SuiteProblem,
  suggestSuite,
} from "../../data/expectations/index";
import { resolveProjectPath } from "../../engine/paths";
import type { Project } from "../../project/project";
import { writeFileAtomic } from "../../store/atomic-write";
import type { ExpectationSuite } from "../../values/expectations";
import { ApiError, type LoadedSuite, type SuiteSummary } from "../api";
import type { CoreState, Handlers } from "./state";

/** The project folder suite files live in. */
export const SUITES_DIR = "expectations";

/** Suite files listed at most (a folder of generated suites should not stall the app). */
const LIST_LIMIT = 2000;

/**
 * A suite path inside the project's expectations/ folder: relative, ending
 * in .json, never through "..", never through a link leading out (403), and
 * never elsewhere in the project (400).
 */
export function suitePath(p: Project, path: string): string {
  if (isAbsolute(path) || /^[A-Za-z]:/.test(path) || path.split(/[\\/]/).includes("..")) {
    throw new ApiError(
      403,
      `A suite path is relative to the project and stays in ${SUITES_DIR}/, e.g. ${SUITES_DIR}/penguins.json; got ${path}`,
    );
  }
  const normal = posix.normalize(path.replaceAll("\\", "/"));
  if (!normal.toLowerCase().endsWith(".json"))
    throw new ApiError(400, `A suite file name ends with .json; got ${path}`);
  if (normal.split("/").some((part) => part.startsWith(".")))
    throw new ApiError(400, `A suite path names no hidden file or folder (starting with "."); got ${path}`);
  if (!normal.startsWith(`${SUITES_DIR}/`) || normal.length <= SUITES_DIR.length + 1) {
    throw new ApiError(
      400,
      `Suite files live in the project's ${SUITES_DIR}/ folder, e.g. ${SUITES_DIR}/penguins.json; got ${path}`,
    );
  }
  try {
    return resolveProjectPath(p.dir, [p.dir], normal);
  } catch (e) {
    throw new ApiError(403, (e as Error).message);
  }
}

/** The suite a text holds and its problems; a text that is not a suite has none and says why. */
function readSuiteText(
  text: string,
  path: string,
): { suite: ExpectationSuite | null; problems: SuiteProblem[] } {
  try {
    const suite = parseSuite(text, path);
    return { suite, problems: checkSuite(suite) };
  } catch (e) {
    if (!(e instanceof SuiteError)) throw e;
    // A problem of the whole text (not JSON, not an object) reads best as the error's own sentence.
    const fields = e.problems.filter((q) => q.path !== "");
    return { suite: null, problems: fields.length ? fields : [{ path: "", message: e.message }] };
  }
}

/** Every .json file under expectations/, as project paths with "/", sorted. */
async function suiteFiles(p: Project): Promise<string[]> {
  const root = join(p.dir, SUITES_DIR);
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.toLowerCase().endsWith(".json"))
    .map((e) => relative(p.dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .map((rel) => rel.split(sep).join("/"))
    .filter((rel) => !rel.split("/").some((part) => part.startsWith(".")))
    .sort()
    .slice(0, LIST_LIMIT);
}

export function expectationHandlers(
  state: CoreState,
): Handlers<"listSuites" | "loadSuite" | "saveSuite" | "suggestSuite" | "listExpectationTypes"> {
  return {
    async listSuites() {
      const p = state.requireProject();
      const out: SuiteSummary[] = [];
      for (const path of await suiteFiles(p)) {
        let abs: string;
        try {
          abs = suitePath(p, path);
        } catch {
          continue; // a link leading out of the project is not the project's suite
        }
        const text = await readFile(abs, "utf8").catch(() => undefined);
        if (text === undefined) continue;
        const { suite, problems } = readSuiteText(text, path);
        out.push({
          path,
          name: suite?.expectation_suite_name ?? posix.basename(path, ".json"),
          expectations: suite?.expectations.length ?? 0,
          governance: suite?.meta?.dagwood ?? {},
          problems: problems.length,
        });
      }
      return out;
    },
    async loadSuite({ path }): Promise<LoadedSuite> {
      const abs = suitePath(state.requireProject(), path);
      let text: string;
      try {
        text = await readFile(abs, "utf8");
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") throw new ApiError(404, `Cannot read ${path}: no such file`);
        if (code === "EISDIR") throw new ApiError(400, `${path} is a folder, not a suite file`);
        throw e;
      }
      return { path, text, ...readSuiteText(text, path) };
    },
    async saveSuite({ path, suite, create }) {
      const abs = suitePath(state.requireProject(), path);
      const problems = checkSuite(suite);
      if (problems.length) {
        throw new ApiError(
          400,
          `Not saved: the suite has ${problems.length} problem${problems.length === 1 ? "" : "s"}: ${problems.map((q) => `${q.path}: ${q.message}`).join("; ")}`,
        );
      }
      if (create && existsSync(abs))
        throw new ApiError(409, `${path} already exists: open it, or choose another name`);
      await mkdir(dirname(abs), { recursive: true });
      await writeFileAtomic(abs, formatSuite(suite));
      return { path };
    },
    async suggestSuite({ profile, name, margin }) {
      return suggestSuite(profile, { name, margin });
    },
    async listExpectationTypes() {
      return [...EXPECTATIONS];
    },
  };
}
