import { Parser, Language } from 'web-tree-sitter';
import { readFileSync } from 'node:fs';
await Parser.init();
const lang = await Language.load(readFileSync('node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm'));
const p = new Parser(); p.setLanguage(lang);
const src = readFileSync(process.argv[2], 'utf8');
const t = p.parse(src);
function dump(n, d=0){ if(d>40)return; console.log(' '.repeat(d)+n.type+(n.childCount===0?' '+JSON.stringify(n.text):'')+(n.isMissing?' MISSING':'')); for(const c of n.children) dump(c,d+1);}
dump(t.rootNode);
