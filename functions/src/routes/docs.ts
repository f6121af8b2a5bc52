import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';

/**
 * `GET /docs`: a self-contained page that renders `/openapi.json` (no CDN: the page must work on an
 * offline dev machine and leak no request to a third party).
 */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>noderr-trust API</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:24px;color:#1b1f24}
h1{margin-top:0}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
.op{border:1px solid #e3e3e3;border-radius:6px;margin:12px 0;padding:8px 12px}
.m{display:inline-block;min-width:64px;font-weight:700;text-transform:uppercase}
.get{color:#0a7}.post{color:#06c}.put{color:#a60}.delete{color:#c22}
code,pre{font:13px ui-monospace,monospace;background:#f6f8fa;border-radius:4px}
pre{padding:8px;overflow:auto;max-height:320px}details summary{cursor:pointer}
</style></head><body><h1>noderr-trust API</h1><p id="info">Loading <a href="/openapi.json">/openapi.json</a>…</p><div id="ops"></div>
<script>
const esc=s=>String(s??'').replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  document.getElementById('info').innerHTML=esc(doc.info.description||'')+' — version '+esc(doc.info.version)+' · <a href="/openapi.json">openapi.json</a>';
  const byTag={};
  for(const [path,item] of Object.entries(doc.paths))for(const [m,op] of Object.entries(item)){
    const t=(op.tags||['other'])[0];(byTag[t]=byTag[t]||[]).push({path,m,op});}
  let html='';
  for(const [tag,ops] of Object.entries(byTag)){html+='<h2>'+esc(tag)+'</h2>';
    for(const {path,m,op} of ops){
      const body=op.requestBody?.content?.['application/json']?.schema;
      html+='<div class="op"><span class="m '+m+'">'+m+'</span> <code>'+esc(path)+'</code> — '+esc(op.summary)
        +(op.description?'<p>'+esc(op.description)+'</p>':'')
        +(body?'<details><summary>request body</summary><pre>'+esc(JSON.stringify(body,null,2))+'</pre></details>':'')
        +'<details><summary>responses</summary><pre>'+esc(JSON.stringify(op.responses,null,2))+'</pre></details></div>';}}
  html+='<h2>schemas</h2><pre>'+esc(JSON.stringify(doc.components?.schemas??{},null,2))+'</pre>';
  document.getElementById('ops').innerHTML=html;
});
</script></body></html>`;

export const docs = new Hono<AppEnv>().get('/', (c) => c.html(PAGE));
