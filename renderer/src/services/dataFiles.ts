/** The project's data files (listDataFiles), for the path field and the empty project's template. */
import { useEffect, useState } from "react";
import type { DataFile, DataFileList } from "../../../app/api/api";
import { api } from "../api/client";
import { useCatalog } from "../store/catalog";
import { reportError } from "./errors";

const noFiles: DataFileList = { files: [], truncated: false };

/** Asked once per project, and again whenever `refresh` changes; null until the first answer. */
export function useDataFiles(refresh = 0): DataFileList | null {
  const projectDir = useCatalog((s) => s.project?.dir);
  const [list, setList] = useState<DataFileList | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `refresh` only asks again
  useEffect(() => {
    if (!projectDir) {
      setList(noFiles);
      return;
    }
    let current = true;
    api.listDataFiles({}).then(
      (files) => current && setList(files),
      (e) => {
        if (!current) return;
        setList(noFiles);
        reportError(e, "Could not list the project's data files");
      },
    );
    return () => {
      current = false;
    };
  }, [projectDir, refresh]);
  return list;
}

/** 1536 → "1.5 KB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** Files by the folder they were found in (the project first, then each data folder), in listing order. */
export function byFolder(files: readonly DataFile[]): { folder: string; label: string; files: DataFile[] }[] {
  const groups = new Map<string, DataFile[]>();
  for (const f of files) groups.set(f.folder, [...(groups.get(f.folder) ?? []), f]);
  return [...groups].map(([folder, list]) => ({
    folder,
    label: folder ? `Data folder ${folder}` : "Project",
    files: list,
  }));
}
