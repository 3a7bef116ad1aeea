import "./EmptyState.css";
import { useState } from "react";
import { actionById, performAction } from "../actions";
import { newPipelineFromTemplate } from "../actions/newPipeline";
import { formatShortcut } from "../actions/shortcuts";
import { byFolder, formatBytes, useDataFiles } from "../services/dataFiles";
import { openPipeline } from "../services/pipelineFile";
import { useCatalog } from "../store/catalog";

const SHOWN_PIPELINES = 6;

function titleOf(actionId: string): string {
  const action = actionById.get(actionId)!;
  const shortcut = action.shortcuts?.[0];
  return shortcut ? `${action.label} (${formatShortcut(shortcut)})` : action.label;
}

/**
 * What the canvas shows when no pipeline is open: New pipeline, a template
 * on one of the project's data files, Open…, and the pipelines the project has.
 * A block dropped here starts a new pipeline (the canvas handles the drop).
 */
export function EmptyState() {
  const project = useCatalog((s) => s.project);
  const loaded = useCatalog((s) => s.loaded);
  if (!loaded || !project) return null;
  return <EmptyStateCard pipelines={project.pipelines} />;
}

function EmptyStateCard({ pipelines }: { pipelines: string[] }) {
  const list = useDataFiles();
  const [file, setFile] = useState("");
  const [busy, setBusy] = useState(false);
  const files = list?.files ?? [];
  const chosen = file || files[0]?.path || "";
  const fromTemplate = async () => {
    if (!chosen) return;
    setBusy(true);
    try {
      await newPipelineFromTemplate(chosen);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="empty-state" data-testid="empty-state">
      <div className="empty-state-card">
        <h2>No pipeline is open</h2>
        <div className="empty-state-actions">
          <button
            type="button"
            className="button primary"
            data-testid="empty-new-pipeline"
            title={titleOf("new")}
            onClick={() => void performAction(actionById.get("new")!)}
          >
            New pipeline
          </button>
          <button
            type="button"
            className="button"
            data-testid="empty-open"
            title={titleOf("open")}
            onClick={() => void performAction(actionById.get("open")!)}
          >
            Open…
          </button>
        </div>

        <section className="empty-state-template" aria-label="Start from a template">
          <h3>Start from a template</h3>
          <p className="muted small">
            Read a file → profile → split → train (gradient boosting) → evaluate. You choose the target column
            afterwards, in the inspector.
          </p>
          {list === null ? (
            <p className="muted small">Looking for data files…</p>
          ) : files.length === 0 ? (
            <p className="muted small" data-testid="empty-no-data">
              No data files (csv, tsv, parquet, json, ndjson) in the project yet. Put one in the project
              folder, or add its folder to <span className="mono">dataFolders</span> in dagwood.json.
            </p>
          ) : (
            <div className="empty-state-row">
              <select
                className="field-input mono"
                data-testid="template-file"
                aria-label="Data file"
                value={chosen}
                onChange={(e) => setFile(e.target.value)}
              >
                {byFolder(files).map((group) => (
                  <optgroup key={group.folder} label={group.label}>
                    {group.files.map((f) => (
                      <option key={f.path} value={f.path}>
                        {f.name} ({formatBytes(f.bytes)})
                      </option>
                    ))}
                  </optgroup>
                ))}
              </select>
              <button
                type="button"
                className="button primary"
                data-testid="template-create"
                disabled={!chosen || busy}
                onClick={() => void fromTemplate()}
              >
                Create
              </button>
            </div>
          )}
        </section>

        {pipelines.length > 0 && (
          <section className="empty-state-pipelines" aria-label="Pipelines of the project">
            <h3>Pipelines of this project</h3>
            {pipelines.slice(0, SHOWN_PIPELINES).map((p) => (
              <button
                type="button"
                key={p}
                className="link-button mono"
                data-testid={`empty-open-${p}`}
                onClick={() => void openPipeline(p)}
              >
                {p}
              </button>
            ))}
            {pipelines.length > SHOWN_PIPELINES && (
              <span className="muted small">and {pipelines.length - SHOWN_PIPELINES} more (Open…)</span>
            )}
          </section>
        )}

        <p className="muted small empty-state-hint">Or drag a block from the palette onto the canvas.</p>
      </div>
    </div>
  );
}
