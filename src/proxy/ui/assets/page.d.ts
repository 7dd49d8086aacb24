/** page.js is the browser's script, imported as text (see text-assets.d.ts), never run here. */
declare const text: string
export default text
