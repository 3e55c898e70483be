"""A minimal Chrome DevTools Protocol driver for headless Debian Chromium (tests only).

Streamlit renders in the browser from a websocket, so ``--dump-dom`` alone can
return the page before the app has drawn; driving the page over CDP lets the
test wait for real content, read the DOM text, click, upload files and take a
screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]

# Shared JavaScript: an element's label without Material icon ligatures or shortcut hints (a button with
# icon=":material/undo:" and shortcut="z" reads "undo\nUndo last answer\nZ" in innerText), and the visible
# elements of a selector.
JS_HELPERS = """
const __label = el => {
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let t = '';
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!n.parentElement.closest('[data-testid="stIconMaterial"], kbd')) t += n.textContent;
  }
  return t.replace(/\\s+/g, ' ').trim();
};
const __visible = sel => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length > 0);
"""


def js(expr: str) -> str:
    """``expr`` evaluated with :data:`JS_HELPERS` in scope (in a function: top-level consts cannot be redeclared)."""
    return f"(() => {{ {JS_HELPERS} return ({expr}); }})()"


def chromium_path() -> str | None:
    """Debian's chromium binary, or ``None`` where it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page, driven over CDP."""

    def __init__(self, width: int = 1400, height: int = 1800, port: int = 9333):
        from websockets.sync.client import connect

        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="factory-chromium-")
        self.proc = subprocess.Popen(
            [
                chromium_path(),
                *FLAGS,
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
                page = next(t for t in targets if t.get("type") == "page")
                break
            except (httpx.HTTPError, StopIteration, ValueError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromium did not open its DevTools port") from None
                time.sleep(0.5)
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=30)
        self.ids = itertools.count(1)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params) -> dict:
        """Send one CDP command and return its result (events in between are skipped)."""
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def goto(self, url: str) -> None:
        """Open ``url`` (a new Streamlit session: its ``st.session_state`` starts empty)."""
        self.call("Page.navigate", url=url)

    def eval(self, expr: str):
        """The value of a JavaScript expression (JSON-able), or ``None`` if it threw."""
        res = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return res.get("result", {}).get("value")

    def wait_for(self, expr: str, timeout: float = 90.0, every: float = 0.5) -> None:
        """Poll a JavaScript condition until it is truthy."""
        deadline = time.monotonic() + timeout
        while not self.eval(expr):
            if time.monotonic() > deadline:
                raise TimeoutError(f"page never satisfied: {expr}\n--- page text ---\n{self.text()[:2000]}")
            time.sleep(every)

    def wait_text(self, *needles: str, timeout: float = 90.0, every: float = 0.5) -> str:
        """Wait until the page text holds every one of ``needles``; return the text at that moment."""
        cond = " && ".join(f"t.includes({json.dumps(n)})" for n in needles)
        self.wait_for(f"(t => {cond})(document.body ? document.body.innerText : '')", timeout, every)
        return self.text()

    def text(self) -> str:
        """The page's visible text (``innerText``: what a person reads, icon ligatures included)."""
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def screenshot(self, path: Path) -> Path:
        """A PNG of the viewport (``width`` x ``height``) written to ``path``."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def _object(self, expr: str, what: str) -> str:
        """The remote object id of the element ``expr`` evaluates to; raise naming ``what`` when there is none."""
        res = self.call("Runtime.evaluate", expression=js(expr))
        obj = res.get("result", {})
        if obj.get("subtype") != "node" or "objectId" not in obj:
            raise LookupError(f"no {what} on the page\n--- page text ---\n{self.text()[:2000]}")
        return obj["objectId"]

    def click_element(self, expr: str, what: str) -> None:
        """Click the middle of the element ``expr`` finds with real mouse events, as a person would."""
        oid = self._object(expr, what)
        # In the middle of the viewport, so that Streamlit's sticky header cannot cover the target.
        self.call(
            "Runtime.callFunctionOn",
            objectId=oid,
            functionDeclaration="function() { this.scrollIntoView({block: 'center', inline: 'center'}); }",
        )
        box = self.call(
            "Runtime.callFunctionOn",
            objectId=oid,
            functionDeclaration="function() { const r = this.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; }",
            returnByValue=True,
        )["result"]["value"]
        x, y = box
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click_button(self, text: str, timeout: float = 60.0) -> None:
        """Click the visible, enabled button (or tab) whose label is ``text``, once one is there."""
        find = (
            f"__visible('button').find(b => !b.disabled && __label(b) === {json.dumps(text)})"
            " || __visible('a[role=button], [role=tab]').find(b => __label(b) === " + json.dumps(text) + ")"
        )
        self.wait_for(js(f"!!({find})"), timeout)
        self.click_element(find, f"button {text!r}")

    def widget(self, testid: str, label: str) -> str:
        """JavaScript for the visible ``data-testid=testid`` widget whose label starts with ``label``."""
        return (
            f"__visible('[data-testid={json.dumps(testid)}]').find(w => {{"
            " const l = w.querySelector('[data-testid=\"stWidgetLabel\"]');"
            f" return l && __label(l).startsWith({json.dumps(label)}); }})"
        )

    def upload(self, label: str, path: Path, timeout: float = 60.0) -> None:
        """Put ``path`` into the ``st.file_uploader`` labelled ``label`` (DOM.setFileInputFiles, as a file chooser)."""
        field = self.widget("stFileUploader", label)
        self.wait_for(js(f"!!({field})"), timeout)
        oid = self._object(f"({field}).querySelector('input[type=file]')", f"file input {label!r}")
        self.call("DOM.setFileInputFiles", files=[str(Path(path).resolve())], objectId=oid)
        # The uploader lists the file by name once Streamlit has it.
        self.wait_for(js(f"(w => !!w && w.innerText.includes({json.dumps(Path(path).name)}))({field})"), timeout)

    def select(self, label: str, option: str, timeout: float = 60.0) -> None:
        """Open the ``st.selectbox`` labelled ``label`` and click the option that starts with ``option``."""
        field = self.widget("stSelectbox", label)
        self.wait_for(js(f"!!({field})"), timeout)
        # Streamlit 1.6x draws a react-aria combobox (its "Open" button lists every option); older ones BaseWeb.
        opener = (
            f"(w => w.querySelector('button[aria-haspopup=listbox]') || w.querySelector('[role=combobox]'))({field})"
        )
        self.click_element(opener, f"selectbox {label!r}")
        pick = f"__visible('[role=option]').find(o => __label(o).startsWith({json.dumps(option)}))"
        self.wait_for(js(f"!!({pick})"), timeout)
        self.click_element(pick, f"option {option!r} of {label!r}")
        deadline = time.monotonic() + timeout
        while not (self.selected(label) or "").startswith(option):
            if time.monotonic() > deadline:
                raise TimeoutError(f"selectbox {label!r} shows {self.selected(label)!r}, not {option!r}")
            time.sleep(0.5)

    def selected(self, label: str) -> str | None:
        """The option the ``st.selectbox`` labelled ``label`` shows (in its input's value, not in the page text)."""
        field = self.widget("stSelectbox", label)
        return self.eval(js(f"(w => w ? ((w.querySelector('input') || {{}}).value || __label(w)) : null)({field})"))

    def scroll_to(self, text: str) -> None:
        """Scroll the innermost element whose text starts with ``text`` to the top of the viewport."""
        found = self.eval(
            js(
                "(all => { if (all.length) all[0].scrollIntoView({block: 'start'}); return all.length; })"
                "([...document.querySelectorAll('body *')].filter(e => e.children.length === 0"
                f" && __label(e).startsWith({json.dumps(text)})))"
            )
        )
        if not found:
            raise LookupError(f"no text {text!r} to scroll to\n--- page text ---\n{self.text()[:2000]}")

    def dataframes(self) -> list[str]:
        """The text of every visible ``st.dataframe``: the grid draws on a canvas, but keeps an accessible table
        of its header and visible rows in the DOM, which ``textContent`` reads (``innerText`` does not)."""
        return self.eval("[...document.querySelectorAll('[data-testid=stDataFrame]')].map(d => d.textContent)") or []

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
