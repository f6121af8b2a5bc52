import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Language, type Node, Parser } from 'web-tree-sitter';

/**
 * PowerShell parsing with tree-sitter-powershell's wasm grammar under web-tree-sitter: offline, no
 * native build (the grammar package ships `tree-sitter-powershell.wasm`).
 */

const require = createRequire(import.meta.url);

/** Where the grammar's wasm lives inside the installed package. */
export function grammarWasmPath(): string {
  return require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
}

let parserPromise: Promise<Parser> | undefined;

export function powershellParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const language = await Language.load(readFileSync(grammarWasmPath()));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

export async function parsePowerShell(source: string): Promise<Node> {
  const tree = (await powershellParser()).parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return tree.rootNode;
}

/** Depth-first, parents before children. */
export function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const c of node.children) walk(c, visit);
}

export function descendants(node: Node, type: string): Node[] {
  const out: Node[] = [];
  walk(node, (n) => {
    if (n.type === type) out.push(n);
  });
  return out;
}

export function ancestors(node: Node): Node[] {
  const out: Node[] = [];
  for (let p = node.parent; p; p = p.parent) out.push(p);
  return out;
}

/** 1-based line of a node. */
export function lineOf(node: Node): number {
  return node.startPosition.row + 1;
}

/** Node types that only wrap one expression (PowerShell's precedence ladder). */
const WRAPPERS = new Set([
  'left_assignment_expression',
  'pipeline',
  'pipeline_chain',
  'logical_expression',
  'bitwise_expression',
  'comparison_expression',
  'additive_expression',
  'multiplicative_expression',
  'format_expression',
  'range_expression',
  'array_literal_expression',
  'unary_expression',
]);

/** Descends through single-child wrappers to the node that carries the value. */
export function unwrap(node: Node): Node {
  let n = node;
  while (WRAPPERS.has(n.type) && n.namedChildCount === 1 && n.namedChildren[0]) n = n.namedChildren[0];
  return n;
}

export type PsValue = string | number | boolean | PsValue[] | { [key: string]: PsValue } | null;

/** The text of a string literal node, unquoted ('' → ' in verbatim strings). */
export function stringValue(node: Node): string | undefined {
  if (node.type !== 'string_literal') return undefined;
  const inner = node.namedChildren[0];
  const t = inner?.text ?? node.text;
  if (inner?.type === 'verbatim_string_characters') return t.slice(1, -1).replaceAll("''", "'");
  if (inner?.type === 'expandable_string_literal') return t.slice(1, -1);
  return t;
}

/**
 * The literal value of an expression: strings, integers, $true/$false/$null, @{…} hashtables, @(…)
 * arrays and a, b, c lists. Anything else (a variable, a call) is undefined.
 */
export function literalValue(node: Node): PsValue | undefined {
  const n = unwrap(node);
  switch (n.type) {
    case 'string_literal':
      return stringValue(n);
    case 'integer_literal':
      return Number(n.text);
    case 'variable': {
      const v = n.text.toLowerCase();
      if (v === '$true') return true;
      if (v === '$false') return false;
      if (v === '$null') return null;
      return undefined;
    }
    case 'hash_literal_expression':
      return hashtableValue(n);
    case 'array_expression': {
      const list = n.namedChildren.find((c) => c.type === 'statement_list');
      if (!list) return [];
      const out: PsValue[] = [];
      for (const s of list.namedChildren) {
        const v = literalValue(s);
        if (v === undefined) return undefined;
        if (unwrap(s).type === 'array_literal_expression' && Array.isArray(v)) out.push(...v);
        else out.push(v);
      }
      return out;
    }
    case 'array_literal_expression': {
      const out: PsValue[] = [];
      for (const c of n.namedChildren) {
        const v = literalValue(c);
        if (v === undefined) return undefined;
        out.push(v);
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** `@{ Key = value; … }` → a record; undefined when any value is not a literal. */
export function hashtableValue(node: Node): { [key: string]: PsValue } | undefined {
  const out: { [key: string]: PsValue } = {};
  for (const entry of descendantsShallow(node, 'hash_entry')) {
    const keyNode = entry.namedChildren.find((c) => c.type === 'key_expression');
    const valueNode = entry.namedChildren.find((c) => c.type === 'pipeline' || c.type === 'statement');
    if (!keyNode || !valueNode) return undefined;
    const keyInner = keyNode.namedChildren[0];
    const key = keyInner ? (stringValue(unwrap(keyInner)) ?? keyInner.text) : keyNode.text;
    const value = literalValue(valueNode);
    if (value === undefined) return undefined;
    out[key] = value;
  }
  return out;
}

/** hash_entry nodes of this hashtable only (not of nested ones). */
function descendantsShallow(hash: Node, type: string): Node[] {
  const body = hash.namedChildren.find((c) => c.type === 'hash_literal_body');
  return body ? body.namedChildren.filter((c) => c.type === type) : [];
}

/** Script-level `$Name = <literal>` assignments (first match), e.g. the installer's data tables. */
export function scriptAssignment(root: Node, variable: string): { value: PsValue | undefined; node: Node } {
  const program = root.namedChildren.find((c) => c.type === 'statement_list');
  for (const stmt of program?.namedChildren ?? []) {
    const assign = stmt.namedChildren.find((c) => c.type === 'assignment_expression');
    if (!assign) continue;
    const left = assign.namedChildren.find((c) => c.type === 'left_assignment_expression');
    if (unwrap(left ?? assign).text.toLowerCase() !== variable.toLowerCase()) continue;
    const right = assign.namedChildren.filter((c) => c.type === 'pipeline' || c.type === 'statement').at(-1);
    if (!right) throw new Error(`$${variable} has no right-hand side`);
    return { value: literalValue(right), node: right };
  }
  throw new Error(`no script-level assignment to ${variable}`);
}

/** `function Name { … }` nodes by name (case-insensitive). */
export function functionNamed(root: Node, name: string): Node | undefined {
  return descendants(root, 'function_statement').find(
    (f) => f.namedChildren.find((c) => c.type === 'function_name')?.text.toLowerCase() === name.toLowerCase(),
  );
}
