/**
 * A child process running the real store, for tests that SIGKILL it: the
 * store's sources (src/store, src/text and the few modules they import)
 * transpiled for plain node into `<root>/js`, same layout as src, so the
 * child needs no build of its own and the test kills a real store, not a
 * copy. The test's script is `child.js` there; it imports './store/open.js'.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const repo = path.resolve(__dirname, '../..');

/** Transpile the store into root/js, write `childScript` as child.js; returns root/js. */
export function buildStoreChild(root: string, childScript: string): string {
  const out = path.join(root, 'js');
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const srcs = [
    ...walk(path.join(repo, 'src/store')),
    ...walk(path.join(repo, 'src/text')),
    path.join(repo, 'src/errors.ts'),
    path.join(repo, 'src/limits.ts'),
    path.join(repo, 'src/log/logger.ts'),
  ].filter((f) => f.endsWith('.ts'));
  for (const f of srcs) {
    const js = ts.transpileModule(fs.readFileSync(f, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    }).outputText;
    const dest = path.join(out, path.relative(path.join(repo, 'src'), f)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, js);
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(out, 'node_modules'));
  fs.writeFileSync(path.join(out, 'child.js'), childScript);
  return out;
}
