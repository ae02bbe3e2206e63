/** Vite turns CSS imports into stylesheet links; the module itself has no exports. */
declare module '*.css';
