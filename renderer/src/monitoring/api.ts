/** The Api calls of the Monitoring view and the types it shares with the core. */
import type { ApiArgs, ApiResults, MonitorSummary } from "../../../app/api/api";
import { api } from "../api/client";

export type { MonitorSummary };
export type MonitorTickSummary = ApiResults["runMonitorsNow"]["ticks"][number];
export type Distribution = ApiResults["driftDistribution"];

/** The loop's methods (app/api/handlers/loops.ts). */
export const loopApi = {
  listMonitors: () => api.listMonitors({}),
  runMonitorsNow: (args: ApiArgs<"runMonitorsNow">) => api.runMonitorsNow(args),
  monitorLoops: (args: ApiArgs<"monitorLoops">) => api.monitorLoops(args),
  approveChallenger: (args: ApiArgs<"approveChallenger">) => api.approveChallenger(args),
  rejectChallenger: (args: ApiArgs<"rejectChallenger">) => api.rejectChallenger(args),
  acknowledgeAlert: (args: ApiArgs<"acknowledgeAlert">) => api.acknowledgeAlert(args),
};

export const monitoringReport = (args: ApiArgs<"monitoringReport">) => api.monitoringReport(args);
export const driftDistribution = (args: ApiArgs<"driftDistribution">): Promise<Distribution> =>
  api.driftDistribution(args);
