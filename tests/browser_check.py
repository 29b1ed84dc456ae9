#!/usr/bin/env python3
"""Check the HTML report in a real headless browser (Debian's chromium + chromedriver).

Run it with ``make browser-check`` or ``python tests/browser_check.py [--screenshot FILE]``.
It renders the sample report, opens it through chromedriver (the W3C WebDriver protocol,
spoken with the standard library only), and checks what a reader sees:

* the inline script runs under the page's Content-Security-Policy (no violation, no
  console error) and the filter bar appears;
* the charts are drawn: the gauge's arc and each section bar have the size their score
  gives them;
* the filters work when clicked: unticking a section or a severity hides exactly those
  findings and the groups left empty, the counter follows, and the choice is kept in the
  address so a reload restores it;
* a finding message holding ``<script>`` shows as text and adds no script to the page;
* no request leaves the page (only the file itself is loaded).

It saves a screenshot (default ``browser-check.png`` in the temporary folder) and exits 0
when every check passes, 1 otherwise, 2 when chromium or chromedriver is missing. CI has
no browser, so this is not part of ``make test``; the structural test in
``tests/test_reporters_html.py`` checks the same page with an HTML parser.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from checker.reporters import html  # noqa: E402

from _integration_sample import sample_report  # noqa: E402

CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1200,2200",
]


class WebDriver:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.session = ""

    def call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            payload = json.loads(error.read() or b"{}")
            raise RuntimeError(f"{method} {path}: {payload.get('value', payload)}") from None
        return payload.get("value")

    def start(self, user_data_dir: str, binary: str) -> None:
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
            "goog:chromeOptions": {"binary": binary,
                                   "args": CHROME_FLAGS + [f"--user-data-dir={user_data_dir}"]},
        }}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def go(self, url: str) -> None:
        self.call("POST", self.s("/url"), {"url": url})

    def js(self, script: str, *args):
        return self.call("POST", self.s("/execute/sync"), {"script": script, "args": list(args)})

    def find(self, css: str) -> str:
        found = self.call("POST", self.s("/element"), {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def click(self, css: str) -> None:
        self.call("POST", self.s(f"/element/{self.find(css)}/click"), {})

    def displayed(self, css: str) -> bool:
        return bool(self.call("GET", self.s(f"/element/{self.find(css)}/displayed")))

    def logs(self, kind: str) -> list[dict]:
        return self.call("POST", self.s("/se/log"), {"type": kind}) or []

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("GET", self.s("/screenshot")))

    def stop(self) -> None:
        if self.session:
            try:
                self.call("DELETE", self.s(""))
            except Exception:
                pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def __call__(self, name: str, ok: bool, detail: object = "") -> None:
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name}: {detail}")


VISIBLE = ("return Array.from(document.querySelectorAll('.finding'))"
           ".filter(el => el.offsetParent !== null)"
           ".map(el => el.dataset.section + '/' + el.dataset.severity + '/' + el.dataset.rule);")


def run(out: Path, screenshot: Path) -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        print("chromium and chromedriver are needed: apt-get install -y chromium chromium-driver",
              file=sys.stderr)
        return 2

    report = sample_report()
    page = out / "report.html"
    page.write_text(html.render(report), encoding="utf-8")
    url = page.as_uri()
    findings = sorted(f"{report.rules[f.rule].section.value}/{f.severity.label}/{f.rule}"
                      for f in report.findings)

    port = free_port()
    service = subprocess.Popen([driver_bin, f"--port={port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    driver = WebDriver(port)
    check = Checks()
    try:
        for _ in range(100):
            try:
                if driver.call("GET", "/status").get("ready"):
                    break
            except (OSError, RuntimeError):
                pass
            time.sleep(0.1)
        driver.start(str(out / "profile"), chromium)
        driver.go(url)

        print(f"page: {url}")
        check("the filter bar is shown (the script ran under the CSP)",
              driver.displayed("#filters"))
        check("the counter is filled in",
              driver.js("return document.getElementById('shown').textContent;")
              == f"Showing {len(findings)} of {len(findings)} findings",
              driver.js("return document.getElementById('shown').textContent;"))
        check("one script on the page, the inline one",
              driver.js("return Array.from(document.scripts).map(s => [s.src, s.text.length]);")
              == [["", len(html.SCRIPT)]])

        gauge = driver.js(
            "var arc = document.querySelector('svg.gauge .arc');"
            "var r = arc.getBoundingClientRect();"
            "return [arc.getAttribute('stroke-dasharray'), r.width, r.height,"
            " getComputedStyle(arc).stroke];")
        expected_dash = 2 * 3.141592653589793 * 52 * report.score.overall / 100
        check("the gauge arc is drawn with the overall score",
              abs(float(gauge[0].split()[0]) - expected_dash) < 0.01 and gauge[1] > 50
              and gauge[2] > 50 and gauge[3] not in ("none", ""), gauge)
        bars = driver.js(
            "return Array.from(document.querySelectorAll('svg.sections .bar'))"
            ".map(b => b.getBoundingClientRect().width);")
        full = driver.js("return document.querySelector('svg.sections .bar-bg')"
                         ".getBoundingClientRect().width;")
        want = [full * s.score / 100 for s in report.score.sections]
        check("each section bar is as long as its score",
              len(bars) == len(want) and all(abs(a - b) < 1.0 for a, b in zip(bars, want)),
              (bars, want))
        segments = driver.js("return Array.from(document.querySelectorAll('svg.severities .seg'))"
                             ".filter(r => r.getBoundingClientRect().width > 0).length;")
        combos = {(report.rules[f.rule].section, f.severity) for f in report.findings}
        check("the severity chart has a segment per section and severity",
              segments == len(combos), (segments, len(combos)))

        check("every finding is listed at first", sorted(driver.js(VISIBLE)) == findings,
              driver.js(VISIBLE))

        driver.click("input[name=section][value=security]")
        visible = sorted(driver.js(VISIBLE))
        check("unticking Security hides the security findings",
              visible == [f for f in findings if not f.startswith("security/")], visible)
        check("...and their groups",
              not driver.displayed("#rule-hardcoded-secret")
              and driver.displayed("#rule-n-plus-one-query"))
        check("...and the counter follows",
              driver.js("return document.getElementById('shown').textContent;")
              == f"Showing {len(visible)} of {len(findings)} findings")

        driver.click("input[name=severity][value=low]")
        visible = sorted(driver.js(VISIBLE))
        check("unticking low hides the low-severity findings too",
              visible == [f for f in findings
                          if not f.startswith("security/") and "/low/" not in f], visible)
        hash_now = driver.js("return location.hash;")
        check("the choice is kept in the address",
              hash_now == "#section=performance,architecture&severity=critical,high,medium",
              hash_now)

        driver.js("location.reload();")
        time.sleep(0.5)
        check("a reload restores the filtered view", sorted(driver.js(VISIBLE)) == visible,
              driver.js(VISIBLE))
        check("...with the boxes as they were",
              driver.js("return Array.from(document.querySelectorAll('#filters input'))"
                        ".filter(b => !b.checked).map(b => b.value);") == ["security", "low"])

        driver.click("input[name=section][value=security]")
        driver.click("input[name=severity][value=low]")
        check("ticking them again shows everything, the address is clean",
              sorted(driver.js(VISIBLE)) == findings and driver.js("return location.hash;") == "")

        for value in ("security", "performance", "architecture"):
            driver.click(f"input[name=section][value={value}]")
        check("with nothing ticked, a note says nothing matches",
              driver.js(VISIBLE) == [] and driver.displayed("#no-match"))
        for value in ("security", "performance", "architecture"):
            driver.click(f"input[name=section][value={value}]")

        text = driver.js("return document.querySelector('[data-rule=xss-unescaped-output]"
                         " .message').textContent;")
        check("a message with <script> shows as text", "<script>-capable" in text, text)

        console = [entry for entry in driver.logs("browser")
                   if entry.get("level") in ("SEVERE", "WARNING")]
        check("no console errors or CSP violations", console == [], console)
        requests = set()
        for entry in driver.logs("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            # Requests made by the report page (not by the browser's own new-tab page).
            if message.get("method") == "Network.requestWillBeSent" and \
                    params.get("documentURL", "").split("#")[0] == url:
                requests.add(params["request"]["url"])
        check("the page loads nothing but itself",
              {r.split("#")[0] for r in requests} <= {url}, requests)

        driver.js("window.scrollTo(0, 0);")
        screenshot.write_bytes(driver.screenshot())
        print(f"screenshot: {screenshot}")
    except Exception as error:  # a broken page or driver is a failed check, not a crash
        check("browser session", False, error)
    finally:
        driver.stop()
        service.terminate()
        try:
            service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.kill()
    print(f"{check.passed} passed, {check.failed} failed")
    return 1 if check.failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, help="where to save the screenshot")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="checker-browser-") as tmp:
        shot = args.screenshot or Path(tmp) / "browser-check.png"
        code = run(Path(tmp), shot)
        if args.screenshot is None and shot.exists():
            kept = Path(tempfile.gettempdir()) / "browser-check.png"
            shutil.copyfile(shot, kept)
            print(f"screenshot kept at {kept}")
        return code


if __name__ == "__main__":
    sys.exit(main())
