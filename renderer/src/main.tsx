import "@xyflow/react/dist/style.css";
import "./styles/base.css";
import "./styles/canvas.css";
import "./styles/panels.css";
import "./styles/views.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { reportError } from "./services/errors";

// Whatever slips through is a toast, never a blank page.
window.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  reportError(e.reason);
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
