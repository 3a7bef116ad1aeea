import { useUi, VIEWS, type View } from "../store/ui";

const LABELS: Record<View, string> = {
  editor: "Editor",
  data: "Data",
  features: "Features",
  experiments: "Experiments",
  models: "Models",
  lineage: "Lineage",
  deployments: "Deployments",
  monitoring: "Monitoring",
};

/** Switches the main view: the pipeline editor, the datasets, the runs, the registry, the lineage graph, the deploy targets. */
export function ViewTabs() {
  const view = useUi((s) => s.view);
  return (
    <nav className="view-tabs" aria-label="Views">
      {VIEWS.map((v) => (
        <button
          key={v}
          type="button"
          className={`view-tab${view === v ? " active" : ""}`}
          data-testid={`view-${v}`}
          aria-current={view === v ? "page" : undefined}
          onClick={() => useUi.getState().setView(v)}
        >
          {LABELS[v]}
        </button>
      ))}
    </nav>
  );
}
