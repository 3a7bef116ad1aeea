import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The renderer: built into dist/renderer, loaded by Electron from disk and
// served by the HTTP bridge in browser mode, hence relative asset paths.
export default defineConfig({
  root: "renderer",
  base: "./",
  plugins: [react()],
  build: {
    outDir: "../dist/renderer",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
  },
});
