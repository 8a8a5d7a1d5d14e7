"""Checks that the browser tests run inside a page."""

from __future__ import annotations

__all__ = ["BROKEN_WORDS_JS"]

# Words (split at spaces, hyphens, slashes and dashes; up to 24 characters, so a path may
# wrap) that the browser broke across two lines.
BROKEN_WORDS_JS = r"""() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent, re = /[^\s\-\/\u2013\u2014]+/g;
    let m;
    while ((m = re.exec(text))) {
      if (m[0].length > 24) continue;
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const rows = new Set([...r.getClientRects()].filter((q) => q.width > 0)
                           .map((q) => Math.round(q.top)));
      if (rows.size > 1) out.push(m[0]);
    }
  }
  return out;
}"""
