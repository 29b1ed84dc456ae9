"""The HTML report's stylesheet and script, inlined into every page.

They live here as Python strings (not as .css/.js files) so that any install of the
package carries them, and the page needs nothing from the network or the disk when viewed.
"""

STYLE = """
:root {
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
  --critical: #8e1b1b; --high: #c62828; --medium: #e08a00; --low: #1f6feb; --info: #6e7781;
  --A: #2e7d32; --B: #689f38; --C: #c49000; --D: #ef6c00; --F: #c62828; --na: #8c959f;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --panel: #151b23; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
.muted, .meta { color: var(--muted); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.chart { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.chart h3 { margin: 0 0 8px; font-size: 14px; color: var(--muted); font-weight: 600; }
svg text { fill: var(--fg); font-family: inherit; }
svg .track { fill: none; stroke: var(--line); }
svg .bar-bg { fill: var(--line); opacity: .5; }
.grade-A { fill: var(--A); stroke: var(--A); } .grade-B { fill: var(--B); stroke: var(--B); }
.grade-C { fill: var(--C); stroke: var(--C); } .grade-D { fill: var(--D); stroke: var(--D); }
.grade-F { fill: var(--F); stroke: var(--F); } .grade-na { fill: var(--na); stroke: var(--na); }
svg .arc { fill: none; }
.sev-critical { fill: var(--critical); background: var(--critical); }
.sev-high { fill: var(--high); background: var(--high); }
.sev-medium { fill: var(--medium); background: var(--medium); }
.sev-low { fill: var(--low); background: var(--low); }
.sev-info { fill: var(--info); background: var(--info); }
.facts { margin: 8px 0 0; }
.diff { margin: 8px 0 0; font-weight: 600; }
.diff .down { color: var(--F); } .diff .up { color: var(--A); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.checklist { table-layout: fixed; }
col.c-status { width: 150px; } col.c-rule { width: 230px; } col.c-result { width: 250px; }
td code { overflow-wrap: anywhere; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
.status { white-space: nowrap; font-weight: 600; }
.status-passed { color: var(--A); } .status-failed { color: var(--F); }
.status-not-applicable, .status-disabled { color: var(--muted); } .status-manual-review { color: var(--low); }
form#filters { position: sticky; top: 0; z-index: 2; background: var(--bg); padding: 10px 0;
               border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 8px 24px; }
form#filters fieldset { border: 0; margin: 0; padding: 0; display: flex; gap: 12px; flex-wrap: wrap; }
form#filters legend { font-weight: 600; float: left; margin-right: 8px; }
form#filters label { cursor: pointer; white-space: nowrap; }
#shown { color: var(--muted); margin-left: auto; }
.group h3 .slug { font-weight: normal; color: var(--muted); }
.finding { border: 1px solid var(--line); border-radius: 8px; margin: 10px 0; padding: 10px 14px; background: var(--panel); }
.finding header { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; }
.badge { display: inline-block; color: #fff; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; text-transform: uppercase; }
.where { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.message { margin: 6px 0; white-space: pre-line; }
.related { margin: 4px 0; padding-left: 18px; font-size: 13px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; overflow-x: auto; margin: 6px 0 0; }
.lineno { color: var(--muted); user-select: none; display: inline-block; min-width: 3ch; text-align: right; margin-right: 1.5ch; }
.empty { color: var(--muted); font-style: italic; }
[hidden] { display: none !important; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"""

SCRIPT = """
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  var findings = Array.prototype.slice.call(document.querySelectorAll(".finding"));
  var groups = Array.prototype.slice.call(document.querySelectorAll(".group"));
  var shown = document.getElementById("shown");
  var none = document.getElementById("no-match");

  function boxes(name) {
    return Array.prototype.slice.call(form.querySelectorAll("input[name='" + name + "']"));
  }
  function chosen(name) {
    var set = {};
    boxes(name).forEach(function (box) { if (box.checked) { set[box.value] = true; } });
    return set;
  }
  function readHash() {
    var hash = window.location.hash.replace(/^#/, "");
    if (!hash) { return; }
    hash.split("&").forEach(function (part) {
      var pair = part.split("=");
      var name = decodeURIComponent(pair[0] || "");
      if (name !== "section" && name !== "severity") { return; }
      var wanted = (pair[1] ? decodeURIComponent(pair[1]) : "").split(",");
      boxes(name).forEach(function (box) { box.checked = wanted.indexOf(box.value) !== -1; });
    });
  }
  function writeHash() {
    var parts = [];
    ["section", "severity"].forEach(function (name) {
      var all = boxes(name), on = all.filter(function (b) { return b.checked; });
      if (on.length !== all.length) {
        parts.push(name + "=" + on.map(function (b) { return encodeURIComponent(b.value); }).join(","));
      }
    });
    if (window.history && window.history.replaceState) {
      var url = window.location.pathname + window.location.search;
      window.history.replaceState(null, "", parts.length ? url + "#" + parts.join("&") : url);
    }
  }
  function apply() {
    var sections = chosen("section"), severities = chosen("severity"), count = 0;
    findings.forEach(function (el) {
      var visible = !!sections[el.getAttribute("data-section")] &&
                    !!severities[el.getAttribute("data-severity")];
      el.hidden = !visible;
      if (visible) { count += 1; }
    });
    groups.forEach(function (group) {
      group.hidden = !group.querySelector(".finding:not([hidden])");
    });
    shown.textContent = "Showing " + count + " of " + findings.length + " findings";
    if (none) { none.hidden = count !== 0 || findings.length === 0; }
    document.body.setAttribute("data-shown", String(count));
  }
  readHash();
  form.hidden = false;
  form.addEventListener("change", function () { apply(); writeHash(); });
  apply();
})();
"""
