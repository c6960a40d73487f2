import * as path from 'path';
import * as ts from 'typescript';

/**
 * The public API is lib/index.ts: every type a public declaration names (props, option types, return types, base
 * types) is exported there too, so a user can name whatever they pass or get back; and no public declaration names
 * something marked @internal, which the published declarations leave out.
 */

const ROOT = path.join(__dirname, '..');

function publicApi() {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const program = ts.createProgram([path.join(ROOT, 'lib', 'index.ts')], config.options);
  const checker = program.getTypeChecker();
  const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exportsOf = (module: ts.Symbol): ts.Symbol[] => checker.getExportsOfModule(module).map(resolve)
    // A namespace export (`export * as contract`) exports its module's members.
    .flatMap(s => (s.flags & ts.SymbolFlags.ValueModule ? exportsOf(s) : [s]));
  const exported = exportsOf(checker.getSymbolAtLocation(program.getSourceFile(path.join(ROOT, 'lib', 'index.ts'))!)!);
  return { checker, resolve, exported };
}

const ours = (d: ts.Node) => !d.getSourceFile().fileName.includes(`${path.sep}node_modules${path.sep}`);
const internal = (d: ts.Node) => ts.getJSDocTags(d).some(t => t.tagName.text === 'internal');
const hidden = (n: ts.Node) => internal(n)
  || (ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some(m => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword))
  || ((ts.isPropertyDeclaration(n) || ts.isMethodDeclaration(n)) && ts.isPrivateIdentifier(n.name));

/** Names of our declarations that the public declarations reference by type (or `typeof`), with where. */
function referencedTypes(): Array<{ name: string; symbol: ts.Symbol; from: string }> {
  const { checker, resolve, exported } = publicApi();
  const out: Array<{ name: string; symbol: ts.Symbol; from: string }> = [];
  const visit = (node: ts.Node, from: string): void => {
    if (hidden(node) || ts.isBlock(node)) return;
    // Values' initializers are implementation; their declared types are not.
    if ((ts.isVariableDeclaration(node) || ts.isPropertyDeclaration(node) || ts.isParameter(node)) && node.initializer) {
      if (node.type) visit(node.type, from);
      return;
    }
    const name = ts.isTypeReferenceNode(node) ? node.typeName
      : ts.isExpressionWithTypeArguments(node) ? node.expression
      : ts.isTypeQueryNode(node) ? node.exprName : undefined;
    if (name) {
      const symbol = checker.getSymbolAtLocation(ts.isQualifiedName(name) ? name.right : name);
      if (symbol) {
        const target = resolve(symbol);
        if ((target.declarations ?? []).some(ours) && !(target.flags & ts.SymbolFlags.TypeParameter)) out.push({ name: target.getName(), symbol: target, from });
      }
    }
    ts.forEachChild(node, child => visit(child, from));
  };
  for (const symbol of exported) {
    for (const d of (symbol.declarations ?? []).filter(ours)) if (!internal(d)) visit(d, symbol.getName());
  }
  return out;
}

test('every type a public declaration names is exported from lib/index.ts', () => {
  const exported = new Set(publicApi().exported.map(s => s.getName()));
  const refs = referencedTypes();
  // The check sees the props and option types, so it can fail.
  expect(refs.map(r => r.name)).toEqual(expect.arrayContaining(['VendorCatalog', 'MetricsStackProps', 'AlertOptions', 'DashboardModel', 'MixinSettings']));
  const missing = [...new Set(refs.filter(r => !exported.has(r.name)).map(r => `${r.from} names ${r.name}`))].sort();
  expect(missing).toEqual([]);
});

test('no public declaration names a declaration marked @internal', () => {
  const leaks = [...new Set(referencedTypes().filter(r => (r.symbol.declarations ?? []).some(internal)).map(r => `${r.from} names ${r.name}`))].sort();
  expect(leaks).toEqual([]);
});
