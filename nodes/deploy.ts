import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { V2Client } from "../app/deploy/client";
import { type DeployProgress, deployVersion, servingVersion } from "../app/deploy/deploy";
import { DeployError, resolveTarget } from "../app/deploy/targets";
import { BlockError, defineBlock } from "../app/engine/block";
import { currentUser } from "../app/engine/environment";
import { readProjectSettings, TARGET_NAME } from "../app/project/project";

const params = z.object({
  target: z
    .string()
    .regex(TARGET_NAME, "a target name from dagwood.json: a letter, then letters, digits, _ - (e.g. staging)")
    .describe("The deploy target, as named in the project's dagwood.json (its token: DAGWOOD_TOKEN_<TARGET>)")
    .meta({ order: 1, label: "deploy target" }),
  timeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(3_600_000)
    .default(60_000)
    .describe("How long to wait for the uploaded version to be ready, in milliseconds")
    .meta({ order: 2, advanced: true }),
});

const PHASES: Record<DeployProgress["phase"], number> = {
  upload: 0.1,
  ready: 0.4,
  parity: 0.6,
  promote: 0.9,
  rollback: 0.9,
};

export default defineBlock({
  kind: "deploy",
  version: 1,
  title: "Deploy model",
  category: "Deploy",
  description:
    "Pushes a registered model version to a named V2 inference server (dagwood serve, Triton, KServe), waits until it is ready, checks that it answers the registry's held-out rows exactly as the registry predicts (within 1e-9, relative above 1), and records the deployment in the audit log. A mismatch or any failure rolls the target back to the version it served before and fails the run.",
  inputs: { version: { type: "modelVersion", description: "The registered version to deploy" } },
  outputs: { deployment: { type: "deployment", description: "The deployment record" } },
  params,
  // The target's state is part of the key: a run deploys again whenever what the
  // target serves has changed since (a rollback, another deploy, a restart without
  // it). An unreachable target gives a key never seen before, so the node runs and
  // its error says why; a cached deploy is therefore one the target still serves.
  async externalFingerprint(ctx, p) {
    try {
      const target = resolveTarget(readProjectSettings(ctx.projectDir), p.target);
      const client = new V2Client(target, { timeoutMs: 5000 });
      const names = (await client.repositoryIndex(true)).map((r) => r.name);
      const serving: [string, number | null][] = [];
      for (const name of [...new Set(names)].sort()) {
        serving.push([name, (await servingVersion(client, target.kind, name)).version]);
      }
      return createHash("sha256")
        .update(JSON.stringify([target.url, target.kind, serving]))
        .digest("hex");
    } catch {
      return `unknown:${randomUUID()}`;
    }
  },
  async run(ctx, inputs, p) {
    const input = inputs.version;
    if (!input)
      throw new BlockError('Input "version" is not connected: connect a register block\'s version.');
    if (input.type !== "modelVersion") {
      throw new BlockError(`Input "version" must be a model version, got ${input.type}`);
    }
    const ref = input.data;
    const project = {
      dir: ctx.projectDir,
      settings: readProjectSettings(ctx.projectDir),
      registry: ctx.registry,
    };
    try {
      const record = await deployVersion({
        project,
        target: p.target,
        name: ref.name,
        ref: ref.version,
        actor: currentUser(),
        readyTimeoutMs: p.timeoutMs,
        onProgress: (progress) => ctx.progress(PHASES[progress.phase], progress.message),
      });
      const parity = record.parity!;
      ctx.metric("parity_max_abs_diff", parity.maxAbsDiff);
      ctx.metric("parity_rows", parity.rows);
      ctx.log(
        `Deployed ${ref.name} v${ref.version} to ${p.target} (${record.url}); parity on ${parity.rows} ${parity.source} rows, max |diff| ${parity.maxAbsDiff}${record.previous !== null ? `; v${record.previous} served before` : ""}.`,
      );
      return { deployment: { type: "deployment", data: record } };
    } catch (e) {
      if (e instanceof DeployError) throw new BlockError(e.message);
      throw e;
    }
  },
});
