// A file chosen in the desktop dialog, written as ingest.file takes a path.
import { isAbsolute, relative, sep } from "node:path";
import { DATA_FILE_EXTENSIONS as READ } from "../app/api/handlers/data-files";

/** Extensions `ingest.file` reads, gzipped too, for the dialog's filter. */
export const DATA_FILE_EXTENSIONS = [...READ, "gz"];

/**
 * `chosen` (an absolute path) relative to `projectDir` with "/" separators, as
 * pipelines store paths so that they work on every OS: "data/x.csv", or
 * "../shared/x.csv" for a data folder beside the project. Whether the
 * project may read it (its folder, or one of `dataFolders`) is checked where
 * every path is, by validation and the run. Undefined when there is no
 * relative path (another drive on Windows).
 */
export function projectRelativePath(projectDir: string, chosen: string, pathSep = sep): string | undefined {
  const rel = relative(projectDir, chosen);
  if (rel === "" || isAbsolute(rel)) return undefined;
  return rel.split(pathSep).join("/");
}
