// Lint rules that guard the architecture (STYLE.md habit 4): protocol modules
// and replication talk to the store only through src/store/store.ts and its
// types, never through the Maildir or index internals.
import tseslint from 'typescript-eslint';

const storeInternals = {
  group: ['**/store/maildir/*', '**/store/index/*', '**/store/maildir', '**/store/index'],
  message: 'Use src/store/store.ts (the one storage API); Maildir and index internals are private to src/store.',
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
    files: ['src/imap/**/*.ts', 'src/pop3/**/*.ts', 'src/qmqp/**/*.ts', 'src/lmtp/**/*.ts', 'src/delivery/**/*.ts', 'src/replication/**/*.ts', 'src/admin/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [storeInternals] }] },
  },
);
