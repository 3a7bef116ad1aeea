/**
 * A block context for running a block's reading code outside a run (the CLI's
 * `expect` and `monitor` read data files with ingest.file's own code): it
 * records nothing, writes no artifacts and has no registry or lineage.
 */
import { resolve } from "node:path";
import type { SqlSession } from "../data/sql";
import type { BlockContext } from "../engine/block";

export function standaloneContext(sql: SqlSession, dir: string, prefix = "cli"): BlockContext {
  const none = () => undefined;
  const refuse = (what: string) => async () => {
    throw new Error(`the command ${what}`);
  };
  let tables = 0;
  return {
    sql,
    projectDir: dir,
    artifactDir: refuse("writes no artifacts"),
    resolvePath: (p) => resolve(dir, p),
    newTable: (port) => `${prefix}_${++tables}_${port}`,
    progress: none,
    metric: none,
    log: none,
    signal: new AbortController().signal,
    runId: "cli",
    nodeId: "cli",
    dataset: none,
    dataTest: none,
    trial: none,
    chosenParams: none,
    environment: none,
    get registry(): never {
      throw new Error("the command reads no registry");
    },
    upstream: none,
    lineage: refuse("has no lineage"),
    // The digest a run records is not needed here: reading a 3M-row file need not hash it too.
    hashFile: async () => "",
  };
}
