/**
 * The Deployments view says what the inference log keeps of each served
 * model's personal inputs (issue 19): a version whose lineage tags an input
 * as personal, deployed to a `dagwood serve` the test starts, shows
 * "personal inputs: color hashed · kept 30 days" (what the server says it
 * applies); once dagwood.json says clear, the line adds what the next deploy
 * brings, and after it says clear plainly, in the warning style.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployVersion } from "../app/deploy/deploy";
import { registerTestVersion } from "../app/deploy/testing";
import { createServer } from "../app/serving/server";
import { SqliteMetadataStore } from "../app/store/metadata";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

const TOKEN = "e2e-log-policy-token-0123456789";
test.use({ appEnv: { DAGWOOD_TOKEN_LOGGED: TOKEN, DAGWOOD_LOCAL_SERVE_PORT: "0" } });

function writeSettings(projectDir: string, edit: (settings: Record<string, unknown>) => void) {
  const file = join(projectDir, "dagwood.json");
  const settings = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(settings);
  writeFileSync(file, JSON.stringify(settings, null, 2));
}

test("the Deployments view shows each served model's log policy, and warns when it is clear", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(120_000);
  const repository = mkdtempSync(join(tmpdir(), "dagwood-e2e-logpolicy-"));
  const server = createServer({ repository, token: TOKEN, log: () => {} });
  const url = await server.listen(0, "127.0.0.1");
  const metadata = new SqliteMetadataStore(join(projectDir, ".dagwood", "metadata.sqlite"), { projectDir });
  try {
    writeSettings(projectDir, (s) => {
      s.targets = { ...(s.targets as object), logged: { url, kind: "dagwood" } };
      s.privacy = { models: { customers: { tagged: "hash", retentionDays: 30 } } };
    });
    const personalData = [
      { input: "color", tags: [{ tag: "pii", origin: { dataset: "customers", column: "color" }, via: [] }] },
    ];
    const project = {
      dir: projectDir,
      settings: { targets: { logged: { url, kind: "dagwood" as const } } },
      registry: metadata.registry,
    };
    const deploy = async (ref: number) => {
      const record = await deployVersion({
        project,
        target: "logged",
        name: "customers",
        ref,
        actor: "e2e",
        tokens: { env: { DAGWOOD_TOKEN_LOGGED: TOKEN }, platform: "aix" },
      });
      expect(record.status).toBe("succeeded");
    };
    await registerTestVersion({ metadata, registry: metadata.registry }, { name: "customers", personalData });
    await deploy(1);

    await app.getByTestId("view-deployments").click();
    const line = app.getByTestId("log-policy-customers");
    await expect(line).toHaveText("Inference log:personal inputs: color hashed · kept 30 days");
    await expect(line).toHaveAttribute("data-tagged", "hash");
    await expect(line).toHaveAttribute("data-source", "server");
    await expect(line).not.toHaveClass(/clear/);

    // dagwood.json says clear: the server still hashes, and the line says what comes at the next deploy.
    writeSettings(projectDir, (s) => {
      s.privacy = { models: { customers: { tagged: "clear" } } };
    });
    await app.getByTestId("deployments-refresh").click();
    await expect(app.getByTestId("log-policy-pending-customers")).toContainText(
      "dagwood.json now: personal inputs: color logged IN CLEAR",
    );
    await expect(line).toHaveAttribute("data-tagged", "hash");

    // Deployed again (a new version): the server logs in clear, and the line warns plainly.
    await registerTestVersion(
      { metadata, registry: metadata.registry },
      { name: "customers", personalData, shift: 1 },
    );
    await deploy(2);
    await app.getByTestId("deployments-refresh").click();
    await expect(line).toHaveAttribute("data-tagged", "clear");
    await expect(line).toHaveClass(/clear/);
    await expect(line).toContainText("personal inputs: color logged IN CLEAR");
    await expect(line).toContainText("personal data is stored as sent");
    await expect(app.getByTestId("log-policy-pending-customers")).toHaveCount(0);
    await line.scrollIntoViewIfNeeded();
    await shot(app, testInfo, "deployments-log-policy");
  } finally {
    metadata.close();
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  }
});
