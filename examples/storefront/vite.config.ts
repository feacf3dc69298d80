// Built into dist/ with relative asset paths, so the site can be served from any folder (`/`, `/shop/`).
// The router's URL is not built in: the page reads config.json beside index.html (public/config.json).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
});
