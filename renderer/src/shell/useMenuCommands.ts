import { useEffect } from "react";
import { actionById, performAction } from "../actions";
import { onMenuCommand } from "../api/client";
import { exportJson, newPipeline, openProjectFolder, saveAs } from "../services/pipelineFile";
import { useUi } from "../store/ui";

/** The desktop app's native menu sends commands; each becomes the editor action of the same name. */
export function useMenuCommands(): void {
  useEffect(
    () =>
      onMenuCommand((message) => {
        const run = (id: string) => {
          const action = actionById.get(id);
          if (action) void performAction(action);
        };
        switch (message.command) {
          case "openProject":
            if (message.path) void openProjectFolder(message.path);
            break;
          case "saveAs":
            if (message.path) void saveAs(message.path, { overwrite: true });
            else useUi.getState().setPathDialog("saveAs");
            break;
          case "new":
            if (message.path) void newPipeline(message.path);
            else useUi.getState().setPathDialog("new");
            break;
          case "exportJson":
            void exportJson();
            break;
          default:
            run(message.command);
        }
      }),
    [],
  );
}
