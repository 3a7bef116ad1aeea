/**
 * For serving tests: temporary folders and servers that a test file makes,
 * the servers closed after each test and the folders removed after the file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach } from "vitest";
import type { DagwoodServer } from "./server";

export function testServers(prefix: string): {
  tempDir: () => string;
  track: (server: DagwoodServer) => DagwoodServer;
  /** Closes a tracked server now (a restart within a test). */
  close: (server: DagwoodServer) => Promise<void>;
} {
  const dirs: string[] = [];
  const servers: DagwoodServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    tempDir: () => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    track: (server) => {
      servers.push(server);
      return server;
    },
    close: async (server) => {
      servers.splice(servers.indexOf(server), 1);
      await server.close();
    },
  };
}
