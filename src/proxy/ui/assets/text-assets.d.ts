// The status page's files are imported as text (`with { type: 'text' }`): Bun and Deno inline
// them, vitest.config.ts loads them the same way.
declare module '*.html' {
  const text: string
  export default text
}
declare module '*.css' {
  const text: string
  export default text
}
