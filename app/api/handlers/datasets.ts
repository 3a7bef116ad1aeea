/**
 * The Api's dataset methods: the project's datasets with their versions,
 * schema changes and test history (app/project/dataset-catalog.ts), and the
 * dagwood.json entry that names one, attaches its suites and says who owns
 * it. They need only the project folder and its metadata store.
 */

import { maskDatasetTests } from "../../privacy/masking";
import { type DatasetCatalogContext, getDataset, listDatasets } from "../../project/dataset-catalog";
import {
  DatasetSettingsError,
  type DatasetSettingsPatch,
  updateDatasetSettings,
} from "../../project/datasets";
import { ProjectSettingsError, readProjectSettings } from "../../project/project";
import type { TrackingContext } from "../../tracking/export";
import { ApiError, type ApiResults, type parseApiArgs } from "../api";
import type { DatasetMethod } from "../api-methods";

export type DatasetHandlers = {
  [M in DatasetMethod]: (args: ReturnType<typeof parseApiArgs<M>>) => Promise<ApiResults[M]>;
};

const STATUS = { invalid: 400, "not-found": 404, broken: 409 } as const;

/** The handlers over whatever project `context()` returns at each call (it throws when none is open). */
export function createDatasetHandlers(context: () => TrackingContext): DatasetHandlers {
  /** dagwood.json is read at each call: this Api (and the user's editor) change it while the project is open. */
  const catalog = (): DatasetCatalogContext => {
    const { dir, metadata } = context();
    try {
      return { dir, metadata, settings: readProjectSettings(dir) };
    } catch (e) {
      if (e instanceof ProjectSettingsError) throw new ApiError(409, e.message);
      throw e;
    }
  };

  const unknown = (ctx: DatasetCatalogContext, name: string) => {
    const names = listDatasets(ctx).map((d) => d.name);
    const near = names.find((n) => n.toLowerCase() === name.toLowerCase());
    return new ApiError(
      404,
      `No dataset "${name}" in this project.${near ? ` Did you mean "${near}"?` : ""} ${
        names.length
          ? `Its datasets: ${names.slice(0, 20).join(", ")}${names.length > 20 ? ", …" : ""}.`
          : 'None yet: name one in dagwood.json "datasets", or run a pipeline that reads a file.'
      }`,
    );
  };

  return {
    async listDatasets() {
      return listDatasets(catalog());
    },

    async getDataset({ name }) {
      const ctx = catalog();
      const detail = getDataset(ctx, name);
      if (!detail) throw unknown(ctx, name);
      // The test history keeps the unexpected values a suite saw: a personal column's are masked here.
      return { ...detail, tests: maskDatasetTests(detail.tests, detail.columnTags) };
    },

    async updateDataset({ name, path, suites, onFailure, governance, columns }) {
      const { dir } = context();
      const patch: DatasetSettingsPatch = { ...governance };
      if (path !== undefined) patch.path = path;
      if (suites !== undefined) patch.suites = suites;
      if (onFailure !== undefined) patch.onFailure = onFailure;
      if (columns !== undefined) patch.columns = columns;
      try {
        await updateDatasetSettings(dir, name, patch);
      } catch (e) {
        if (e instanceof DatasetSettingsError) throw new ApiError(STATUS[e.code], e.message);
        throw e;
      }
      const ctx = catalog();
      const summary = listDatasets(ctx).find((d) => d.name === name && d.configured);
      if (!summary) throw unknown(ctx, name);
      return summary;
    },
  };
}
