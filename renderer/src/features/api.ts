/** The Api calls of the Features view (app/api/handlers/features.ts) and the types it shares with the core. */
import type { ApiArgs, ApiResults } from "../../../app/api/api";
import { api } from "../api/client";

export type MaterializeArgs = ApiArgs<"materializeFeatures">;
export type LookupArgs = ApiArgs<"getOnlineFeatures">;

export const featuresApi = {
  list: (): Promise<ApiResults["listFeatures"]> => api.listFeatures({}),
  apply: (): Promise<ApiResults["applyFeatures"]> => api.applyFeatures({}),
  materialize: (args: MaterializeArgs): Promise<ApiResults["materializeFeatures"]> =>
    api.materializeFeatures(args),
  lookup: (args: LookupArgs): Promise<ApiResults["getOnlineFeatures"]> => api.getOnlineFeatures(args),
};
