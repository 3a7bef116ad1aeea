/**
 * governanceReport: the open project's artifacts with no owner, past their
 * review date, or deprecated and still used (app/project/governance.ts), and
 * its policy (dagwood.json `governance.failOn`). dagwood.json is read again
 * at each call: the Data view and `dagwood datasets` edit it while the
 * project is open.
 */
import { governanceReport } from "../../project/governance";
import { ProjectSettingsError, readProjectSettings } from "../../project/project";
import { ApiError } from "../api";
import type { CoreState, Handlers } from "./state";

export function governanceHandlers(state: CoreState, now?: () => Date): Handlers<"governanceReport"> {
  return {
    async governanceReport() {
      const project = state.requireProject();
      let settings: ReturnType<typeof readProjectSettings>;
      try {
        settings = readProjectSettings(project.dir);
      } catch (e) {
        if (e instanceof ProjectSettingsError) throw new ApiError(400, e.message);
        throw e;
      }
      return governanceReport(project.dir, { settings, metadata: project.metadata, now: now?.() });
    },
  };
}
