/** The Models view: the registry's models on the left (listModels), the chosen one on the right (getModel). */
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { formatTime } from "../experiments/format";
import { useApiKeepingLast } from "../panels/useApi";
import { Loading } from "../shell/Loading";
import { deprecatedBadge } from "./governance";
import { ModelDetailView } from "./ModelDetail";
import { useModels } from "./store";

function ModelPane({ name, revision, onChanged }: { name: string; revision: number; onChanged(): void }) {
  const loaded = useApiKeepingLast(() => api.getModel({ name }), `${name}:${revision}`);
  if (loaded.status === "error") return <div className="panel-error">{loaded.message}</div>;
  // The last answer may be another model's while this one loads.
  if (loaded.status === "loading" || loaded.value.model.name !== name)
    return <Loading>Loading {name}…</Loading>;
  return <ModelDetailView key={name} detail={loaded.value} onChanged={onChanged} />;
}

export function ModelsView() {
  const [search, setSearch] = useState("");
  const [revision, setRevision] = useState(0);
  const chosen = useModels((s) => s.chosen);
  const setChosen = useModels.getState().choose;
  const loaded = useApiKeepingLast(
    () => api.listModels(search.trim() ? { search: search.trim() } : {}),
    `${search}:${revision}`,
  );
  const models = loaded.status === "ok" ? loaded.value : [];
  const current = chosen && models.some((m) => m.name === chosen) ? chosen : (models[0]?.name ?? null);
  useEffect(() => {
    if (current !== chosen && loaded.status === "ok") useModels.getState().choose(current);
  }, [current, chosen, loaded.status]);

  return (
    <div className="models-view" data-testid="models-view">
      <aside className="models-list">
        <input
          className="field-input"
          data-testid="models-search"
          placeholder="Search models"
          aria-label="Search models"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        {loaded.status === "loading" && <Loading>Loading models…</Loading>}
        {loaded.status === "error" && <div className="panel-error">{loaded.message}</div>}
        {loaded.status === "ok" && !models.length && (
          <p className="muted small" data-testid="models-empty">
            {search.trim()
              ? "No model matches."
              : "No registered model yet. Add a register block after a train block and run the pipeline, or run dagwood models."}
          </p>
        )}
        <ul>
          {models.map((m) => (
            <li key={m.name}>
              <button
                type="button"
                className={`model-item${m.name === current ? " active" : ""}`}
                data-testid={`model-${m.name}`}
                onClick={() => setChosen(m.name)}
              >
                <span className="model-name">{m.name}</span>
                {deprecatedBadge(m.deprecated) && (
                  <span
                    className="deprecated-chip"
                    data-testid={`model-deprecated-${m.name}`}
                    title={m.deprecated?.reason}
                  >
                    {deprecatedBadge(m.deprecated)}
                  </span>
                )}
                <span className="muted small">
                  {m.versions} version{m.versions === 1 ? "" : "s"} · {formatTime(m.updatedAt)}
                </span>
                <span className="alias-row">
                  {Object.entries(m.aliases).map(([a, v]) => (
                    <span key={a} className="alias-chip">
                      {a} v{v}
                    </span>
                  ))}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <section className="models-main">
        {current ? (
          <ModelPane name={current} revision={revision} onChanged={() => setRevision((r) => r + 1)} />
        ) : (
          loaded.status === "ok" && (
            <div className="view-empty">
              <h3>The model registry is empty</h3>
              <p className="muted">
                Register a model: add a <span className="mono">register</span> block after a train block (and
                its evaluate report), then run the pipeline. Versions, aliases and their history show here.
              </p>
            </div>
          )
        )}
      </section>
    </div>
  );
}
