// Build of the Berth dashboard: `npm run build:web` (= `vite build web`) → web/dist, served by
// src/web/static.ts.
//
// Why Preact: a ~5 KB runtime with JSX and hooks, so the whole app is plain typed functions and
// the bundle stays small (fast first load, nothing to hydrate). JSX is compiled by Vite's own
// esbuild with the automatic runtime, so no framework plugin (and its Babel tree) is needed.
// Lit was the alternative; its shadow DOM would make global focus styles and test selectors harder.
//
// `base: './'` makes every asset URL relative: the page's <base href> (rewritten by the server
// to the outer prefix) decides where they load from, so one build works at / and under /any/sub/path/.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
