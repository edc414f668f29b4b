// A small Python highlighter: one left-to-right scan, HTML-escaped output with <span class="hl-…">.
const PY_KEYWORDS = new Set(("False None True and as assert async await break class continue def del elif else except " +
  "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case").split(" "));
const PY_BUILTINS = new Set(("print len range enumerate zip map filter sorted list dict set tuple int float str bool " +
  "open min max sum abs round isinstance getattr setattr hasattr super type object Exception ValueError KeyError " +
  "TypeError RuntimeError any all iter next reversed repr format self").split(" "));

function escapeHtml(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function highlightPython(source) {
  const token = /(#[^\n]*)|([rRbBuUfF]{0,2}(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?))|(@[A-Za-z_][\w.]*)|(\b\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?\b|\.\d+\b)|([A-Za-z_]\w*)/g;
  let out = "";
  let last = 0;
  let previousWord = "";
  let match;
  while ((match = token.exec(source)) !== null) {
    out += escapeHtml(source.slice(last, match.index));
    last = token.lastIndex;
    const [text, comment, string, decorator, number, word] = match;
    if (comment !== undefined) out += `<span class="hl-com">${escapeHtml(text)}</span>`;
    else if (string !== undefined) out += `<span class="hl-str">${escapeHtml(text)}</span>`;
    else if (decorator !== undefined) out += `<span class="hl-dec">${escapeHtml(text)}</span>`;
    else if (number !== undefined) out += `<span class="hl-num">${escapeHtml(text)}</span>`;
    else if (word !== undefined) {
      if (PY_KEYWORDS.has(word)) out += `<span class="hl-kw">${word}</span>`;
      else if (previousWord === "def" || previousWord === "class") out += `<span class="hl-fn">${word}</span>`;
      else if (PY_BUILTINS.has(word)) out += `<span class="hl-bi">${word}</span>`;
      else out += word;
      previousWord = word;
      continue;
    }
    previousWord = "";
  }
  return out + escapeHtml(source.slice(last));
}
