/**
 * Database connections named in dagwood.json (`"connections": { "warehouse": { … } }`), read by the
 * `ingest.database` block and `dagwood connections`. A password never lives here: it comes from
 * `DAGWOOD_SECRET_<NAME>` or the OS keychain (app/ingest/db/secrets.ts).
 */
import { z } from "zod";

/** Connection names: they become part of an environment variable's name (DAGWOOD_SECRET_<NAME>). */
export const CONNECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

const host = z.string().min(1).max(253);
const port = z.number().int().min(1).max(65535);
const ident = z.string().min(1).max(128);

export const ConnectionSettingsSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("postgres"),
    host,
    port: port.default(5432),
    database: ident,
    user: ident,
    /** libpq's sslmode. */
    ssl: z.enum(["disable", "prefer", "require", "verify-full"]).default("prefer"),
    /** Seconds to wait for the server before giving up (never a hang). */
    connectTimeout: z.number().int().min(1).max(300).default(10),
  }),
  z.strictObject({
    kind: z.literal("mysql"),
    host,
    port: port.default(3306),
    database: ident,
    user: ident,
    ssl: z.boolean().default(false),
    connectTimeout: z.number().int().min(1).max(300).default(10),
  }),
  z.strictObject({
    kind: z.literal("sqlite"),
    /** The database file: relative to the project, or absolute inside one of its data folders. */
    path: z.string().min(1).max(4096),
  }),
]);

export type ConnectionSettings = z.infer<typeof ConnectionSettingsSchema>;

export const ConnectionsSchema = z
  .record(
    z.string().regex(CONNECTION_NAME, "a connection name: a letter, then letters, digits or _ (≤ 63)"),
    ConnectionSettingsSchema,
  )
  .default({});
