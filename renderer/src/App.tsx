/** The app's frame: top bar, the current view (editor, data, experiments, models, lineage, deployments), status bar. */
import { ReactFlowProvider } from "@xyflow/react";
import { type CSSProperties, lazy, Suspense, useEffect } from "react";
import { useShallow } from "zustand/react/shallow";
import { useShortcuts } from "./actions/useShortcuts";
import { ChangesSide } from "./changes/ChangesLayer";
import { ExperimentsView } from "./experiments/ExperimentsView";
import { Canvas } from "./graph/Canvas";
import { Inspector } from "./inspector/Inspector";
import { Palette } from "./palette/Palette";
import { QuickAdd } from "./palette/QuickAdd";
import { BottomPanel } from "./panels/BottomPanel";
import { loadProject } from "./services/pipelineFile";
import { subscribeToRunEvents } from "./services/runner";
import { watchDocument } from "./services/validation";
import { CommandPalette } from "./shell/CommandPalette";
import { ErrorBoundary } from "./shell/ErrorBoundary";
import { OpenDialog } from "./shell/OpenDialog";
import { PathDialog } from "./shell/PathDialog";
import { StatusBar } from "./shell/StatusBar";
import { Toasts } from "./shell/Toasts";
import { TopBar } from "./shell/TopBar";
import { UnreadableFile } from "./shell/UnreadableFile";
import { useDocumentTitle } from "./shell/useDocumentTitle";
import { useMenuCommands } from "./shell/useMenuCommands";
import { useCatalog } from "./store/catalog";
import { useEditor } from "./store/editor";
import { useUi } from "./store/ui";

// The data, registry, lineage and deployments views are not needed for the first paint of the editor.
const ModelsView = lazy(() => import("./models/ModelsView").then((m) => ({ default: m.ModelsView })));
const LineageView = lazy(() => import("./lineage/LineageView").then((m) => ({ default: m.LineageView })));
const DatasetsView = lazy(() => import("./data/DataView").then((m) => ({ default: m.DatasetsView })));
const DeploymentsView = lazy(() =>
  import("./deployments/DeploymentsView").then((m) => ({ default: m.DeploymentsView })),
);
const MonitoringView = lazy(() =>
  import("./monitoring/MonitoringView").then((m) => ({ default: m.MonitoringView })),
);
const FeaturesView = lazy(() => import("./features/FeaturesView").then((m) => ({ default: m.FeaturesView })));

function Center() {
  const unreadable = useEditor((s) => !!s.unreadable);
  const project = useCatalog((s) => s.project);
  const loaded = useCatalog((s) => s.loaded);
  if (loaded && !project)
    return (
      <div className="unreadable">
        <h2>No project is open</h2>
        <p className="muted">
          Start Dagwood with a project folder, e.g.{" "}
          <span className="mono">dagwood ui --project path/to/project</span>.
        </p>
      </div>
    );
  if (unreadable) return <UnreadableFile />;
  // The merge conflicts and the Changes list, beside the canvas when there are any or the overlay is on.
  return (
    <div className="canvas-row">
      <Canvas />
      <ChangesSide />
    </div>
  );
}

/** Palette, canvas over the bottom panel, inspector: the side panels' widths come from the ui store. */
function Editor() {
  const { paletteWidth, inspectorWidth, paletteOpen, inspectorOpen, maximized } = useUi(
    useShallow((s) => ({
      paletteWidth: s.paletteWidth,
      inspectorWidth: s.inspectorWidth,
      paletteOpen: s.paletteOpen,
      inspectorOpen: s.inspectorOpen,
      maximized: s.bottomOpen && s.bottomMaximized,
    })),
  );
  const style = {
    "--palette-width": paletteOpen ? `${paletteWidth}px` : "var(--rail-width)",
    "--inspector-width": inspectorOpen ? `${inspectorWidth}px` : "var(--rail-width)",
  } as CSSProperties;
  return (
    <div className="workspace" style={style}>
      <Palette />
      <main className={`center${maximized ? " drawer-maximized" : ""}`}>
        <ErrorBoundary area="canvas">
          <Center />
        </ErrorBoundary>
        <ErrorBoundary area="bottom panel">
          <BottomPanel />
        </ErrorBoundary>
      </main>
      <ErrorBoundary area="inspector">
        <Inspector />
      </ErrorBoundary>
    </div>
  );
}

function CurrentView() {
  const view = useUi((s) => s.view);
  const project = useCatalog((s) => s.project);
  const loaded = useCatalog((s) => s.loaded);
  if (view === "editor") return <Editor />;
  if (loaded && !project)
    return (
      <div className="unreadable">
        <h2>No project is open</h2>
      </div>
    );
  const loading = (
    <div className="view-loading">
      <span className="spinner" /> Loading…
    </div>
  );
  return (
    <div className="view-frame" data-testid={`${view}-frame`}>
      <ErrorBoundary area={view}>
        <Suspense fallback={loading}>
          {view === "data" && <DatasetsView />}
          {view === "features" && <FeaturesView />}
          {view === "experiments" && <ExperimentsView />}
          {view === "models" && <ModelsView />}
          {view === "lineage" && <LineageView />}
          {view === "deployments" && <DeploymentsView />}
          {view === "monitoring" && <MonitoringView />}
        </Suspense>
      </ErrorBoundary>
    </div>
  );
}

export function App() {
  useShortcuts();
  useDocumentTitle();
  useMenuCommands();
  useEffect(() => {
    const offEvents = subscribeToRunEvents();
    const offWatch = watchDocument();
    void loadProject();
    return () => {
      offEvents();
      offWatch();
    };
  }, []);
  return (
    <ReactFlowProvider>
      <div className="app">
        <TopBar />
        <CurrentView />
        <StatusBar />
      </div>
      <CommandPalette />
      <OpenDialog />
      <PathDialog />
      <QuickAdd />
      <Toasts />
    </ReactFlowProvider>
  );
}
