"""Render GitHub-flavoured Markdown the way a PR comment shows it, in headless Chromium, and measure it.

cmark-gfm (GitHub's own Markdown library, via `cmarkgfm`) turns the Markdown into HTML; the page
wraps it in GitHub's Markdown stylesheet (`github-markdown-css`) at the width of a PR comment, opens
every `<details>`, renders the ```mermaid blocks with mermaid.js (as GitHub does) and writes what it
measured into the DOM, which `chromium --headless --dump-dom` prints.  No browser driver library:
the measurement script is the page's own.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import cmarkgfm  # type: ignore[import-untyped]
from cmarkgfm.cmark import Options  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
CSS = NODE_MODULES / "github-markdown-css" / "github-markdown-light.css"
MERMAID = NODE_MODULES / "mermaid" / "dist" / "mermaid.min.js"
# The width issue 12 measured a PR comment at; the comment body has GitHub's 16 px padding inside it.
PR_COMMENT_WIDTH = 880
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]

_MEASURE = """
(async () => {
  const out = {errors: [], overflow: [], diagrams: [], pageScrollWidth: 0, bodyWidth: 0};
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const blocks = [...document.querySelectorAll('pre[lang="mermaid"], pre > code.language-mermaid')];
  const nodes = blocks.map(block => {
    const pre = block.tagName === 'PRE' ? block : block.parentElement;
    const div = document.createElement('div');
    div.className = 'mermaid';
    div.textContent = pre.textContent;
    pre.replaceWith(div);
    return div;
  });
  try {
    mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});
    if (nodes.length) await mermaid.run({nodes, suppressErrors: false});
  } catch (e) { out.errors.push(String(e && e.message || e)); }
  const body = document.querySelector('.markdown-body');
  const right = body.getBoundingClientRect().right;
  out.bodyWidth = body.clientWidth;
  out.pageScrollWidth = document.documentElement.scrollWidth;
  for (const el of body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    const scrolls = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible';
    if (box.width && (box.right > right + 1 || scrolls)) {
      out.overflow.push({tag: el.tagName.toLowerCase(), right: Math.round(box.right),
                         scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
                         text: (el.textContent || '').slice(0, 80)});
    }
  }
  for (const div of nodes) {
    const svg = div.querySelector('svg');
    out.diagrams.push(svg ? {rendered: svg.getBoundingClientRect().width,
                             natural: parseFloat(svg.style.maxWidth) || svg.getBoundingClientRect().width,
                             labels: [...svg.querySelectorAll('.nodeLabel')].map(n => n.textContent)}
                          : {rendered: 0, natural: 0, labels: [], text: div.textContent.slice(0, 200)});
  }
  const pre = document.createElement('pre');
  pre.id = 'gate-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise AssertionError("Chromium is not installed: `apt-get install chromium` (.ci/run installs it)")
    return path


def markdown_to_html(markdown: str) -> str:
    """GitHub's renderer; raw HTML kept (GitHub allows <details>, <summary>, <code>, <b>, <br>)."""
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))


def render(markdown: str, width: int = PR_COMMENT_WIDTH) -> dict[str, Any]:
    """What the browser measured: overflowing elements, page width, rendered diagrams, errors."""
    for asset in (CSS, MERMAID):
        if not asset.is_file():
            raise AssertionError(f"{asset} is missing: run `make setup` (npm ci)")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="{CSS.as_uri()}">
<style>body {{ margin: 0; }} .markdown-body {{ box-sizing: border-box; width: {width}px; padding: 16px; }}</style>
</head><body><article class="markdown-body">{markdown_to_html(markdown)}</article>
<script src="{MERMAID.as_uri()}"></script><script>{_MEASURE}</script></body></html>"""
    with tempfile.TemporaryDirectory(prefix="gate-md-") as tmp:
        page_path = Path(tmp) / "comment.html"
        page_path.write_text(page, encoding="utf-8")
        result = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={width},2000",
             "--virtual-time-budget=30000", "--dump-dom", page_path.as_uri()],
            capture_output=True, text=True, timeout=180, check=False,
        )
    match = re.search(r'<pre id="gate-measure">(.*?)</pre>', result.stdout, re.S)
    if match is None:
        raise AssertionError(f"the page wrote no measurement (exit {result.returncode}); "
                             f"stderr: {result.stderr[-2000:]}")
    return dict(json.loads(html.unescape(match.group(1))))
