import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { api } from "./api/client";

function App() {
  return <div>Dagwood {typeof api}</div>;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
