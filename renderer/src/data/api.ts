/** The types the Data view passes to the dataset Api methods (listDatasets, getDataset, updateDataset). */
import type { ApiArgs } from "../../../app/api/api";

/** A governance patch: a field absent is kept, null clears it. */
export type GovernancePatch = NonNullable<ApiArgs<"updateDataset">["governance"]>;
