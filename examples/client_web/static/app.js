// The credit-score web page: the form comes from GET /api/form (the model's v2 metadata plus
// the artifact spec), a submit goes to POST /api/score. No build step, no framework.
"use strict";

const $ = (id) => document.getElementById(id);
let FORM = null;

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fieldControl(f) {
  if (f.categories.length) {
    const s = el("select", { id: "in-" + f.name, name: f.name, "data-kind": f.kind });
    s.appendChild(el("option", { value: "" }, f.required ? "— choose —" : "(missing)"));
    for (const c of f.categories) s.appendChild(el("option", { value: c }, c));
    return s;
  }
  if (f.kind === "numeric") {
    // min/max are shown as hints, not enforced by the browser: the predictor is the judge.
    return el("input", { id: "in-" + f.name, name: f.name, type: "number", inputmode: "decimal",
                         step: f.integer ? "1" : "any", "data-kind": f.kind });
  }
  return el("input", { id: "in-" + f.name, name: f.name, type: "text", "data-kind": f.kind });
}

function render(form) {
  FORM = form;
  const box = $("fields");
  box.replaceChildren();
  for (const f of form.fields) {
    const div = el("div", { class: "field", id: "field-" + f.name, "data-name": f.name });
    div.appendChild(el("label", { for: "in-" + f.name }, f.label));
    div.appendChild(fieldControl(f));
    const hint = [f.hint, f.required ? null : "may be left empty"].filter(Boolean).join(", ");
    if (hint) div.appendChild(el("div", { class: "hint" }, hint));
    const err = el("p", { class: "error", id: "err-" + f.name, role: "alert" });
    err.hidden = true;
    div.appendChild(err);
    box.appendChild(div);
  }
  const versions = form.metadata_versions.length ? " (versions " + form.metadata_versions.join(", ") + ")" : "";
  $("model-line").textContent = `Model ${form.model_name}${versions} at ${form.predictor_url} · ` +
    `${form.fields.length} inputs · categories and ranges from ${form.spec_source}`;
}

function clearErrors() {
  for (const p of document.querySelectorAll(".field .error")) { p.hidden = true; p.textContent = ""; }
  for (const d of document.querySelectorAll(".field.invalid")) d.classList.remove("invalid");
  $("form-error").hidden = true;
}

function showError(body) {
  const field = body.input ? $("field-" + body.input) : null;
  if (field) {
    field.classList.add("invalid");
    const p = $("err-" + body.input);
    p.textContent = body.error;
    p.hidden = false;
    $("in-" + body.input).focus();
  } else {
    $("form-error").textContent = body.error || "request failed";
    $("form-error").hidden = false;
  }
}

function showResult(r) {
  $("decision").textContent = r.decision;
  $("decision").className = "big decision-" + r.decision;
  $("score").textContent = r.score;
  $("pd").textContent = (100 * r.probability_of_default).toFixed(1) + " %";
  const ol = $("reasons");
  ol.replaceChildren();
  for (const x of r.reasons) {
    const li = el("li", { "data-code": x.code || "", "data-feature": x.feature || "" }, x.reason);
    if (x.code) li.appendChild(el("span", { class: "muted" }, ` (${x.code})`));
    ol.appendChild(li);
  }
  $("no-reasons").hidden = r.reasons.length > 0;
  $("model-name").textContent = r.model.name || "?";
  $("model-version").textContent = r.model.version || "?";
  $("artifact-digest").textContent = r.model.artifact_digest || "?";
  $("result").hidden = false;
}

async function submit(ev) {
  ev.preventDefault();
  clearErrors();
  $("result").hidden = true;
  const values = {};
  for (const f of FORM.fields) {
    const v = $("in-" + f.name).value.trim();
    values[f.name] = v === "" ? null : v;
  }
  $("busy").hidden = false;
  $("submit").disabled = true;
  try {
    const r = await fetch("/api/score", { method: "POST", headers: { "content-type": "application/json" },
                                          body: JSON.stringify({ values }) });
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (r.ok) showResult(body); else showError(body);
  } catch (e) {
    showError({ error: "the web client's server cannot be reached: " + e });
  } finally {
    $("busy").hidden = true;
    $("submit").disabled = false;
  }
}

function fillExample() {
  for (const f of FORM.fields) if (f.example !== null && f.example !== undefined) $("in-" + f.name).value = f.example;
}

async function main() {
  $("applicant").addEventListener("submit", submit);
  $("example").addEventListener("click", fillExample);
  try {
    const r = await fetch("/api/form");
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    render(body);
    document.body.dataset.ready = "true";
  } catch (e) {
    $("model-line").textContent = "cannot load the model's inputs: " + e.message;
    document.body.dataset.ready = "error";
  }
}

main();
