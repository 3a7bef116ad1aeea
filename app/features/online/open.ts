/**
 * The project's online store, as dagwood.json's `online` names it:
 * `{ "kind": "sqlite" }` (the default: .dagwood/online.sqlite) or
 * `{ "kind": "redis", "url": "redis://host:6379", "keyPrefix"?: "…" }`.
 */
import { basename, join } from "node:path";
import { ensureStoreDir, type ProjectSettings } from "../../project/project";
import type { OnlineStore } from "../types";
import { RedisOnlineStore } from "./redis";
import { SqliteOnlineStore } from "./sqlite";

/** The SQLite online store's file in a project. */
export const ONLINE_SQLITE = "online.sqlite";

export function openOnlineStore(project: { dir: string; settings: ProjectSettings }): OnlineStore {
  const online = project.settings.online;
  if (online.kind === "redis")
    return new RedisOnlineStore({
      url: online.url,
      // Projects sharing a Redis keep apart by name.
      keyPrefix: online.keyPrefix ?? `dagwood:${project.settings.name ?? basename(project.dir)}`,
    });
  return new SqliteOnlineStore(join(ensureStoreDir(project.dir), ONLINE_SQLITE));
}
