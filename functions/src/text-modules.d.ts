/** Text modules embedded by wrangler's `[[rules]] type = "Text"` (see wrangler.toml). */
declare module '*.sh' {
  const text: string;
  export default text;
}
declare module '*.ps1' {
  const text: string;
  export default text;
}
