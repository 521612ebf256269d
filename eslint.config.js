// Lint rules that guard the architecture (STYLE.md habit 4): code outside
// src/store talks to the store only through its public surface — store.ts
// (the storage API, types only), open.ts (opening a store), types.ts, mime/
// (MIME parsing) and maildir-import.ts (what `roost import` writes) — never
// through its interior (the implementation, Maildir, index, journal, caches).
// Import circles are checked by scripts/import-cycles.mjs (npm run lint).
import tseslint from 'typescript-eslint';

const storeInterior = {
  regex: '(^|/)store/(?!(store|open|types|maildir-import|journal/(records|codec|change-log))\\.js$|mime/[^/]+\\.js$)',
  message: 'Use src/store/store.ts (the storage API) and src/store/open.ts; the rest of src/store is its interior.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/**', 'test/**'] },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {},
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/store/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [storeInterior] }] },
  },
);
