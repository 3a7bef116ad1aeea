/**
 * A connection's password: `DAGWOOD_SECRET_<NAME>` (the connection's name upper-cased), else the OS
 * keychain (service dagwood, attribute connection, the connection's name), else none (the server
 * trusts the user: PostgreSQL trust/peer authentication, a SQLite file). A password never lives in
 * dagwood.json, and no message we build ever contains it (see `redact`).
 */
import { type KeychainRun, keychainSecret } from "../../project/keychain";

export const secretVariable = (name: string): string => `DAGWOOD_SECRET_${name.toUpperCase()}`;

export interface SecretOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  run?: KeychainRun;
}

export function connectionSecret(name: string, opts: SecretOptions = {}): string | null {
  const env = opts.env ?? process.env;
  const fromEnv = env[secretVariable(name)];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return keychainSecret("connection", name, opts.platform ?? process.platform, opts.run);
}

/** Replaces every occurrence of the secret in `text` (a last fence: our messages never include it). */
export function redact(text: string, secret: string | null): string {
  return secret ? text.split(secret).join("***") : text;
}
