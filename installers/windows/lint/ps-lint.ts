import type { Node } from 'web-tree-sitter';
import { APPROVED_VERB_SET } from './approved-verbs.ts';
import { ancestors, descendants, lineOf, parsePowerShell, unwrap, walk } from './ps-parse.ts';

/**
 * Our lint rules for the Windows installer, over tree-sitter-powershell's parse tree. PowerShell cannot
 * run on the build machine, so these rules are what can be checked about install.ps1 here.
 */

export const RULES = {
  'parse-error': 'the script parses without ERROR or MISSING nodes',
  'ascii-only':
    'pure ASCII (Windows PowerShell 5.1 reads a .ps1 without BOM as ANSI: non-ASCII text is mangled)',
  'script-header':
    '#Requires -RunAsAdministrator, #Requires -Version 5.1, [CmdletBinding()] param(...), $ErrorActionPreference = Stop',
  'default-api-url-line':
    "exactly one line $NoderrDefaultApiUrl = 'https://…'  # replaced when served by the API (the Worker rewrites it)",
  'approved-verb': 'every function is named Verb-Noun with an approved PowerShell verb',
  'no-invoke-expression': 'no Invoke-Expression / iex / [scriptblock]::Create: never run text as code',
  'ps51-syntax': 'no PowerShell 7-only operators (&&, ||) in a script for Windows PowerShell 5.1',
  'secret-on-command-line':
    'no secret (token, key, password, JWT, credential) in the arguments of a program the script starts',
  'secret-in-output': 'no secret written to the console, the log or a file by an output command',
  'native-exit-code': 'every native program call is followed by a check of $LASTEXITCODE',
  'native-result-checked':
    'every Invoke-NoderrNative / Invoke-NoderrAgent result is assigned and its .ExitCode checked',
  'web-call-in-try':
    'every Invoke-WebRequest / Invoke-RestMethod sits in a try block (its failure is handled)',
} as const;

export type RuleId = keyof typeof RULES;

export interface Finding {
  rule: RuleId;
  line: number;
  message: string;
}

/** Variable or member names that hold secrets; paths to secrets (…File, …Path) are not secrets. */
const SECRET_NAME = /(token|secret|password|passwd|apikey|api_key|jwt|credential)/i;
const NOT_SECRET_NAME = /(file|path|dir|name|sha256)$/i;

/** Programs known to be native (without an .exe suffix); `& $x` is native unless $x is a [scriptblock]. */
const KNOWN_NATIVE = new Set([
  'node',
  'npm',
  'npx',
  'winget',
  'docker',
  'wsl',
  'icacls',
  'sc',
  'schtasks',
  'cmd',
  'powershell',
  'pwsh',
  'certutil',
  'reg',
  'netsh',
  'git',
  'tpmtool',
  'bcdedit',
  'msiexec',
  'whoami',
]);

/** Aliases of cmdlets (not native programs) that a name without a dash may be. */
const CMDLET_ALIASES = new Set([
  '%',
  '?',
  'foreach',
  'where',
  'select',
  'sort',
  'echo',
  'write',
  'cd',
  'ls',
  'dir',
  'cat',
  'gc',
  'gci',
  'gcm',
  'gi',
  'gp',
  'iex',
  'iwr',
  'irm',
  'curl',
  'wget',
  'ft',
  'fl',
  'group',
  'measure',
  'tee',
  'sleep',
  'cls',
  'copy',
  'move',
  'del',
  'rm',
  'rmdir',
  'mkdir',
  'md',
  'type',
  'pushd',
  'popd',
  'ni',
  'ri',
]);

/** Commands whose output reaches the console, the transcript or a file. */
const OUTPUT_COMMANDS =
  /^(write-host|write-output|write-verbose|write-warning|write-information|write-debug|write-error|write-progress|out-file|out-host|add-content|set-content|echo|write|write-noderr\w*|stop-noderr\w*)$/i;

/** Commands that build a command line for another process. */
const ARGV_COMMANDS = /^(start-process|new-scheduledtaskaction)$/i;
/** Our wrappers that run programs: their argument-list parameters become a process command line. */
const NATIVE_WRAPPERS = /^(invoke-noderrnative|invoke-noderragent)$/i;
const WRAPPER_ARGV_PARAMS = /^-(argumentlist|arguments|filepath)$/i;

const WEB_COMMANDS = /^(invoke-webrequest|invoke-restmethod|iwr|irm|start-bitstransfer)$/i;

export function commandName(cmd: Node): string {
  const direct = cmd.namedChildren.find((c) => c.type === 'command_name');
  if (direct) return direct.text;
  const expr = cmd.namedChildren.find((c) => c.type === 'command_name_expr');
  return expr ? expr.text : '';
}

function isCallOperator(cmd: Node): boolean {
  return cmd.namedChildren.some((c) => c.type === 'command_invokation_operator');
}

function commandElements(cmd: Node): Node[] {
  return cmd.namedChildren.find((c) => c.type === 'command_elements')?.namedChildren ?? [];
}

/** The parameters declared [scriptblock] in the function around a node. */
function scriptblockParams(node: Node): Set<string> {
  const out = new Set<string>();
  const fn = ancestors(node).find((a) => a.type === 'function_statement');
  if (!fn) return out;
  for (const p of descendants(fn, 'script_parameter')) {
    const type = p.namedChildren.find((c) => c.type === 'attribute_list')?.text.toLowerCase() ?? '';
    const v = p.namedChildren.find((c) => c.type === 'variable');
    if (v && type.includes('[scriptblock]')) out.add(v.text.toLowerCase());
  }
  return out;
}

export function isNativeCommand(cmd: Node): boolean {
  const name = commandName(cmd).trim();
  const lower = name.toLowerCase().replace(/^["']|["']$/g, '');
  if (isCallOperator(cmd)) {
    if (lower.startsWith('$')) return !scriptblockParams(cmd).has(lower);
    if (lower.startsWith('{') || lower.startsWith('(')) return false;
    return !/^[a-z]+-[a-z]/i.test(lower) || /\.(exe|cmd|bat|com)$/.test(lower);
  }
  if (/\.(exe|cmd|bat|com)$/.test(lower)) return true;
  if (KNOWN_NATIVE.has(lower)) return true;
  if (lower.includes('-') || CMDLET_ALIASES.has(lower)) return false;
  return /^[a-z0-9_.]+$/.test(lower) || lower.includes('\\') || lower.includes('/');
}

/** The statement a node belongs to, and the statement after it (climbing out of blocks at their end). */
function nextStatement(node: Node): Node | undefined {
  let n: Node | null = node;
  while (n) {
    const parent: Node | null = n.parent;
    if (!parent) return undefined;
    if (parent.type === 'statement_list' || parent.type === 'script_block_body') {
      const next = n.nextNamedSibling;
      if (next) return next;
    }
    if (parent.type === 'function_statement' || parent.type === 'program') return undefined;
    n = parent;
  }
  return undefined;
}

/** The statement (child of a statement_list) that contains a node. */
function enclosingStatement(node: Node): Node {
  let n: Node = node;
  while (n.parent && n.parent.type !== 'statement_list') n = n.parent;
  return n;
}

function mentionsVariable(node: Node | undefined, variable: string): boolean {
  if (!node) return false;
  const want = variable.toLowerCase();
  let found = false;
  walk(node, (n) => {
    if (n.type === 'variable' && n.text.toLowerCase() === want) found = true;
  });
  return found;
}

function variableName(v: Node): string {
  return v.text
    .replace(/^[$@]\{?/, '')
    .replace(/\}$/, '')
    .replace(/^(script|global|local|private|env):/i, '')
    .toLowerCase();
}

function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/** Variables that hold secrets: secret-named ones, and those assigned from expressions using them. */
function secretVariables(root: Node): Set<string> {
  const secret = new Set<string>();
  walk(root, (n) => {
    if (n.type === 'variable' && isSecretName(variableName(n))) secret.add(variableName(n));
  });
  const assignments = descendants(root, 'assignment_expression');
  let changed = true;
  while (changed) {
    changed = false;
    for (const a of assignments) {
      const left = a.namedChildren.find((c) => c.type === 'left_assignment_expression');
      const target = left ? unwrap(left) : undefined;
      if (target?.type !== 'variable') continue;
      const name = variableName(target);
      if (secret.has(name)) continue;
      const right = a.namedChildren.filter((c) => c !== left && c.type !== 'assignement_operator');
      // A command's result is opaque (a response, an exit code); expressions carry their inputs along.
      if (right.some((r) => descendants(r, 'command').length > 0)) continue;
      if (right.some((r) => referencesSecret(r, secret))) {
        secret.add(name);
        changed = true;
      }
    }
  }
  return secret;
}

function referencesSecret(node: Node, secret: Set<string>): boolean {
  let found = false;
  walk(node, (n) => {
    if (found) return;
    if (n.type === 'variable' && secret.has(variableName(n))) found = true;
    if (n.type === 'member_name' && isSecretName(n.text)) found = true;
    if (n.type === 'generic_token' || n.type === 'string_literal') {
      if (
        /\$(\{)?(script:|env:)?[A-Za-z_]*(token|secret|password|apikey|jwt|credential)[A-Za-z_]*/i.test(
          n.text,
        )
      ) {
        const m = n.text.match(/\$\{?(?:script:|env:)?([A-Za-z_][A-Za-z0-9_]*)/gi) ?? [];
        if (m.some((x) => secret.has(x.replace(/^\$\{?(script:|env:)?/i, '').toLowerCase()))) found = true;
      }
    }
  });
  return found;
}

/** Arguments of a command that follow a named parameter (the parameter's value), or all of them. */
function argumentsOf(cmd: Node, param?: RegExp): Node[] {
  const els = commandElements(cmd).filter((e) => e.type !== 'command_argument_sep');
  if (!param) return els;
  const out: Node[] = [];
  for (let i = 0; i < els.length; i++) {
    const e = els[i];
    if (e?.type === 'command_parameter' && param.test(e.text.replace(/:$/, ''))) {
      const v = els[i + 1];
      if (v && v.type !== 'command_parameter') out.push(v);
    }
  }
  return out;
}

export async function lintPowerShell(source: string): Promise<Finding[]> {
  const root = await parsePowerShell(source);
  const findings: Finding[] = [];
  const add = (rule: RuleId, line: number, message: string) => findings.push({ rule, line, message });

  // parse-error
  walk(root, (n) => {
    if (n.type === 'ERROR') add('parse-error', lineOf(n), `syntax error near: ${n.text.slice(0, 60)}`);
    else if (n.isMissing) add('parse-error', lineOf(n), `missing ${n.type}`);
  });

  // ascii-only
  source.split('\n').forEach((line, i) => {
    const bad = [...line].find((ch) => (ch.codePointAt(0) ?? 0) > 0x7f);
    if (bad)
      add(
        'ascii-only',
        i + 1,
        `non-ASCII character U+${(bad.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
      );
  });

  // script-header
  const comments = root.namedChildren.filter((c) => c.type === 'comment').map((c) => c.text);
  if (!comments.some((c) => /^#requires\s+-runasadministrator\s*$/i.test(c)))
    add('script-header', 1, 'missing #Requires -RunAsAdministrator');
  if (!comments.some((c) => /^#requires\s+-version\s+5\.1\s*$/i.test(c)))
    add('script-header', 1, 'missing #Requires -Version 5.1');
  const paramBlock = root.namedChildren.find((c) => c.type === 'param_block');
  if (!paramBlock || !/\[\s*cmdletbinding\s*\(/i.test(paramBlock.text))
    add('script-header', 1, 'missing a script-level [CmdletBinding()] param(...) block');
  const topStatements = root.namedChildren.find((c) => c.type === 'statement_list')?.namedChildren ?? [];
  const eap = topStatements.find((s) => /^\$ErrorActionPreference\s*=\s*'Stop'$/i.test(s.text.trim()));
  if (!eap) add('script-header', 1, "missing a script-level $ErrorActionPreference = 'Stop'");
  else {
    const firstCommand = topStatements.find((s) => descendants(s, 'command').length > 0);
    if (firstCommand && firstCommand.startIndex < eap.startIndex)
      add('script-header', lineOf(eap), "$ErrorActionPreference = 'Stop' must come before the first command");
  }

  // default-api-url-line
  const lines = source.split('\n');
  const marked = lines
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => /\$NoderrDefaultApiUrl\s*=/i.test(l) && !/^\s*#/.test(l));
  const exact = /^\$NoderrDefaultApiUrl = '(https:\/\/[^'\s]+)' {2}# replaced when served by the API$/;
  if (marked.length !== 1)
    add(
      'default-api-url-line',
      marked[1] ? marked[1].i + 1 : 1,
      `expected exactly one assignment to $NoderrDefaultApiUrl, found ${marked.length}`,
    );
  else if (!exact.test(marked[0]?.l ?? ''))
    add(
      'default-api-url-line',
      (marked[0]?.i ?? 0) + 1,
      "the line must read: $NoderrDefaultApiUrl = 'https://…'  # replaced when served by the API",
    );

  // approved-verb
  for (const fn of descendants(root, 'function_statement')) {
    const name = fn.namedChildren.find((c) => c.type === 'function_name')?.text ?? '';
    const m = name.match(/^([A-Za-z]+)-([A-Za-z][A-Za-z0-9]*)$/);
    if (!m) add('approved-verb', lineOf(fn), `function ${name} is not named Verb-Noun`);
    else if (!APPROVED_VERB_SET.has((m[1] ?? '').toLowerCase()))
      add('approved-verb', lineOf(fn), `function ${name}: '${m[1]}' is not an approved verb (Get-Verb)`);
    else if (APPROVED_VERB_SET.get((m[1] ?? '').toLowerCase()) !== m[1])
      add(
        'approved-verb',
        lineOf(fn),
        `function ${name}: write the verb as ${APPROVED_VERB_SET.get((m[1] ?? '').toLowerCase())}`,
      );
  }

  const commands = descendants(root, 'command');

  // no-invoke-expression
  for (const cmd of commands) {
    if (/^(invoke-expression|iex)$/i.test(commandName(cmd).trim()))
      add('no-invoke-expression', lineOf(cmd), `${commandName(cmd)} runs text as code`);
  }
  walk(root, (n) => {
    if (
      n.type === 'type_literal' &&
      /^\[\s*(system\.management\.automation\.)?scriptblock\s*\]$/i.test(n.text)
    ) {
      const member = n.nextNamedSibling;
      if (member?.type === 'member_name' && member.text.toLowerCase() === 'create')
        add('no-invoke-expression', lineOf(n), '[scriptblock]::Create turns text into code');
    }
  });

  // ps51-syntax
  walk(root, (n) => {
    if (n.type === '&&' || n.type === '||')
      add(
        'ps51-syntax',
        lineOf(n),
        `'${n.type}' (pipeline chain) needs PowerShell 7; Windows PowerShell 5.1 rejects it`,
      );
  });

  // secret-on-command-line, secret-in-output
  const secrets = secretVariables(root);
  for (const cmd of commands) {
    const name = commandName(cmd).trim();
    let argv: Node[] = [];
    if (isNativeCommand(cmd)) argv = argumentsOf(cmd);
    else if (ARGV_COMMANDS.test(name)) argv = argumentsOf(cmd);
    else if (NATIVE_WRAPPERS.test(name)) argv = argumentsOf(cmd, WRAPPER_ARGV_PARAMS);
    for (const a of argv) {
      if (referencesSecret(a, secrets))
        add(
          'secret-on-command-line',
          lineOf(a),
          `${name}: '${a.text.slice(0, 60)}' puts a secret on a command line; use stdin or the environment`,
        );
    }
    if (OUTPUT_COMMANDS.test(name)) {
      for (const a of argumentsOf(cmd)) {
        if (referencesSecret(a, secrets))
          add(
            'secret-in-output',
            lineOf(a),
            `${name}: '${a.text.slice(0, 60)}' would print or store a secret`,
          );
      }
    }
  }

  // native-exit-code
  for (const cmd of commands) {
    if (!isNativeCommand(cmd)) continue;
    if (!mentionsVariable(nextStatement(cmd), '$LASTEXITCODE'))
      add(
        'native-exit-code',
        lineOf(cmd),
        `${commandName(cmd)}: the next statement must check $LASTEXITCODE`,
      );
  }

  // native-result-checked
  for (const cmd of commands) {
    const name = commandName(cmd).trim();
    if (!NATIVE_WRAPPERS.test(name)) continue;
    const statement = enclosingStatement(cmd);
    const assign = statement.namedChildren.find((c) => c.type === 'assignment_expression');
    const left = assign?.namedChildren.find((c) => c.type === 'left_assignment_expression');
    const target = left ? unwrap(left) : undefined;
    if (!assign || target?.type !== 'variable') {
      add('native-result-checked', lineOf(cmd), `${name}: assign the result and check its .ExitCode`);
      continue;
    }
    const next = nextStatement(statement);
    const checked =
      next !== undefined &&
      descendants(next, 'member_access').some(
        (m) =>
          m.namedChildren[0]?.text.toLowerCase() === target.text.toLowerCase() && /\.exitcode$/i.test(m.text),
      );
    if (!checked)
      add(
        'native-result-checked',
        lineOf(cmd),
        `${name}: the next statement must check ${target.text}.ExitCode`,
      );
  }

  // web-call-in-try
  for (const cmd of commands) {
    if (!WEB_COMMANDS.test(commandName(cmd).trim())) continue;
    const inTry = ancestors(cmd).some((a, i, all) => {
      const parent = all[i + 1];
      return (
        a.type === 'statement_block' &&
        parent?.type === 'try_statement' &&
        parent.namedChildren[0]?.id === a.id
      );
    });
    if (!inTry)
      add(
        'web-call-in-try',
        lineOf(cmd),
        `${commandName(cmd)} must run inside try { } with its failure handled`,
      );
  }

  return findings.sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule));
}
