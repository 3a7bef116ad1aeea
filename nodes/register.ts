import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ArtifactError } from "../app/artifacts/location";
import { projectArtifactLocation, stageVersionFiles } from "../app/artifacts/version-files";
import { sampleHeldout } from "../app/deploy/heldout";
import {
  type BlockContext,
  BlockError,
  type BlockInputs,
  defineBlock,
  requireTable,
} from "../app/engine/block";
import type { ModelValue } from "../app/engine/ports";
import { checkServiceInputs, ServiceInputsError, serviceFingerprint } from "../app/features/service-inputs";
import { FEATURE_NAME } from "../app/features/types";
import { storedDecision } from "../app/ml/decision";
import type { AnyDagwoodModel } from "../app/ml/model";
import { withDecisionThreshold } from "../app/ml/onnx/decision";
import { checkNewModelName } from "../app/store/registry";
import { ALIAS_NAME, MODEL_NAME, RegistryError } from "../app/store/types";
import { deprecationNotice } from "../app/values/governance";
import type { ModelVersionRef, VersionDecision } from "../app/values/registry";
import { requireModel } from "./model-blocks";

const params = z.object({
  name: z
    .string()
    .regex(
      MODEL_NAME,
      "a model name: a letter or digit, then letters, digits, _ - . (at most 128), e.g. penguins-classifier",
    )
    // The registry's own rule for a name that becomes a folder (no Windows device names such as CON, no
    // trailing "."), so validate refuses what the run would.
    .superRefine((name, check) => {
      if (!MODEL_NAME.test(name)) return;
      try {
        checkNewModelName(name);
      } catch (e) {
        check.addIssue({ code: "custom", message: (e as Error).message });
      }
    })
    .describe("The registered model's name; a new version is added under it")
    .meta({ order: 1, label: "model name" }),
  alias: z
    .string()
    .regex(ALIAS_NAME, "an alias: a letter, then letters, digits, _ - (at most 64), e.g. challenger")
    .optional()
    .describe('Point this alias at the new version, e.g. "challenger" (leave empty for none)')
    .meta({ order: 2 }),
  description: z.string().max(10_000).optional().describe("A note kept with the version").meta({ order: 3 }),
  owner: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("Who owns the registered model, e.g. data-team (leave empty to keep it as it is)")
    .meta({ order: 4, advanced: true }),
  modelDescription: z
    .string()
    .max(10_000)
    .optional()
    .describe("The registered model's description (leave empty to keep it as it is)")
    .meta({ order: 5, advanced: true }),
  featureService: z
    .string()
    .regex(
      FEATURE_NAME,
      "a feature service's name, as in the project's features/*.json, e.g. driver_activity",
    )
    .optional()
    .describe(
      "A feature service (features/*.json) whose features fill the model's inputs: the served model can then be called with entity keys only (V2 parameters.entities). Every model input must be one of its features or join keys. The same model with another service is another version.",
    )
    .meta({ order: 6, label: "feature service" }),
});

/** The service check as a block error (the message says what to do). */
function checkService(projectDir: string, service: string, inputs: readonly string[]): void {
  try {
    checkServiceInputs(projectDir, service, inputs);
  } catch (e) {
    if (e instanceof ServiceInputsError) throw new BlockError(e.message);
    throw e;
  }
}

function modelInput(inputs: BlockInputs): ModelValue & { model: AnyDagwoodModel } {
  const model = requireModel(inputs, ": connect a train block's model output.");
  return { ...(inputs.model as ModelValue), model };
}

/** The report's finite numeric metrics (undefined ones are null in a report, and are left out). */
function metricsOf(inputs: BlockInputs): Record<string, number> {
  const report = inputs.report;
  if (!report) return {};
  if (report.type !== "report") throw new BlockError(`Input "report" must be a report, got ${report.type}`);
  const metrics = (report.data as { metrics?: unknown } | null)?.metrics;
  if (!metrics || typeof metrics !== "object") {
    throw new BlockError(
      `The report (kind ${JSON.stringify((report.data as { kind?: unknown } | null)?.kind)}) has no metrics to keep with the version. Connect an evaluate report, or leave "report" unconnected.`,
    );
  }
  return Object.fromEntries(
    Object.entries(metrics).filter(
      (e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1]),
    ),
  );
}

/**
 * The decision rule the evaluation report scored a binary model with (its positive class and threshold),
 * which the version keeps so that it is served labelling as it was judged; undefined without a report
 * and for other tasks (labelled by the most probable class).
 */
function decisionOf(inputs: BlockInputs, model: AnyDagwoodModel): VersionDecision | undefined {
  const report = inputs.report?.type === "report" ? inputs.report.data : undefined;
  const { kind, threshold, positiveClass } = (report ?? {}) as Record<string, unknown>;
  if (model.task !== "binary" || kind !== "evaluation" || typeof threshold !== "number") return undefined;
  if (positiveClass === undefined || positiveClass === null) return undefined;
  return { threshold, positiveClass: String(positiveClass) };
}

/**
 * The reference profile the train block kept beside the model (app/monitoring/reference.ts), or
 * undefined, said in the log, when the model has none: drift checks against the version then need a
 * reference table.
 */
function referenceProfileOf(ctx: BlockContext, model: AnyDagwoodModel): string | undefined {
  const info = model.referenceProfile;
  const path = info ? resolve(ctx.projectDir, info.file) : undefined;
  if (path && existsSync(path)) return path;
  ctx.log(
    info
      ? `The model's reference profile ${info.file} is gone (the run's artifacts were removed), so this version keeps none: \`dagwood monitor drift --model\` will need --reference. Run the train node again (dagwood run --no-cache) to keep one.`
      : "The model has no reference profile (it was trained before Dagwood kept one), so this version keeps none: `dagwood monitor drift --model` will need --reference. Run the train node again (dagwood run --no-cache) to keep one.",
    "warn",
  );
  return undefined;
}

export default defineBlock({
  kind: "register",
  version: 1,
  title: "Register model",
  category: "Deploy",
  description:
    "Adds the model to the project's registry as a new version of a named model, with its ONNX file, signature, the evaluation metrics, ONNX parity and its lineage (the run, the datasets by digest, the params); optionally points an alias such as challenger at it, and keeps up to 200 held-out rows with their predictions for deploy checks. A binary model evaluated at a threshold keeps it (and its positive class): the version's model.onnx labels by it, as evaluate scored and predict labels. Registering the same model again (with the same feature service and threshold) returns the existing version. With a feature service, the served model can be called with entity keys only; the service must provide every model input.",
  inputs: {
    model: { type: "model", description: "A trained model, with its ONNX export" },
    report: {
      type: "report",
      optional: true,
      description: "Its evaluation report: the metrics are kept with the version",
    },
    data: {
      type: "table",
      optional: true,
      description:
        "Held-out rows (the test table): up to 200 are kept with the version, with the model's predictions, and a deploy checks the served model against them",
    },
  },
  outputs: { version: { type: "modelVersion", description: "The registered version" } },
  params,
  // A cached version reference is only good while the registry still holds it
  // as it was: an archive, an alias moved by hand or a new database must re-run.
  // The state includes the model's deprecation, so deprecating it (or lifting
  // that) runs the node again, with the warning or without.
  // With a feature service, its definition too: a changed service is checked again.
  async externalFingerprint(ctx, p) {
    const state = ctx.registryState?.(p.name) ?? "";
    return p.featureService === undefined
      ? state
      : `${state}\0${serviceFingerprint(ctx.projectDir, p.featureService)}`;
  },
  // A feature service that does not exist or lacks a model input is refused before a run.
  outputSchema(ctx, inputs, p) {
    const model = inputs.model;
    if (p.featureService !== undefined && model && !model.subset) {
      try {
        checkServiceInputs(
          ctx.projectDir,
          p.featureService,
          model.columns.map((c) => c.name),
        );
      } catch (e) {
        if (!(e instanceof ServiceInputsError)) throw e;
        ctx.problem(["featureService"], e.message);
      }
    }
    return { version: undefined };
  },
  async run(ctx, inputs, p) {
    const input = modelInput(inputs);
    const { model } = input;
    const metrics = metricsOf(inputs);
    const onnx = model.onnx;
    if (!onnx?.file) {
      throw new BlockError(
        "The model has no ONNX export, so it cannot be registered (the registry serves ONNX). Retrain it with this version of Dagwood.",
      );
    }
    const onnxPath = resolve(ctx.projectDir, onnx.file);
    if (!existsSync(onnxPath)) {
      throw new BlockError(
        `The model's ONNX file ${onnx.file} is gone (the run's artifacts were removed). Run the train node again (dagwood run --no-cache) and register that model.`,
      );
    }
    if (p.featureService !== undefined)
      checkService(
        ctx.projectDir,
        p.featureService,
        model.signature.inputs.map((i) => i.name),
      );
    const producer = ctx.upstream("model");
    if (!producer)
      throw new BlockError('Input "model" is not connected: connect a train block\'s model output.');
    const nativePath = join(await ctx.artifactDir(), "model.json");
    await writeFile(nativePath, JSON.stringify(model));
    // Evaluated at a threshold: the version's model.onnx labels by it (app/ml/onnx/decision.ts), a copy of
    // the training's graph whose ArgMax label is replaced.
    const decision = decisionOf(inputs, model);
    let servedOnnx = onnxPath;
    if (decision) {
      let labelled: Uint8Array;
      try {
        storedDecision(model.classes ?? [], decision);
        labelled = withDecisionThreshold(await readFile(onnxPath), decision);
      } catch (e) {
        throw new BlockError(
          `The evaluation report's decision (positive class "${decision.positiveClass}" at threshold ${decision.threshold}) does not fit this model: ${(e as Error).message}. Connect the report of an evaluate that scored this model.`,
        );
      }
      // Not model.onnx: the artifact folder may be the one the training wrote its graph to.
      servedOnnx = join(await ctx.artifactDir(), "model-decision.onnx");
      await writeFile(servedOnnx, labelled);
      ctx.log(
        `The version labels a row ${decision.positiveClass} when its probability of ${decision.positiveClass} is at least ${decision.threshold}, as the evaluation scored it (its model.onnx decides so).`,
      );
    }
    let heldoutPath: string | undefined;
    if (inputs.data) {
      const data = requireTable(inputs, "data");
      let heldout: Awaited<ReturnType<typeof sampleHeldout>>;
      try {
        heldout = await sampleHeldout(
          ctx.sql,
          data,
          model,
          undefined,
          storedDecision(model.classes ?? [], decision),
        );
      } catch (e) {
        throw new BlockError((e as Error).message);
      }
      heldoutPath = join(await ctx.artifactDir(), "heldout.json");
      await writeFile(heldoutPath, JSON.stringify(heldout));
    }
    const profilePath = referenceProfileOf(ctx, model);
    const lineage = await ctx.lineage(producer.node);
    const files = {
      native: nativePath,
      onnx: servedOnnx,
      ...(heldoutPath ? { heldout: heldoutPath } : {}),
      ...(profilePath ? { profile: profilePath } : {}),
    };
    // With a shared artifact location, the files are uploaded and verified before the registry
    // writes the version's row: an upload that fails leaves no version behind.
    let artifacts: Awaited<ReturnType<typeof stageVersionFiles>> | undefined;
    try {
      const location = projectArtifactLocation(ctx.projectDir);
      if (location) artifacts = await stageVersionFiles(location, files);
    } catch (e) {
      if (e instanceof ArtifactError) throw new BlockError(e.message);
      throw e;
    }
    let registered: ReturnType<typeof ctx.registry.registerVersion>;
    try {
      registered = ctx.registry.registerVersion({
        name: p.name,
        ...(p.description !== undefined ? { description: p.description } : {}),
        runId: ctx.runId,
        nodeId: producer.node,
        modelFingerprint: input.fingerprint,
        estimator: model.estimator,
        task: model.task,
        signature: model.signature,
        metrics,
        parity: onnx.parity ?? null,
        files,
        ...(artifacts ? { artifacts } : {}),
        lineage,
        featureService: p.featureService ?? null,
        decision: decision ?? null,
        ...(p.alias !== undefined ? { alias: p.alias } : {}),
        actor: lineage.run.user,
      });
    } catch (e) {
      if (e instanceof RegistryError) throw new BlockError(e.message);
      throw e;
    }
    const { version, created } = registered;
    // Registering to a deprecated model is allowed (a last fix may be needed) but said, with what to use instead.
    const deprecated = ctx.registry.getModel(p.name)?.deprecated;
    if (deprecated)
      ctx.log(
        `${deprecationNotice(`Model "${p.name}"`, deprecated)} (v${version.version} was registered to it all the same.)`,
        "warn",
      );
    if (p.owner !== undefined || p.modelDescription !== undefined) {
      try {
        ctx.registry.upsertModel(
          p.name,
          {
            ...(p.owner !== undefined ? { owner: p.owner } : {}),
            ...(p.modelDescription !== undefined ? { description: p.modelDescription } : {}),
          },
          lineage.run.user,
        );
      } catch (e) {
        if (e instanceof RegistryError) throw new BlockError(e.message);
        throw e;
      }
    }
    const alias =
      (p.featureService ? `; feature service "${p.featureService}"` : "") +
      (p.alias ? `; alias "${p.alias}" → v${version.version}` : "");
    ctx.log(
      created
        ? `Registered ${p.name} v${version.version} (${model.estimator}, ${model.task}) from node "${producer.node}"${alias}.`
        : `${p.name} v${version.version} already holds this model; no new version${alias}.`,
    );
    const ref: ModelVersionRef = {
      name: version.name,
      version: version.version,
      created,
      modelFingerprint: version.modelFingerprint,
    };
    return { version: { type: "modelVersion", data: ref } };
  },
});
